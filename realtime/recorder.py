"""Session recorder: a writer thread appending every stream and every prediction to the session file.

The file is HDF5, or XDF when the path ends in ``.xdf`` (written by ``realtime.xdf_session``; camera
frames are HDF5 only).

The thread reads each ring buffer with ``read_since`` from the index where it left off, so no
sample is skipped; if it ever falls more than a buffer behind, the lost samples are counted
as an overrun and reported. Predictions and markers arrive through a bounded queue (a full
queue is an overrun too). The file is flushed at least every ``FLUSH_SECONDS``, so a crash
loses at most that much. Callers may declare event tables (e.g. calibration blocks and
ratings) up front; their rows (``add_row``) are written the same way under ``/tables``.
Optionally (``FrameRecording``, off unless asked for) a sampler thread copies the camera's newest
frame, at most ``fps`` times a second and downscaled, into ``/frames`` (flushed with the rest); it
only peeks at the camera's slot, so the face worker still gets every frame it would have had.

Before each flush the writer checks the room left for the file (free space on its disk, and the
process's file-size limit, ``ulimit -f``): with less than ``MIN_ROOM_BYTES``, or four times the largest
growth of one flush, it stops recording and
closes the file while it still can, so what was recorded stays readable; any other write failure
stops recording too. Either way the reason is in ``status().error`` and the rest of the app goes on.
"""

from __future__ import annotations

import collections
import os
import resource
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import h5py
import numpy as np

from realtime.live_stream import LiveStream
from realtime.prediction import Prediction
from realtime.session_layout import (
    CLASS_LABELS,
    CLASS_PROBABILITIES,
    CLASS_SEPARATOR,
    FORMAT,
    FRAMES_GROUP,
    PREDICTION_FIELDS,
    TABLES_GROUP,
    VERSION,
    XDF_SUFFIX,
)
from realtime.worker import Worker
from realtime.xdf_session import XdfSessionWriter

if TYPE_CHECKING:
    from realtime.camera import LatestFrame

FLUSH_SECONDS = 0.5
MIN_ROOM_BYTES = 1 << 20  # left free for the file's last metadata when it is closed
QUEUE_LIMIT = 10_000
FRAME_QUEUE_LIMIT = 100  # images waiting for the writer; more means the disk cannot keep up
#: Column kinds of event tables -> HDF5 types.
TABLE_KINDS = {"float": np.float64, "text": h5py.string_dtype()}


