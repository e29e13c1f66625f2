"""SEED-V features: ``EEG_DE_features/{s}_123.npz`` (DE, 310-d) and ``Eye_movement_features/{s}_123.npz`` (33-d).

Each npz holds ``data`` and ``label``: 0-d bytes arrays of pickled dicts keyed 0-44 (15 trials per
session, 3 sessions), read with the restricted unpickler. Windows are 4 s, non-overlapping
(0.25 Hz). Eye windows can outnumber or undercount EEG windows slightly: both are truncated to
the shorter. The 310 DE columns are taken as 62 channels x 5 bands, channel-major.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.channels import SEEDV_CHANNELS as CHANNELS
from offline.datasets.pickles import loads
from offline.datasets.reader import DatasetError, FunctionReader, numeric_array
from offline.trials import Signal, Trial

RATE = 0.25
BANDS = ("delta", "theta", "alpha", "beta", "gamma")
DE_NAMES = tuple(f"{c}_{b}" for c in CHANNELS for b in BANDS)
EYE_NAMES = tuple(f"eye_{i:02d}" for i in range(33))
EMOTIONS = ("disgust", "fear", "sad", "neutral", "happy")
TRIALS_PER_SESSION, SESSIONS, TRIALS_PER_BLOCK = 15, 3, 5
SESSION_ORDER = {
    1: (4, 1, 3, 2, 0, 4, 1, 3, 2, 0, 4, 1, 3, 2, 0),
    2: (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0),
    3: (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0),
}


def _read_npz(path: Path) -> tuple[dict[Any, Any], dict[Any, Any]]:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = {key: npz[key] for key in ("data", "label")}
    except KeyError as exc:
        raise DatasetError(f"{path}: missing key {exc}") from exc
    except Exception as exc:  # zipfile/ValueError on damaged archives
        raise DatasetError(f"{path}: not a readable npz file ({type(exc).__name__}: {exc})") from exc
    data, label = (loads(raw[k].tobytes(), path) for k in ("data", "label"))
    if not isinstance(data, dict) or not isinstance(label, dict):
        raise DatasetError(f"{path}: 'data' and 'label' must hold pickled dicts")
    expected = set(range(TRIALS_PER_SESSION * SESSIONS))
    if set(data) != expected or set(label) != expected:
        raise DatasetError(f"{path}: dict keys must be 0..{len(expected) - 1}")
    return data, label


def _subject_number(path: Path) -> int:
    """The subject a feature file is named after ("3_123.npz" -> 3), else an error naming the file."""
    number = path.stem.split("_")[0]
    if not (number.isascii() and number.isdigit()):
        raise DatasetError(f"{path}: not named {{subject number}}_123.npz")
    return int(number)


def read_seedv(root: Path, subjects: list[str] | None = None) -> list[Trial]:
    """45 trials per subject (3 sessions x 3 blocks x 5 emotions) with EEG DE and eye features."""
    root = Path(root)
    eeg_files = sorted((root / "EEG_DE_features").glob("*_123.npz"), key=_subject_number)
    if not eeg_files:
        raise DatasetError(f"{root / 'EEG_DE_features'}: no {{subject}}_123.npz files")
    trials = []
    for eeg_path in eeg_files:
        subject = f"S{_subject_number(eeg_path):02d}"
        if subjects and subject not in subjects:
            continue
        eye_path = root / "Eye_movement_features" / eeg_path.name
        eeg, eeg_label = _read_npz(eeg_path)
        eye, _ = _read_npz(eye_path)
        for k in range(TRIALS_PER_SESSION * SESSIONS):
            de = numeric_array(eeg[k], f"{eeg_path}: trial {k}").astype(np.float32)
            em = numeric_array(eye[k], f"{eye_path}: trial {k}").astype(np.float32)
            if de.ndim != 2 or de.shape[1] != len(DE_NAMES):
                raise DatasetError(f"{eeg_path}: trial {k} has shape {de.shape}, expected (n, {len(DE_NAMES)})")
            if em.ndim != 2 or em.shape[1] != len(EYE_NAMES):
                raise DatasetError(f"{eye_path}: trial {k} has shape {em.shape}, expected (n, {len(EYE_NAMES)})")
            labels = np.unique(numeric_array(eeg_label[k], f"{eeg_path}: labels of trial {k}").astype(int))
            if labels.size != 1 or not 0 <= labels[0] < len(EMOTIONS):
                raise DatasetError(f"{eeg_path}: trial {k} labels {labels.tolist()} are not one emotion 0-4")
            n = min(len(de), len(em))
            session, index = divmod(k, TRIALS_PER_SESSION)
            if SESSION_ORDER[session + 1][index] != labels[0]:
                raise DatasetError(f"{eeg_path}: trial {k} is labelled {labels[0]}, the protocol says "
                                   f"{SESSION_ORDER[session + 1][index]}")
            trials.append(
                Trial(
                    dataset="seedv",
                    subject=subject,
                    trial=f"{session + 1}-{index + 1:02d}",
                    signals={"eeg": Signal(de[:n], RATE, DE_NAMES), "eye": Signal(em[:n], RATE, EYE_NAMES)},
                    ratings={"emotion": float(labels[0])},
                    session=session + 1,
                    block=index // TRIALS_PER_BLOCK,
                    source=str(eeg_path),
                )
            )
    return trials


READER = FunctionReader("seedv", read_seedv, precomputed=True)
