"""The session file (HDF5, or XDF for a ``.xdf`` path): its layout, and a reader used by replay, tests and analysis.

Layout (every dataset resizable along its first axis, appended while recording):
- ``/<stream>/data`` (n, channels) and ``/<stream>/timestamps`` (n,) on the LSL clock, for each
  recorded stream (``eeg``, ``face``, ``expression``); attributes ``channels`` and ``rate``
  (0 for irregular streams such as camera frames) on the group.
- ``/predictions/<field>``: one row per Prediction (fields in ``PREDICTION_FIELDS`` plus
  ``model_id``, ``trained``, ``model_state`` and ``available_<modality>``). ``trained`` is True only
  for a network whose weights were fitted to labelled data; ``model_state`` says what the output is
  worth: "trained", "untrained", "uncalibrated prior" (a fixed map such as the face prior, never
  scored on rated data) or "calibrated" (``models.live``). ``model_state`` was added later within
  version 1: files written before it lack the dataset, where ``trained`` alone was recorded (and
  was True for the face prior).
- ``/markers/time`` and ``/markers/text``.
- ``/tables/<table>/<column>``: optional event tables declared when recording starts (e.g. the
  calibration session's ``blocks`` and ``ratings``), one row per event.
- ``/frames/data`` (n, height, width, 3) uint8 BGR, ``/frames/timestamps`` (capture time, LSL clock)
  and ``/frames/index`` (the camera's frame counter): optional downscaled camera frames; attributes
  ``scale``, ``fps_limit``, ``camera_size`` (width, height) and ``color``. Not a stream: ``read_session``
  leaves them on disk (open them with h5py).
The file is written with libver="latest" in SWMR mode, so it can be read while recording.
The same data in XDF, and how XDF files are read: ``realtime.xdf_session``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

FORMAT = "emolive-session"
VERSION = 1
#: Scalar prediction fields stored as float64 datasets.
PREDICTION_FIELDS = ("time", "published", "valence", "arousal", "face_valence", "face_arousal")
TABLES_GROUP = "tables"
FRAMES_GROUP = "frames"
#: Paths ending so are recorded and read as XDF; every other path is HDF5.
XDF_SUFFIX = ".xdf"


@dataclass
class RecordedStream:
    data: np.ndarray
    timestamps: np.ndarray
    channels: tuple[str, ...]
    rate: float


@dataclass
class Session:
    """Everything a session file holds, in memory."""

    streams: dict[str, RecordedStream]
    predictions: dict[str, np.ndarray]
    markers: list[tuple[float, str]] = field(default_factory=list)
    attrs: dict[str, object] = field(default_factory=dict)
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def _text(values: np.ndarray) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def is_session_file(path: str | Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except OSError:
        return False


def read_session(path: str | Path) -> Session:
    """Read a whole session file (also one still being written, thanks to SWMR).

    A ``.xdf`` file (ours or LabRecorder's, also one cut off while recording) is read by
    ``realtime.xdf_session.read_xdf_session``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"session file {path} does not exist")
    if path.suffix.lower() == XDF_SUFFIX:
        from realtime.xdf_session import read_xdf_session  # imports this module

        return read_xdf_session(path)
    try:
        f = h5py.File(path, "r", libver="latest", swmr=True)
    except OSError as exc:
        raise ValueError(f"{path} is not a readable HDF5 session file: {exc}") from exc
    with f:
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"{path} is HDF5 but not an {FORMAT} file (attribute 'format' missing)")
        streams = {}
        for name, group in f.items():
            if name in ("predictions", "markers", TABLES_GROUP, FRAMES_GROUP):
                continue
            streams[name] = RecordedStream(
                data=group["data"][()],
                timestamps=group["timestamps"][()],
                channels=tuple(str(c) for c in _text(group.attrs["channels"])),
                rate=float(group.attrs["rate"]),
            )
        predictions = {}
        for key, ds in f["predictions"].items():
            predictions[key] = _text(ds[()]) if ds.dtype.kind in "OS" else ds[()]
        markers = list(zip(f["markers/time"][()].tolist(), _text(f["markers/text"][()]).tolist(), strict=True))
        tables = {
            name: {c: _text(ds[()]) if ds.dtype.kind in "OS" else ds[()] for c, ds in group.items()}
            for name, group in f.get(TABLES_GROUP, {}).items()
        }
        return Session(streams, predictions, markers, dict(f.attrs), tables)
