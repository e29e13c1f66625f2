"""The session file's layout (HDF5, or XDF for a ``.xdf`` path) and its in-memory form, shared by writers and readers.

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
- ``/predictions/class_labels`` (text) and ``/predictions/class_probabilities`` (variable-length float64):
  per prediction, its class labels ``<target>:<class>`` joined by ``CLASS_SEPARATOR`` (e.g.
  "emotion:disgust,emotion:fear,...") and its class probabilities in that order; "" and an empty row
  for a prediction without classes (a regression model, or a window the model could not run on). The
  layout is in every row, so a hot-swap to a model with other classes (or to one with none) loses
  nothing and needs no new dataset (an SWMR file cannot grow one); ``class_table`` groups the rows by
  layout. Added later within version 1: older files lack both datasets.
- ``/markers/time`` and ``/markers/text``.
- ``/tables/<table>/<column>``: optional event tables declared when recording starts (e.g. the
  calibration session's ``blocks`` and ``ratings``), one row per event.
- ``/frames/data`` (n, height, width, 3) uint8 BGR, ``/frames/timestamps`` (capture time, LSL clock)
  and ``/frames/index`` (the camera's frame counter): optional downscaled camera frames; attributes
  ``scale``, ``fps_limit``, ``camera_size`` (width, height) and ``color``. Not a stream: ``read_session``
  leaves them on disk (open them with h5py).
The file is written with libver="latest" in SWMR mode, so it can be read while recording.
The same data in XDF: ``realtime.xdf_session``. Both writers (``realtime.recorder``, ``realtime.xdf_session``)
and both readers (``realtime.session_file``, ``realtime.xdf_session``) take the names below from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FORMAT = "emolive-session"
VERSION = 1
#: Scalar prediction fields stored as float64 datasets.
PREDICTION_FIELDS = ("time", "published", "valence", "arousal", "face_valence", "face_arousal")
CLASS_LABELS, CLASS_PROBABILITIES = "class_labels", "class_probabilities"
#: Joins a prediction's class labels in ``/predictions/class_labels`` (class names hold no comma).
CLASS_SEPARATOR = ","
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


def ragged(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of different (or equal) lengths as a 1-D object array, one row per element: ``/predictions/
    class_probabilities`` in memory, as h5py reads the variable-length dataset."""
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = row
    return out


def class_table(predictions: dict[str, np.ndarray]) -> dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]:
    """A session's class probabilities by layout: {labels: (row numbers of its predictions, probabilities (rows,
    classes))}, in the order the layouts first appear; rows without classes are in none. Empty for files
    recorded before the class datasets existed."""
    if CLASS_LABELS not in predictions:
        return {}
    rows: dict[tuple[str, ...], list[int]] = {}
    for i, joined in enumerate(predictions[CLASS_LABELS]):
        if joined:
            rows.setdefault(tuple(str(joined).split(CLASS_SEPARATOR)), []).append(i)
    probabilities = predictions[CLASS_PROBABILITIES]
    return {labels: (np.array(index), np.stack([np.asarray(probabilities[i], dtype=np.float64) for i in index]))
            for labels, index in rows.items()}
