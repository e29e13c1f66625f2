"""Cut trials into model inputs by time, through the same ``models.transforms.compute_features`` as live.

A window is defined by the instant it ends: every modality contributes the samples before that
instant (as much as its transform looks back), with timestamps on the trial's clock (sample i
at i / rate), exactly what the live ring buffers hand to the inference worker. Ends run from
the first instant every modality can fill to the trial's end, ``hop`` seconds apart, the last
one at the trial's end so no step is left uncovered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.contracts import ModalityWindow, ModelSpec
from models.transforms import compute_features, fit_normalisation, get_transform, n_steps, normalise
from offline.trials import Trial

#: A rating at or above this is "high" (DEAP and MAHNOB 1-9 scales); ModelSpec documents the same rule.
HIGH_THRESHOLD = 5.0


@dataclass
class WindowSet:
    """Model inputs (modality -> (N, steps, dim)), targets and where each window came from."""

    inputs: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]  # (N,) int64 classes or (N, steps) float32 continuous
    trial: np.ndarray  # (N,) index into the trial list
    start_step: np.ndarray  # (N,) label-grid step of the window's first output step (continuous targets)

    def __len__(self) -> int:
        return int(self.trial.size)

    def subset(self, mask: np.ndarray) -> WindowSet:
        return WindowSet({k: v[mask] for k, v in self.inputs.items()}, {k: v[mask] for k, v in self.targets.items()},
                         self.trial[mask], self.start_step[mask])

    def normalisation_stats(self) -> dict[str, dict[str, list[float]]]:
        """Mean and std of every input over these windows (``models.transforms.fit_normalisation``), to normalise by."""
        return {m: fit_normalisation(v) for m, v in self.inputs.items()}

    def normalised(self, stats: dict[str, dict[str, list[float]]]) -> WindowSet:
        """The same windows with every input normalised by ``stats`` (per modality; ``models.transforms.normalise``)."""
        return WindowSet({m: normalise(v, stats[m]).astype(np.float32) for m, v in self.inputs.items()}, self.targets,
                         self.trial, self.start_step)


def is_classification(kind: str) -> bool:
    return kind != "continuous"


def trial_class(trial: Trial, target: str, kind: str) -> int:
    """The class of a trial for a classification target ("binary": rating >= 5; otherwise the rating as a class)."""
    if target not in trial.ratings:
        raise KeyError(f"trial {trial.key} ({trial.source}) has no {target!r} rating")
    value = trial.ratings[target]
    return int(value >= HIGH_THRESHOLD) if kind == "binary" else int(value)


def _span(trial: Trial, modalities: list[str]) -> float:
    """Seconds the model's inputs cover: the shortest regular signal; when every input is irregular (timestamped
    frames, which have no length of their own), up to the newest frame every input has."""
    signals = [trial.signals[m] for m in modalities if m in trial.signals]
    regular = [s.duration for s in signals if s.timestamps is None]
    if regular:
        return min(regular)
    stamps = [s.timestamps for s in signals if s.timestamps is not None]  # every input's, as none is regular
    return min((float(t[-1]) if t.size else 0.0 for t in stamps), default=0.0)


def window_ends(trial: Trial, spec: ModelSpec, hop_seconds: float) -> np.ndarray:
    """Window end instants (s from trial start) for ``trial``; empty when the trial is shorter than a window."""
    lookback = max(get_transform(i.transform).lookback_seconds(i) for i in spec.inputs.values())
    duration = _span(trial, list(spec.inputs))
    if duration + 1e-9 < lookback:
        return np.zeros(0)
    ends = np.arange(lookback, duration + 1e-9, hop_seconds)
    if duration - ends[-1] > 1e-6:
        ends = np.append(ends, duration)
    return ends


def _modality_window(trial: Trial, modality: str, end: float, lookback: float) -> ModalityWindow:
    signal = trial.signals[modality]
    if signal.timestamps is not None:  # irregular frames: those in (end - lookback, end]
        rows = np.flatnonzero((signal.timestamps > end - lookback - 1e-9) & (signal.timestamps <= end + 1e-9))
        return ModalityWindow(signal.data[rows], signal.timestamps[rows], signal.rate, signal.channels)
    stop = round(end * signal.rate)
    start = max(0, stop - int(np.ceil(lookback * signal.rate)))
    data = signal.data[start:stop]
    timestamps = np.arange(start, stop) / signal.rate
    return ModalityWindow(data, timestamps, signal.rate, signal.channels)


def _last_instant(trial: Trial, end: float) -> float:
    """The window's end on the trial clock: the newest regular sample before ``end`` (as a live buffer has it)."""
    rates = [s.rate for s in trial.signals.values() if s.timestamps is None]
    return (round(end * max(rates)) - 1) / max(rates) if rates else end


