"""DEAP: preprocessed Python pickles (``data_preprocessed_python/sXX.dat``) or original BDF files, plus face videos.

Rows of the preprocessed files are in video order (Experiment_id); presentation order, and so
the face-video names, come from ``participant_ratings.csv``. Trial ids are Experiment_ids in both
sources so a trial is the same trial whichever files it was read from. Signals start at the
stimulus onset (the preprocessed 3 s baseline is cut off).
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from offline.datasets.bdf import code_onsets, read_bdf
from offline.datasets.pickles import load_file
from offline.datasets.reader import DatasetError, FunctionReader, numeric_array
from offline.trials import Signal, Trial, VideoRef

EEG_CHANNELS = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
    "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2",
)  # fmt: skip
PERIPHERAL_CHANNELS = ("hEOG", "vEOG", "zEMG", "tEMG", "GSR", "Respiration", "Plethysmograph", "Temperature")
RATINGS = ("valence", "arousal", "dominance", "liking")
PREPROCESSED_RATE = 128.0
BASELINE_SECONDS = 3.0
VIDEO_FPS = 50.0  # documented rate, used when a container does not state its own
CODE_VIDEO_START, CODE_VIDEO_END = 4, 5


def read_ratings_csv(path: Path) -> dict[str, list[dict[str, str]]]:
    """participant_ratings.csv rows per subject ("s01"...), in presentation order; the id columns must be integers."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    rows: dict[str, list[dict[str, str]]] = {}
    try:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                subject, _, _ = (int(row[key]) for key in ("Participant_id", "Trial", "Experiment_id"))
                rows.setdefault(f"s{subject:02d}", []).append(row)
    except (KeyError, TypeError, ValueError, csv.Error) as exc:  # TypeError: a short row's missing cells are None
        raise DatasetError(f"{path}: not a DEAP ratings table ({type(exc).__name__}: {exc})") from exc
    for subject_rows in rows.values():
        subject_rows.sort(key=lambda r: int(r["Trial"]))
    return rows


def read_deap(root: Path, source: str = "auto", subjects: list[str] | None = None, videos: bool = True) -> list[Trial]:
    """All trials under ``root``; ``source`` is "preprocessed", "original" or "auto" (preprocessed when present)."""
    root = Path(root)
    pre, orig = root / "data_preprocessed_python", root / "data_original"
    if source == "auto":
        source = "preprocessed" if pre.is_dir() else "original" if orig.is_dir() else ""
        if not source:
            raise DatasetError(f"{root}: neither data_preprocessed_python/ nor data_original/ found")
    csv_path = root / "participant_ratings.csv"
    ratings = read_ratings_csv(csv_path) if csv_path.is_file() or source == "original" else {}
    read_one: Callable[[Path, list[dict[str, str]]], list[Trial]]
    if source == "preprocessed":
        files = sorted(pre.glob("s*.dat"))
        if not files:
            raise DatasetError(f"{pre}: no sXX.dat files")
        read_one = _read_preprocessed
    elif source == "original":
        files = sorted(orig.glob("s*.bdf"))
        if not files:
            raise DatasetError(f"{orig}: no sXX.bdf files")
        read_one = _read_original
    else:
        raise ValueError(f"unknown DEAP source {source!r} (preprocessed, original or auto)")
    trials: list[Trial] = []
    for path in files:
        if subjects and path.stem not in subjects:
            continue
        subject_trials = read_one(path, ratings.get(path.stem, []))
        if videos:
            _attach_videos(root / "face_video" / path.stem, path.stem, subject_trials, ratings.get(path.stem, []))
        trials.extend(subject_trials)
    return trials


