"""The one record every dataset reader yields: a trial's signals per modality, its labels and who it belongs to."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from models.transforms import fit_normalisation, normalise


@dataclass(frozen=True)
class Signal:
    """Samples of one modality: data (n_samples, n_channels) at ``rate`` Hz, channels named.

    ``timestamps`` (s from the trial's start) is set for irregular samples (face frames where a
    face was found); otherwise sample i is at i / rate.
    """

    data: np.ndarray
    rate: float
    channels: tuple[str, ...]
    timestamps: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"signal data must be 2-D (samples, channels), got {self.data.shape}")
        if len(self.channels) != self.data.shape[1]:
            raise ValueError(f"{len(self.channels)} channel names for {self.data.shape[1]} columns")
        if self.rate <= 0:
            raise ValueError(f"sampling rate must be positive, got {self.rate}")
        if self.timestamps is not None and len(self.timestamps) != self.data.shape[0]:
            raise ValueError(f"{len(self.timestamps)} timestamps for {self.data.shape[0]} samples")

    @property
    def duration(self) -> float:
        return self.data.shape[0] / self.rate if self.timestamps is None else float("inf")

    def select(self, names: tuple[str, ...] | list[str], source: str = "") -> np.ndarray:
        """Columns in the order of ``names`` (matched by name, never by position)."""
        index = {c: i for i, c in enumerate(self.channels)}
        missing = [n for n in names if n not in index]
        if missing:
            raise KeyError(f"{source or 'signal'} lacks channels: {', '.join(missing)}")
        return self.data[:, [index[n] for n in names]]


@dataclass(frozen=True)
class VideoRef:
    """A face video on disk (read lazily): path, frame rate, and the stimulus frames when known."""

    path: Path
    fps: float
    first_frame: int = 0
    last_frame: int | None = None


@dataclass
class Trial:
    """One stimulus presentation of one subject.

    ``ratings`` holds trial-level labels (self-reports on 1-9 scales, or ``emotion`` class for
    SEED-V); ``traces`` holds continuous labels (e.g. valence in -1..1 at 4 Hz) as 1-column
    Signals. Every signal starts at the same instant (time 0 = stimulus onset unless stated).
    """

    dataset: str
    subject: str
    trial: str
    signals: dict[str, Signal]
    ratings: dict[str, float] = field(default_factory=dict)
    traces: dict[str, Signal] = field(default_factory=dict)
    videos: dict[str, VideoRef] = field(default_factory=dict)
    session: int | None = None
    block: int | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.trial}"

    @property
    def duration(self) -> float:
        """Seconds covered by every signal and trace (the shortest of them)."""
        spans = [s.duration for s in self.signals.values()] + [s.duration for s in self.traces.values()]
        return min(spans) if spans else 0.0


def as_run_saw_them(trials: list[Trial], train: dict[str, Any], modalities: list[str]) -> list[Trial]:
    """``trials`` as read, standardised per subject when the run's training settings ``train`` say so."""
    if train.get("normalise", "train") == "subject":
        return standardise_per_subject(trials, modalities)
    return trials


def standardise_per_subject(trials: list[Trial], modalities: list[str]) -> list[Trial]:
    """Each subject's signals z-scored with that subject's own mean and std over all its trials (labels unused).

    Transductive for a test subject (its unlabelled features are seen before testing), so a declared option
    (``--set normalise=subject``), as in the reference code of the LSTM baseline; live, the statistics come
    from the subject's calibration baseline (``calibration adapt --mode normalise``)."""
    by_subject: dict[str, list[int]] = {}
    for i, trial in enumerate(trials):
        by_subject.setdefault(trial.subject, []).append(i)
    out = list(trials)
    for indices in by_subject.values():
        for modality in modalities:
            rows = np.concatenate([trials[i].signals[modality].data for i in indices if modality in trials[i].signals])
            stats = fit_normalisation(rows)
            for i in indices:
                signal = out[i].signals.get(modality)
                if signal is not None:
                    out[i] = replace(out[i], signals={**out[i].signals, modality: replace(
                        signal, data=normalise(signal.data.astype(np.float64), stats).astype(np.float32))})
    return out
