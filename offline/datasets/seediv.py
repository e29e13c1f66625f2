"""SEED-IV features: ``eeg_feature_smooth/{1,2,3}/{s}_{date}.mat`` (DE, 62 x 5) and ``eye_feature_smooth/...`` (31-d).

One MAT v5 file per subject and session (the folder names the session, the file name's number the subject;
the eye file is matched by that number, not by its date). In an EEG file ``de_LDS{k}`` / ``de_movingAve{k}``
(k = 1..24, the session's trials) is (62 channels, n windows, 5 bands: delta, theta, alpha, beta, gamma), the
channels those of SEED-V's cap in the same order; ``psd_*`` keys are not read. Windows are 4 s, non-overlapping
(0.25 Hz), as in SEED-V. Rows are laid out as the seedv reader's: (n, 62 * 5), channel-major (column
``channel * 5 + band``, named ``FP1_delta`` ...), so models and protocols built for SEED-V take SEED-IV unchanged.

In an eye file ``eye_{k}`` is (features, n windows): 31 features in every source checked (SEED-V has 33; the
order of SEED-IV's is not documented in them), so the eye width is taken from the data and must agree across
trials. ``cmt-seedv`` and ``r2gfanet`` train on it: the runner sizes their eye branch from the rows (31). Like
any model trained on dataset rows it runs offline only, and its eye branch could not be fed live anyway: the
live extractor (``models.eye_features``) computes SEED-V's 33. EEG and eye windows are truncated to the shorter
count, as in SEED-V.

Labels are not in the files: each session's 24 trials follow the fixed order of SEED-IV's ReadMe
(0 neutral, 1 sad, 2 fear, 3 happy; six trials of each per session). Train with ``--model-set n_classes=4``.
``block`` is the trial's third of its session (trials 1-8, 9-16, 17-24), so ``seedv-blocks`` tests block f of
every session; fold 2 is SEED-IV's usual within-session split (last 8 trials), and a block does not hold
every emotion in every session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.channels import SEEDV_CHANNELS as CHANNELS
from offline.datasets.mahnob_features import load_mat
from offline.datasets.reader import DatasetError, FunctionReader, numeric_array
from offline.datasets.seedv import BANDS, DE_NAMES, RATE
from offline.trials import Signal, Trial

EEG_FOLDER, EYE_FOLDER = "eeg_feature_smooth", "eye_feature_smooth"
TRIALS_PER_SESSION, TRIALS_PER_BLOCK = 24, 8
SESSION_ORDER = {
    1: (1, 2, 3, 0, 2, 0, 0, 1, 0, 1, 2, 1, 1, 1, 2, 3, 2, 2, 3, 3, 0, 3, 0, 3),
    2: (2, 1, 3, 0, 0, 2, 0, 2, 3, 3, 2, 3, 2, 0, 1, 1, 2, 1, 0, 3, 0, 1, 3, 1),
    3: (1, 2, 2, 1, 3, 3, 3, 1, 1, 2, 1, 0, 2, 3, 3, 0, 2, 3, 0, 0, 2, 0, 1, 0),
}
#: the DE smoothings a ``source`` option may name (the prefix of the EEG keys)
SOURCES = ("de_LDS", "de_movingAve")


def _session_files(folder: Path) -> dict[int, Path]:
    """The ``{subject}_{date}.mat`` files of one session folder by subject number; a folder missing, without such
    files, or holding a subject twice is an error naming it."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder not found")
    files: dict[int, Path] = {}
    for path in sorted(folder.glob("*_*.mat")):
        number = path.stem.split("_")[0]
        if not (number.isascii() and number.isdigit()):
            raise DatasetError(f"{path}: not named {{subject number}}_{{date}}.mat")
        if int(number) in files:
            raise DatasetError(f"{folder}: two files of subject {int(number)}: {files[int(number)].name}, {path.name}")
        files[int(number)] = path
    if not files:
        raise DatasetError(f"{folder}: no {{subject}}_{{date}}.mat files")
    return files


def _subject_file(files: dict[int, Path], number: int, folder: Path) -> Path:
    if number not in files:
        raise DatasetError(f"{folder}: no file of subject {number} ({number}_{{date}}.mat)")
    return files[number]