def cut_trial(trial: Trial, spec: ModelSpec, hop_seconds: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Features of every window of one trial: (modality -> (n_windows, steps, dim), window ends)."""
    missing = [m for m, i in spec.inputs.items() if i.required and m not in trial.signals]
    if missing:
        raise KeyError(f"trial {trial.key} ({trial.source}) has no {', '.join(missing)} signal for this model")
    ends = window_ends(trial, spec, hop_seconds)
    out: dict[str, list[np.ndarray]] = {m: [] for m in spec.inputs}
    for end in ends:
        for modality, inp in spec.inputs.items():
            lookback = get_transform(inp.transform).lookback_seconds(inp)
            window = _modality_window(trial, modality, end, lookback)
            try:
                out[modality].append(compute_features(inp, window, t_end=_last_instant(trial, end)))
            except Exception as exc:
                raise type(exc)(f"trial {trial.key} ({trial.source}), window ending at {end:.2f} s: {exc}") from exc
    return {m: np.stack(v) if v else np.zeros((0, 0, 0), np.float32) for m, v in out.items()}, ends


def _output_grid(spec: ModelSpec) -> tuple[int, float]:
    """(steps, rate) of the per-step outputs: the shared grid of the inputs."""
    grids = {(n_steps(i), i.rate) for i in spec.inputs.values()}
    if len(grids) != 1:
        raise ValueError(f"continuous targets need every input on one step grid, got {sorted(grids)}")
    return grids.pop()


def make_windows(trials: list[Trial], indices: Sequence[int], spec: ModelSpec,
                 hop_seconds: float) -> WindowSet:
    """Windows of the trials at ``indices``, with targets from each trial's ratings or traces."""
    inputs: dict[str, list[np.ndarray]] = {m: [] for m in spec.inputs}
    targets: dict[str, list[np.ndarray]] = {t: [] for t in spec.targets}
    trial_of, starts = [], []
    for index in indices:
        trial = trials[index]
        features, ends = cut_trial(trial, spec, hop_seconds)
        if not len(ends):
            continue
        for m, f in features.items():
            inputs[m].append(f)
        trial_of.append(np.full(len(ends), index))
        first = np.zeros(len(ends), dtype=np.int64)
        for target, kind in spec.targets.items():
            if is_classification(kind):
                targets[target].append(np.full(len(ends), trial_class(trial, target, kind), dtype=np.int64))
                continue
            steps, rate = _output_grid(spec)
            trace = trial.traces.get(target)
            if trace is None:
                raise KeyError(f"trial {trial.key} ({trial.source}) has no continuous {target!r} trace")
            if abs(trace.rate - rate) > 1e-9:
                raise ValueError(f"{target} trace at {trace.rate:g} Hz, model steps at {rate:g} Hz")
            first = np.round(ends * rate).astype(np.int64) - steps
            rows = first[:, None] + np.arange(steps)[None, :]
            targets[target].append(trace.data[np.clip(rows, 0, trace.data.shape[0] - 1), 0].astype(np.float32))
        starts.append(first)
    if not trial_of:
        raise ValueError("no trial is long enough for one window of this model")
    return WindowSet(
        {m: np.concatenate(v) for m, v in inputs.items()},
        {t: np.concatenate(v) for t, v in targets.items()},
        np.concatenate(trial_of),
        np.concatenate(starts),
    )
