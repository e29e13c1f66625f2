"""BioSemi BDF files (DEAP originals, MAHNOB-HCI): signals by name and the decoded Status channel.

The Status channel's low byte carries the stimulus codes; its upper bits hold amplifier flags,
so codes are ``digital & 0xFF``. Some files label it "" or "-1": then the last channel is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from offline.datasets.reader import DatasetError


@dataclass(frozen=True)
class BdfRecording:
    """Physical signals (n_samples, n_channels) of the channels sharing the main rate, and Status codes."""

    data: np.ndarray
    rate: float
    channels: tuple[str, ...]
    status: np.ndarray

    def select(self, names: tuple[str, ...], path: Path) -> np.ndarray:
        index = {c.strip().lower(): i for i, c in enumerate(self.channels)}
        missing = [n for n in names if n.lower() not in index]
        if missing:
            raise DatasetError(f"{path}: missing channels {', '.join(missing)}")
        return self.data[:, [index[n.lower()] for n in names]]


def read_bdf(path: Path) -> BdfRecording:
    """Read a BDF file; a missing, truncated or Status-less file is a DatasetError naming it."""
    import edfio

    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        bdf = edfio.read_bdf(path)
        signals = list(bdf.signals)
    except Exception as exc:  # edfio raises several types on damaged headers or records
        raise DatasetError(f"{path}: not a readable BDF file ({type(exc).__name__}: {exc})") from exc
    labels = [s.label.strip() for s in signals]
    status_at = next((i for i, label in enumerate(labels) if label.lower() == "status"), None)
    if status_at is None and labels and labels[-1] in ("", "-1"):
        status_at = len(labels) - 1
    if status_at is None:
        raise DatasetError(f"{path}: no Status channel (labels: {', '.join(labels)})")
    status = np.asarray(signals[status_at].digital, dtype=np.int64) & 0xFF
    rate = float(signals[status_at].sampling_frequency)
    if not (np.isfinite(rate) and rate > 0) or not status.size:
        raise DatasetError(f"{path}: Status channel has {status.size} samples at {rate} Hz (damaged header?)")
    keep = [i for i, s in enumerate(signals) if i != status_at and float(s.sampling_frequency) == rate]
    if not keep:
        raise DatasetError(f"{path}: no signal is sampled at the Status channel's rate ({rate} Hz)")
    columns = [np.asarray(signals[i].data, dtype=np.float32) for i in keep]
    if any(len(column) != len(status) for column in columns):
        raise DatasetError(f"{path}: signals at {rate} Hz differ in length from Status (damaged header?)")
    data = np.stack(columns, axis=1)
    return BdfRecording(data, rate, tuple(labels[i] for i in keep), status)


def code_onsets(status: np.ndarray, code: int | None = None) -> np.ndarray:
    """Sample indices where a run of ``code`` (or of any non-zero code when None) starts."""
    active = status != 0 if code is None else status == code
    starts = np.flatnonzero(np.diff(active.astype(np.int8)) == 1) + 1
    return np.concatenate([[0], starts]) if active[0] else starts