def _variables(path: Path, keys: list[str]) -> dict[str, Any]:
    """The variables ``keys`` of a MAT file, all of them, else an error naming the file and the missing keys."""
    mat = load_mat(path, tuple(keys))
    missing = [k for k in keys if k not in mat]
    if missing:
        shown = ", ".join(missing[:4]) + (f", ... ({len(missing)} in all)" if len(missing) > 4 else "")
        raise DatasetError(f"{path}: missing keys {shown}")
    return mat


def _eeg_rows(value: object, path: Path, key: str) -> np.ndarray:
    """(62, n, 5) DE of one trial as (n, 310) float32 rows, channel-major like SEED-V's."""
    de = numeric_array(value, f"{path}: '{key}'")
    if de.ndim != 3 or de.shape[0] != len(CHANNELS) or de.shape[2] != len(BANDS):
        raise DatasetError(f"{path}: '{key}' has shape {de.shape}, expected ({len(CHANNELS)}, n, {len(BANDS)})")
    return de.transpose(1, 0, 2).reshape(de.shape[1], len(DE_NAMES)).astype(np.float32)


def _eye_rows(value: object, path: Path, key: str) -> np.ndarray:
    """(features, n) eye features of one trial as (n, features) float32 rows."""
    em = numeric_array(value, f"{path}: '{key}'")
    if em.ndim != 2:
        raise DatasetError(f"{path}: '{key}' has shape {em.shape}, expected (features, n)")
    return em.T.astype(np.float32)


def read_seediv(root: Path, subjects: list[str] | None = None, source: str = "de_LDS",
                eye: bool = True) -> list[Trial]:
    """72 trials per subject (3 sessions x 24) with EEG DE (``source``: "de_LDS" or "de_movingAve") and, with
    ``eye``, eye-movement features (``eye=False`` reads ``eeg_feature_smooth`` alone)."""
    if source not in SOURCES:
        raise ValueError(f"unknown SEED-IV source {source!r} ({' or '.join(SOURCES)})")
    root = Path(root)
    eeg_files = {s: _session_files(root / EEG_FOLDER / str(s)) for s in SESSION_ORDER}
    eye_files = {s: _session_files(root / EYE_FOLDER / str(s)) for s in SESSION_ORDER} if eye else {}
    eye_names: tuple[str, ...] | None = None
    trials = []
    for number in sorted(set().union(*eeg_files.values())):
        subject = f"S{number:02d}"
        if subjects and subject not in subjects:
            continue
        for session, order in SESSION_ORDER.items():
            eeg_path = _subject_file(eeg_files[session], number, root / EEG_FOLDER / str(session))
            eeg = _variables(eeg_path, [f"{source}{k}" for k in range(1, TRIALS_PER_SESSION + 1)])
            eye_path = _subject_file(eye_files[session], number, root / EYE_FOLDER / str(session)) if eye else None
            eyes = _variables(eye_path, [f"eye_{k}" for k in range(1, TRIALS_PER_SESSION + 1)]) if eye_path else {}
            for index, emotion in enumerate(order):
                key = f"{source}{index + 1}"
                de = _eeg_rows(eeg[key], eeg_path, key)
                signals = {"eeg": Signal(de, RATE, DE_NAMES)}
                if eye_path:
                    em = _eye_rows(eyes[f"eye_{index + 1}"], eye_path, f"eye_{index + 1}")
                    eye_names = eye_names or tuple(f"eye_{i:02d}" for i in range(em.shape[1]))
                    if em.shape[1] != len(eye_names):
                        raise DatasetError(f"{eye_path}: 'eye_{index + 1}' has {em.shape[1]} features per window, "
                                           f"earlier trials {len(eye_names)}")
                    n = min(len(de), len(em))
                    signals = {"eeg": Signal(de[:n], RATE, DE_NAMES), "eye": Signal(em[:n], RATE, eye_names)}
                trials.append(
                    Trial(
                        dataset="seediv",
                        subject=subject,
                        trial=f"{session}-{index + 1:02d}",
                        signals=signals,
                        ratings={"emotion": float(emotion)},
                        session=session,
                        block=index // TRIALS_PER_BLOCK,
                        source=str(eeg_path),
                    )
                )
    return trials


READER = FunctionReader("seediv", read_seediv, precomputed=True)
