"""Camera capture: a webcam, a video file or the demo video through OpenCV, into a newest-frame slot.

``--cam`` takes a device index (``0``), a video file path (paced at its frame rate, optionally
looping), a stream URL, ``demo`` (the built-in face video) or ``none``. A capture thread stamps
each frame on the LSL clock as it is read and puts it into a ``LatestFrame`` slot: readers always
get the newest frame, and frames overwritten before anyone took them are counted as dropped.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from realtime import clock
from realtime.demo_video import demo_video_path
from realtime.worker import Worker


class CameraError(RuntimeError):
    """A camera or video cannot be opened or read."""


@dataclass(frozen=True)
class Frame:
    """One captured image (BGR uint8), its capture time on the LSL clock and its capture counter."""

    image: np.ndarray
    timestamp: float
    index: int


class LatestFrame:
    """A one-frame slot: the producer overwrites, the consumer takes the newest; stale frames are counted."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._taken = True
        self.captured = 0
        self.dropped = 0  # frames replaced before anybody took them

    def put(self, image: np.ndarray, timestamp: float) -> Frame:
        with self._cond:
            if not self._taken:
                self.dropped += 1
            frame = Frame(image, timestamp, self.captured)
            self.captured += 1
            self._frame, self._taken = frame, False
            self._cond.notify_all()
            return frame

    def peek(self) -> Frame | None:
        """The newest frame without taking it (e.g. to show it)."""
        with self._cond:
            return self._frame

    def take(self, timeout: float | None = None) -> Frame | None:
        """Wait up to ``timeout`` s for a frame not taken yet and take it (None on timeout)."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self._taken, timeout):
                return None
            self._taken = True
            return self._frame


@dataclass(frozen=True)
class CameraSource:
    """What ``--cam`` asked for: a device index, or a file / URL target, with pacing and looping."""

    target: int | str
    paced: bool  # a file is released at its frame rate; a device or stream paces itself
    loop: bool
    label: str


def parse_camera_spec(spec: str, loop: bool = False) -> CameraSource | None:
    """``0`` -> device 0; ``demo`` -> the demo video (looping); ``none`` -> None; a URL; else a video file."""
    spec = spec.strip()
    if spec.lower() == "none":
        return None
    if spec.lower() == "demo":
        path = demo_video_path()
        return CameraSource(str(path), paced=True, loop=True, label=f"demo video {path}")
    if spec.isdigit():
        return CameraSource(int(spec), paced=False, loop=False, label=f"camera device {spec}")
    if "://" in spec:
        return CameraSource(spec, paced=False, loop=False, label=f"video stream {spec}")
    path = Path(spec).expanduser()
    if not path.is_file():
        raise CameraError(f"video file not found: {path}")
    return CameraSource(str(path), paced=True, loop=loop, label=f"video file {path}")


class Camera(Worker):
    """Opens a ``CameraSource`` with cv2.VideoCapture and runs its capture thread.

    ``state``: "idle", "running", "lost" (a device stopped delivering; retried up to
    ``reconnect_attempts`` times), "ended" (a non-looping file reached its end) or "stopped";
    ``error`` says why it is lost or ended.
    """

    stop_timeout = 2.0

    def __init__(self, source: CameraSource, reconnect_attempts: int = 3, reconnect_delay: float = 1.0) -> None:
        super().__init__(f"camera {source.label}")
        self.source = source
        self.frames = LatestFrame()
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_delay = reconnect_delay
        self.state = "idle"
        self.reconnects = 0
        self.loops = 0
        self.fps = float("nan")  # nominal rate reported by the source
        self.frame_size: tuple[int, int] | None = None  # (width, height)
        self._cap: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None

    @property
    def label(self) -> str:
        return self.source.label

    def open(self) -> None:
        """Open the source and read a first frame; raise CameraError naming it if that fails."""
        cap = cv2.VideoCapture(self.source.target)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot open {self.label}: OpenCV found no such camera or readable video")
        ok, image = cap.read()
        if not ok or image is None:
            cap.release()
            raise CameraError(f"{self.label} opened but delivered no frame")
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or "nan")
        if self.source.paced and not self.fps > 0:
            cap.release()
            raise CameraError(f"{self.label} reports no frame rate, so it cannot be paced")
        self.frame_size = (image.shape[1], image.shape[0])
        self._cap = cap
        self._first = image

    def start(self) -> None:
        """Open the source if needed, then capture in the background."""
        if self._cap is None:
            self.open()
        self.state = "running"
        super().start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop capturing; the capture thread releases the device (a never-started one is released here)."""
        stopped = super().stop(timeout)
        if not self.started and self._cap is not None:
            self._cap.release()
            self._cap = None
        if self.state == "running":
            self.state = "stopped"
        return stopped

    def __enter__(self) -> Camera:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _finish(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _run(self) -> None:
        """Read frames into ``frames`` (paced for a file) until stopped, the file ends or the device is lost."""
        assert self._cap is not None
        period = 1.0 / self.fps if self.source.paced else 0.0
        image: np.ndarray | None = self._first
        due = time.perf_counter()
        while not self.stopping:
            if image is None:
                ok, image = self._cap.read()
                if not ok or image is None:
                    image = None
                    if not self._handle_end():
                        return
                    due = time.perf_counter()
                    continue
            if period:
                wait = due - time.perf_counter()
                if wait > 0 and self._sleep(wait):
                    return
                # a reader that fell behind by more than a frame re-anchors instead of bursting to catch up
                due = max(due + period, time.perf_counter())
            self.frames.put(image, clock.now())
            image = None

    def _handle_end(self) -> bool:
        """A read failed: loop a file, retry a device; False when capture is over."""
        assert self._cap is not None
        if self.source.paced:  # a file: end of file (or a damaged tail)
            if self.source.loop and self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
                self.loops += 1
                return True
            self.state, self.error = "ended", f"{self.label} reached its end"
            return False
        self.state, self.error = "lost", f"{self.label} stopped delivering frames"
        for _ in range(self.reconnect_attempts):
            if self._sleep(self.reconnect_delay):
                return False
            self._cap.release()
            self._cap = cv2.VideoCapture(self.source.target)
            if self._cap.isOpened():
                self.reconnects += 1
                self.state, self.error = "running", None
                return True
        self.error = f"{self.label} lost; {self.reconnect_attempts} reconnection attempts failed"
        return False
