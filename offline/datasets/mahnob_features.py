"""MAHNOB-HCI continuous valence (Soleymani et al. 2016): ``lable_continous_Mahnob.mat`` + per-trial feature files.

Everything is at 4 Hz over the stimulus only. Each feature file's ``target`` must equal twice the
trace in the label file (checked, so a mismatched file is caught). Feature columns are named
``<key>_<index>`` because the files do not say which electrode/band each column is; the valence
trace (-1..1) is kept as the ``valence`` trace. ``face`` holds the first 38 face columns (the
reference code's choice), ``face_all`` all 327.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from offline.datasets import DatasetError
from offline.trials import Signal, Trial

RATE = 4.0
LABEL_FILE = "lable_continous_Mahnob.mat"
#: modality name -> key in the feature files
FEATURE_KEYS = {"eeg": "eeg_band_feats_full", "eeg_reduced": "eeg_band_feats", "face_all": "face_feats",
                "gaze": "gaze_feats"}
REFERENCE_FACE_COLUMNS = 38


def feature_names(key: str, n: int) -> tuple[str, ...]:
    return tuple(f"{key}_{i:03d}" for i in range(n))


def _loadmat(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        return scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises ValueError/TypeError/MatReadError on damaged files
        raise DatasetError(f"{path}: not a readable MAT file ({type(exc).__name__}: {exc})") from exc


def read_mahnob_features(root: Path, subjects: list[str] | None = None) -> list[Trial]:
    """Every trial listed in the label file, with its features and valence trace."""
    root = Path(root)
    label_path = root / LABEL_FILE
    mat = _loadmat(label_path)
    if "trials_included" not in mat or "labels" not in mat:
        raise DatasetError(f"{label_path}: expected keys 'trials_included' and 'labels'")
    included, labels = np.asarray(mat["trials_included"]), mat["labels"]
    if included.ndim != 2 or included.shape[1] != 2 or labels.shape[0] != included.shape[0]:
        raise DatasetError(f"{label_path}: trials_included {included.shape} and labels {labels.shape} disagree")
    trials = []
    for (participant, section), cell in zip(included.astype(int), labels[:, 0], strict=True):
        subject = f"P{participant:02d}"
        if subjects and subject not in subjects:
            continue
        trace = np.asarray(cell, dtype=np.float64).reshape(-1)
        path = root / "Features" / f"P{participant}-features-resamp4hz-trial-{section}.mat"
        feats = _loadmat(path)
        missing = [k for k in ("target", *FEATURE_KEYS.values()) if k not in feats]
        if missing:
            raise DatasetError(f"{path}: missing keys {', '.join(missing)}")
        target = np.asarray(feats["target"], dtype=np.float64).reshape(-1)
        if target.shape != trace.shape or not np.allclose(target, 2 * trace, atol=1e-4):
            raise DatasetError(f"{path}: 'target' is not 2 x the label trace of P{participant} section {section}")
        signals = {}
        for modality, key in FEATURE_KEYS.items():
            values = np.asarray(feats[key], dtype=np.float32)
            if values.ndim != 2 or values.shape[0] != trace.size:
                raise DatasetError(f"{path}: '{key}' has shape {values.shape}, expected ({trace.size}, n)")
            if not np.isfinite(values).all():
                raise DatasetError(f"{path}: '{key}' contains NaN or infinite values")
            signals[modality] = Signal(values, RATE, feature_names(key, values.shape[1]))
        face = signals["face_all"]
        signals["face"] = Signal(np.ascontiguousarray(face.data[:, :REFERENCE_FACE_COLUMNS]), RATE,
                                 face.channels[:REFERENCE_FACE_COLUMNS])
        trials.append(
            Trial(
                dataset="mahnob-features",
                subject=subject,
                trial=f"{section:02d}",
                signals=signals,
                traces={"valence": Signal(trace[:, None].astype(np.float32), RATE, ("valence",))},
                source=str(path),
            )
        )
    if not trials:
        raise DatasetError(f"{label_path}: no trials{' for ' + ', '.join(subjects) if subjects else ''}")
    return trials