@dataclass(frozen=True)
class FrameRecording:
    """What to record of the camera: its frame slot, the size of its frames (width, height), the downscale
    factor (0 < scale <= 1) and the most frames per second kept."""

    frames: LatestFrame
    frame_size: tuple[int, int]
    scale: float = 0.25
    fps: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.scale <= 1:
            raise ValueError(f"frame scale must be in (0, 1], got {self.scale}")
        if not self.fps > 0:
            raise ValueError(f"frames per second recorded must be positive, got {self.fps}")
        if min(self.frame_size) < 1:
            raise ValueError(f"camera frame size must be positive, got {self.frame_size}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the recorded frames."""
        width, height = self.frame_size
        return max(1, round(width * self.scale)), max(1, round(height * self.scale))


@dataclass(frozen=True)
class RecorderStatus:
    path: str
    samples_written: dict[str, int]
    predictions_written: int
    samples_lost: int
    overruns: int
    error: str


def _appendable(group: h5py.Group, name: str, shape: tuple[int, ...], dtype: object) -> h5py.Dataset:
    chunk_rows = 1024 if dtype != h5py.string_dtype() else 64
    return group.create_dataset(name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                                chunks=(chunk_rows, *shape))


def _append(ds: h5py.Dataset, rows: np.ndarray | list[str]) -> None:
    n = len(rows)
    if n:
        ds.resize(ds.shape[0] + n, axis=0)
        ds[-n:] = rows


def _append_rows(ds: h5py.Dataset, rows: list[np.ndarray]) -> None:
    """Append variable-length rows one by one (h5py would take rows of one length for a 2-D block)."""
    start = ds.shape[0]
    ds.resize(start + len(rows), axis=0)
    for i, row in enumerate(rows):
        ds[start + i] = row


def existing_session_message(path: str | Path) -> str:
    """What is said when a recording would replace an existing file."""
    return f"session file {path} exists; refusing to overwrite it (give --overwrite to replace it)"


class FrameSampler(Worker):
    """Every 1 / fps s, queues the camera's newest frame (downscaled) in ``sampled`` unless it was queued already;
    a full queue (the writer cannot keep up) drops the frame and counts an overrun."""

    stop_timeout = 10.0

    def __init__(self, recording: FrameRecording) -> None:
        super().__init__("frame sampler")
        self.recording = recording
        self.sampled: collections.deque[tuple[np.ndarray, float, int]] = collections.deque()
        self.overruns = 0

    def _run(self) -> None:
        rec = self.recording
        last = -1
        while not self._sleep(1.0 / rec.fps):
            frame = rec.frames.peek()
            if frame is None or frame.index == last:
                continue
            last = frame.index
            if len(self.sampled) >= FRAME_QUEUE_LIMIT:
                self.overruns += 1
                continue
            image = cv2.resize(frame.image, rec.size, interpolation=cv2.INTER_AREA)
            self.sampled.append((image, frame.timestamp, frame.index))


class Recorder(Worker):
    """Writes ``streams`` (read from their ring buffers from ``start()`` on), predictions and markers to ``path``
    (HDF5, or XDF for a ``.xdf`` path) from its writer thread; ``error`` says why recording stopped early."""

    stop_timeout = 10.0

    def __init__(self, path: str | Path, streams: list[LiveStream], attrs: dict[str, object] | None = None,
                 tables: dict[str, dict[str, str]] | None = None, frames: FrameRecording | None = None,
                 overwrite: bool = False) -> None:
        """``tables``: {table: {column: "float" | "text"}}, created now (SWMR files cannot grow new datasets);
        ``frames``: record camera frames too (``/frames``, HDF5 only); an existing ``path`` is FileExistsError
        unless ``overwrite``."""
        super().__init__("recorder")
        self.path = Path(path)
        self.streams = streams
        if self.path.exists() and not overwrite:
            raise FileExistsError(existing_session_message(self.path))
        self._tables = {name: dict(columns) for name, columns in (tables or {}).items()}
        for name, columns in self._tables.items():
            for column, kind in columns.items():
                if kind not in TABLE_KINDS:
                    raise ValueError(f"table {name}: column {column} has kind {kind!r}; use float or text")
        xdf = self.path.suffix.lower() == XDF_SUFFIX
        if xdf and frames is not None:
            raise ValueError(f"cannot record camera frames to {self.path}: frames are recorded to HDF5 only")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._modalities = tuple(s.modality for s in streams)
        self._file: h5py.File | XdfSessionWriter = (
            XdfSessionWriter(self.path, streams, attrs or {}, self._tables, overwrite) if xdf
            else self._create_hdf5(attrs or {}, frames, overwrite))
        self._next = {s.modality: s.buffer.total for s in streams}
        self._written = dict.fromkeys(self._modalities, 0)
        self._predictions: collections.deque[Prediction] = collections.deque()
        self._markers: collections.deque[tuple[float, str]] = collections.deque()
        self._rows: collections.deque[tuple[str, dict[str, float | str]]] = collections.deque()
        self._sampler = FrameSampler(frames) if frames is not None else None
        self._n_predictions = 0
        self._lost = 0
        self._overruns = 0

    def _create_hdf5(self, attrs: dict[str, object], frames: FrameRecording | None, overwrite: bool) -> h5py.File:
        """The HDF5 session file with every dataset created, in SWMR mode (layout: realtime.session_layout)."""
        f = h5py.File(self.path, "w" if overwrite else "w-", libver="latest")
        f.attrs.update({"format": FORMAT, "version": VERSION, **attrs})
        for s in self.streams:
            g = f.create_group(s.modality)
            g.attrs["channels"] = np.array(s.channels, dtype=h5py.string_dtype())
            g.attrs["rate"] = s.rate
            _appendable(g, "data", (s.buffer.n_channels,), np.float32)
            _appendable(g, "timestamps", (), np.float64)
        p = f.create_group("predictions")
        for name in PREDICTION_FIELDS:
            _appendable(p, name, (), np.float64)
        _appendable(p, "model_id", (), h5py.string_dtype())
        _appendable(p, "trained", (), np.bool_)
        _appendable(p, "model_state", (), h5py.string_dtype())
        _appendable(p, CLASS_LABELS, (), h5py.string_dtype())
        _appendable(p, CLASS_PROBABILITIES, (), h5py.vlen_dtype(np.float64))
        for m in self._modalities:
            _appendable(p, f"available_{m}", (), np.bool_)
        m = f.create_group("markers")
        _appendable(m, "time", (), np.float64)
        _appendable(m, "text", (), h5py.string_dtype())
        for name, columns in self._tables.items():
            g = f.require_group(TABLES_GROUP).create_group(name)
            for column, kind in columns.items():
                _appendable(g, column, (), TABLE_KINDS[kind])
        if frames is not None:
            width, height = frames.size
            g = f.create_group(FRAMES_GROUP)
            g.attrs.update({"color": "BGR", "scale": frames.scale, "fps_limit": frames.fps,
                            "camera_size": np.array(frames.frame_size)})
            g.create_dataset("data", shape=(0, height, width, 3), maxshape=(None, height, width, 3), dtype=np.uint8,
                             chunks=(1, height, width, 3), compression="gzip", compression_opts=1)
            _appendable(g, "timestamps", (), np.float64)
            _appendable(g, "index", (), np.int64)
        f.swmr_mode = True
        return f

    # -- producers (any thread) ----------------------------------------------------------
    def add_prediction(self, prediction: Prediction) -> None:
        if self.error:  # recording has stopped: nothing more is queued
            return
        if len(self._predictions) >= QUEUE_LIMIT:
            self._overruns += 1
            self._lost += 1
            return
        self._predictions.append(prediction)

    def add_marker(self, time_: float, text: str) -> None:
        if not self.error:
            self._markers.append((time_, text))

    def add_row(self, table: str, row: dict[str, float | str]) -> None:
        """Queue one row of a declared table; every column must be given."""
        columns = self._tables.get(table)
        if columns is None:
            raise KeyError(f"table {table!r} was not declared when the recording started")
        if set(row) != set(columns):
            raise ValueError(f"table {table}: row has columns {sorted(row)}, the table {sorted(columns)}")
        self._rows.append((table, dict(row)))

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread, and the frame sampler when frames are recorded."""
        super().start()
        if self._sampler is not None:
            self._sampler.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Write everything still buffered, then close the file."""
        sampler_stopped = self._sampler is None or self._sampler.stop(timeout)
        stopped = super().stop(timeout)
        self._file.close()  # once: closing a closed file does nothing
        return stopped and sampler_stopped

    def status(self) -> RecorderStatus:
        sampler = self._sampler
        overruns = self._overruns + (sampler.overruns if sampler is not None else 0)
        # a failed frame sampler is its own worker's error (Pipeline.status().workers): the recording goes on
        return RecorderStatus(str(self.path), dict(self._written), self._n_predictions, self._lost, overruns,
                              self.error or "")

    @property
    def sampler(self) -> FrameSampler | None:
        """The thread copying camera frames into the recording, when frames are recorded."""
        return self._sampler

    # -- writer thread -------------------------------------------------------------------
    def _room(self) -> int:
        """Bytes the file may still grow by: free space on its disk, within the process's file-size limit."""
        room = shutil.disk_usage(self.path.parent).free
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY:
            room = min(room, limit - os.path.getsize(self.path))
        return room

    def _run(self) -> None:
        growth, flushes = 0, 0  # the largest growth of one flush, after the first (which allocates the layout)
        while not self._sleep(FLUSH_SECONDS):
            before = os.path.getsize(self.path)
            needed = max(MIN_ROOM_BYTES, 4 * growth)
            if (room := self._room()) < needed:
                self.error = (f"recording to {self.path} stopped: {room / 2**20:.1f} MiB of room left for the "
                              f"file (disk space or file-size limit), {needed / 2**20:.1f} MiB needed; what was "
                              "recorded until now is kept")
                return
            self._write_pending()
            flushes += 1
            if flushes > 1:
                growth = max(growth, os.path.getsize(self.path) - before)
        self._write_pending()

    def _error_message(self, exc: Exception) -> str:
        """A write failed, the file was removed...: reported, the app keeps running."""
        return f"recording to {self.path} stopped: {' '.join(str(exc).split())[:300]}"

    def _finish(self) -> None:
        try:
            self._file.close()
        except Exception as exc:  # closing flushes, and may fail the same way
            self.error = self.error or f"recording to {self.path} stopped: {exc}"

    def _write_pending(self) -> None:
        samples = {}
        for s in self.streams:
            data, ts, nxt = s.buffer.read_since(self._next[s.modality])
            lost = (nxt - len(data)) - self._next[s.modality]
            if lost > 0:
                self._lost += lost
                self._overruns += 1
            samples[s.modality] = (data, ts)
            self._next[s.modality] = nxt
        preds = [self._predictions.popleft() for _ in range(len(self._predictions))]
        markers = [self._markers.popleft() for _ in range(len(self._markers))]
        rows = [self._rows.popleft() for _ in range(len(self._rows))]
        if isinstance(self._file, XdfSessionWriter):
            self._file.write(samples, preds, markers, rows)
        else:
            self._write_hdf5(self._file, samples, preds, markers, rows)
        for modality, (data, _) in samples.items():
            self._written[modality] += len(data)
        self._n_predictions += len(preds)

    def _write_hdf5(self, f: h5py.File, samples: dict[str, tuple[np.ndarray, np.ndarray]], preds: list[Prediction],
                    markers: list[tuple[float, str]], rows: list[tuple[str, dict[str, float | str]]]) -> None:
        for modality, (data, ts) in samples.items():
            _append(f[modality]["data"], data)
            _append(f[modality]["timestamps"], ts)
        if preds:
            g = f["predictions"]
            for name in PREDICTION_FIELDS:
                _append(g[name], np.array([getattr(p, name) for p in preds], dtype=np.float64))
            _append(g["model_id"], [p.model_id for p in preds])
            _append(g["trained"], np.array([p.trained for p in preds]))
            _append(g["model_state"], [p.state for p in preds])
            _append(g[CLASS_LABELS], [CLASS_SEPARATOR.join(p.class_labels()) for p in preds])
            _append_rows(g[CLASS_PROBABILITIES], [p.class_values() for p in preds])
            for m in self._modalities:
                _append(g[f"available_{m}"], np.array([p.available.get(m, False) for p in preds]))
        if markers:
            _append(f["markers/time"], np.array([t for t, _ in markers], dtype=np.float64))
            _append(f["markers/text"], [t for _, t in markers])
        for table, row in rows:
            for column, value in row.items():
                _append(f[TABLES_GROUP][table][column], [value] if isinstance(value, str) else np.array([value]))
        queue = self._sampler.sampled if self._sampler is not None else None
        sampled = [queue.popleft() for _ in range(len(queue))] if queue else []
        if sampled:
            g = f[FRAMES_GROUP]
            _append(g["data"], np.stack([image for image, _, _ in sampled]))
            _append(g["timestamps"], np.array([t for _, t, _ in sampled], dtype=np.float64))
            _append(g["index"], np.array([i for _, _, i in sampled], dtype=np.int64))
        f.flush()