def _read_preprocessed(path: Path, _rows: list[dict[str, str]]) -> list[Trial]:
    obj = load_file(path)
    if not isinstance(obj, dict) or "data" not in obj or "labels" not in obj:
        raise DatasetError(f"{path}: expected a dict with 'data' and 'labels'")
    data, labels = numeric_array(obj["data"], f"{path}: 'data'"), numeric_array(obj["labels"], f"{path}: 'labels'")
    n_channels = len(EEG_CHANNELS) + len(PERIPHERAL_CHANNELS)
    baseline = int(BASELINE_SECONDS * PREPROCESSED_RATE)
    if data.ndim != 3 or data.shape[1] != n_channels or data.shape[2] <= baseline:
        raise DatasetError(f"{path}: 'data' has shape {data.shape}, expected (trials, {n_channels}, >{baseline})")
    if labels.shape != (data.shape[0], len(RATINGS)):
        raise DatasetError(f"{path}: 'labels' has shape {labels.shape}, expected ({data.shape[0]}, {len(RATINGS)})")
    if not np.isfinite(data).all() or not np.isfinite(labels).all():
        raise DatasetError(f"{path}: contains NaN or infinite values")
    trials = []
    for row in range(data.shape[0]):
        stimulus = data[row, :, baseline:].T.astype(np.float32)
        eeg = Signal(np.ascontiguousarray(stimulus[:, : len(EEG_CHANNELS)]), PREPROCESSED_RATE, EEG_CHANNELS)
        physio = Signal(np.ascontiguousarray(stimulus[:, len(EEG_CHANNELS) :]), PREPROCESSED_RATE, PERIPHERAL_CHANNELS)
        trials.append(
            Trial(
                dataset="deap",
                subject=path.stem,
                trial=f"{row + 1:02d}",
                signals={"eeg": eeg, "physio": physio},
                ratings={name: float(labels[row, i]) for i, name in enumerate(RATINGS)},
                source=str(path),
            )
        )
    return trials


def _read_original(path: Path, rows: list[dict[str, str]]) -> list[Trial]:
    if not rows:
        raise DatasetError(f"{path}: no rows for {path.stem} in participant_ratings.csv")
    rec = read_bdf(path)
    eeg = rec.select(EEG_CHANNELS, path)
    eeg_index = {c.lower() for c in EEG_CHANNELS}
    others = [i for i, c in enumerate(rec.channels) if c.lower() not in eeg_index]
    starts, ends = code_onsets(rec.status, CODE_VIDEO_START), code_onsets(rec.status, CODE_VIDEO_END)
    if len(starts) != len(rows):
        raise DatasetError(
            f"{path}: {len(starts)} video-start codes ({CODE_VIDEO_START}) in Status, "
            f"but {len(rows)} rated trials in participant_ratings.csv"
        )
    trials = []
    for start, row in zip(starts, rows, strict=True):
        after = ends[ends > start]
        if not len(after):
            raise DatasetError(f"{path}: no end code ({CODE_VIDEO_END}) after the video starting at sample {start}")
        stop = int(after[0])
        signals = {"eeg": Signal(np.ascontiguousarray(eeg[start:stop]), rec.rate, EEG_CHANNELS)}
        if others:
            names = tuple(rec.channels[i] for i in others)
            signals["physio"] = Signal(np.ascontiguousarray(rec.data[start:stop, others]), rec.rate, names)
        trials.append(
            Trial(
                dataset="deap",
                subject=path.stem,
                trial=f"{int(row['Experiment_id']):02d}",
                signals=signals,
                ratings=_row_ratings(path, row),
                source=str(path),
            )
        )
    return trials


def _row_ratings(path: Path, row: dict[str, str]) -> dict[str, float]:
    """The four ratings of a participant_ratings.csv row as finite numbers, else an error naming both files."""
    try:
        ratings = {name: float(row[name.capitalize()]) for name in RATINGS}
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: participant_ratings.csv row of trial {row['Trial']} has no "
                           f"{'/'.join(RATINGS)} numbers ({type(exc).__name__}: {exc})") from exc
    if not all(map(math.isfinite, ratings.values())):
        raise DatasetError(f"{path}: participant_ratings.csv row of trial {row['Trial']} has non-finite ratings")
    return ratings


def _video_fps(path: Path) -> float:
    """The container's frame rate (DEAP's are 50 fps); 50 when the container does not say."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
    capture.release()
    return float(fps) if fps and fps > 0 else VIDEO_FPS


def _attach_videos(folder: Path, subject: str, trials: list[Trial], rows: list[dict[str, str]]) -> None:
    """Face videos are named by presentation order; map them to rows through Experiment_id. Missing ones: warn."""
    if not folder.is_dir():
        return
    if not rows:
        warnings.warn(f"{folder}: face videos found but no ratings rows to map them; skipped", stacklevel=3)
        return
    by_id = {t.trial: t for t in trials}
    for row in rows:
        video = folder / f"{subject}_trial{int(row['Trial']):02d}.avi"
        trial = by_id.get(f"{int(row['Experiment_id']):02d}")
        if trial is None:
            continue
        if video.is_file():
            trial.videos["face"] = VideoRef(video, _video_fps(video))
        else:
            warnings.warn(f"{video}: face video missing; trial {trial.key} has EEG only", stacklevel=3)


READER = FunctionReader("deap", read_deap)
