"""The face worker thread: newest camera frame -> largest face -> embedding and expression ring buffers.

It always works on the newest frame (stale frames are dropped in the camera's ``LatestFrame``
slot, never queued), so its latency stays bounded when the CPU is slower than the camera. Both
rows are written with the frame's capture timestamp. A frame without a face writes nothing (the
buffers go stale, which the inference worker sees) but is counted and shown as "no face".
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from models.face_backbones import FER_CLASSES
from models.face_features import FaceAnalyzer, FaceObservation
from realtime import clock
from realtime.camera import Frame, LatestFrame
from realtime.ring_buffer import RingBuffer
from realtime.worker import Worker

THUMBNAIL_WIDTH = 320


@dataclass(frozen=True)
class FaceSnapshot:
    """What the dashboard shows of the latest processed frame (label None: no face in it)."""

    time: float  # capture timestamp, LSL clock
    frame_index: int  # the camera's capture counter of this frame
    thumbnail: np.ndarray  # BGR, THUMBNAIL_WIDTH wide
    box: tuple[int, int, int, int] | None  # x1, y1, x2, y2 in thumbnail pixels
    label: str | None
    probability: float
    embedding_norm: float


@dataclass(frozen=True)
class FaceWorkerCounters:
    frames_captured: int
    frames_processed: int
    faces_found: int
    faces_tracked: int  # of faces_found: followed by optical flow, not detected (FaceAnalyzer redetect_every)
    frames_without_face: int
    frames_dropped: int  # captured frames replaced by a newer one before the worker took them
    errors: int
    fps: float  # processed frames per second over the last ~2 s
    mean_latency: float  # seconds from capture to the rows being written, mean over all processed frames
    mean_processing: float  # seconds of analysis per frame, mean


class FaceWorker(Worker):
    """Runs a ``FaceAnalyzer`` on the newest frame of a ``LatestFrame`` slot in its own thread.

    ``max_rate`` caps the frames analysed per second (None: as many as the CPU allows), leaving
    CPU to the EEG path on small machines; frames in between are dropped as stale. A frame whose
    analysis fails is counted (``last_error``) and the worker goes on.
    """

    def __init__(self, frames: LatestFrame, analyzer: FaceAnalyzer, face_buffer: RingBuffer,
                 expression_buffer: RingBuffer, max_rate: float | None = None) -> None:
        super().__init__("face worker")
        if face_buffer.n_channels != analyzer.embedding_dim:
            raise ValueError(
                f"face buffer holds {face_buffer.n_channels} channels but the {analyzer.backbone} backbone "
                f"embeds in {analyzer.embedding_dim}"
            )
        if expression_buffer.n_channels != len(FER_CLASSES):
            raise ValueError(f"expression buffer must hold {len(FER_CLASSES)} channels ({', '.join(FER_CLASSES)})")
        self.frames = frames
        self.analyzer = analyzer
        self.face_buffer = face_buffer
        self.expression_buffer = expression_buffer
        self.max_rate = max_rate
        self.latest: FaceSnapshot | None = None
        self.last_error: str | None = None
        self._processed = self._found = self._tracked = self._errors = 0
        self._latency_sum = self._processing_sum = 0.0
        self._done_times: collections.deque[float] = collections.deque(maxlen=50)
        self._lock = threading.Lock()

    def _run(self) -> None:
        min_interval = 1.0 / self.max_rate if self.max_rate else 0.0
        while not self.stopping:
            frame = self.frames.take(timeout=0.2)
            if frame is None:
                continue
            started = clock.now()
            self.process(frame)
            rest = min_interval - (clock.now() - started)
            if rest > 0:
                self._sleep(rest)

    def process(self, frame: Frame) -> FaceSnapshot | None:
        """Analyze one frame, write its rows, update ``latest`` and the counters (also usable without the thread)."""
        started = clock.now()
        try:
            obs = self.analyzer.analyze(frame.image)
        except Exception as e:  # keep the worker alive; the dashboard shows the error
            with self._lock:
                self._errors += 1
                self.last_error = f"face analysis failed on frame {frame.index}: {type(e).__name__}: {e}"
            return None
        ts = np.array([frame.timestamp])
        if obs is not None:
            self.face_buffer.write(obs.embedding[None].astype(np.float32), ts)
            self.expression_buffer.write(obs.expression[None].astype(np.float32), ts)
        done = clock.now()
        snapshot = _snapshot(frame, obs)
        with self._lock:
            self._processed += 1
            self._found += obs is not None
            self._tracked += obs is not None and obs.tracked
            self._latency_sum += done - frame.timestamp
            self._processing_sum += done - started
            self._done_times.append(done)
            self.latest = snapshot
        return snapshot

    def counters(self) -> FaceWorkerCounters:
        with self._lock:
            n = self._processed
            times = list(self._done_times)
            recent = [t for t in times if t >= times[-1] - 2.0] if times else []
            fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
            return FaceWorkerCounters(
                frames_captured=self.frames.captured,
                frames_processed=n,
                faces_found=self._found,
                faces_tracked=self._tracked,
                frames_without_face=n - self._found,
                frames_dropped=self.frames.dropped,
                errors=self._errors,
                fps=fps,
                mean_latency=self._latency_sum / n if n else float("nan"),
                mean_processing=self._processing_sum / n if n else float("nan"),
            )


def _snapshot(frame: Frame, obs: FaceObservation | None) -> FaceSnapshot:
    h, w = frame.image.shape[:2]
    scale = THUMBNAIL_WIDTH / w
    thumb = cv2.resize(frame.image, (THUMBNAIL_WIDTH, max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    if obs is None:
        return FaceSnapshot(frame.timestamp, frame.index, thumb, None, None, 0.0, 0.0)
    box = tuple(round(float(v) * scale) for v in obs.box)
    return FaceSnapshot(frame.timestamp, frame.index, thumb, box, obs.label, obs.probability,
                        float(np.linalg.norm(obs.embedding)))
