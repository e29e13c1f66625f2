"""The face worker on real frames: stale frames dropped, rows stamped with capture times, no-face accounting."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pylsl
import pytest
import torch
from skimage import data

from models import registry
from models.contracts import EXPRESSION, ModalityWindow
from models.face_backbones import FER_CLASSES, FER_EMBEDDING_DIM
from models.face_features import FaceAnalyzer
from models.transforms import compute_features
from realtime.camera import Camera, LatestFrame, parse_camera_spec
from realtime.demo_video import demo_video_path, segment_of_frame
from realtime.face_worker import THUMBNAIL_WIDTH, FaceWorker
from realtime.ring_buffer import RingBuffer
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer("fer")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_video_path(tmp_path_factory.mktemp("cache"))


def buffers(dim: int = FER_EMBEDDING_DIM) -> tuple[RingBuffer, RingBuffer]:
    return RingBuffer(dim, 2048), RingBuffer(len(FER_CLASSES), 2048)



def test_fast_source_stale_frames_are_dropped_and_the_newest_processed(analyzer: FaceAnalyzer, demo: Path) -> None:
    cap = cv2.VideoCapture(str(demo))
    images = [cap.read()[1] for _ in range(60)]
    cap.release()
    slot = LatestFrame()
    face_buf, expr_buf = buffers()
    worker = FaceWorker(slot, analyzer, face_buf, expr_buf)
    put_times: list[float] = []

    def produce() -> None:  # ~200 fps, far faster than MTCNN on this CPU
        for k in range(300):
            put_times.append(slot.put(images[k % len(images)], pylsl.local_clock()).timestamp)
            time.sleep(0.005)

    worker.start()
    producer = threading.Thread(target=produce)
    producer.start()
    producer.join()
    wait_for(lambda: worker.latest is not None and worker.latest.frame_index == 299, timeout=10)
    worker.stop()
    c = worker.counters()
    assert c.frames_captured == 300
    assert c.frames_dropped > 0
    assert c.frames_processed + c.frames_dropped == c.frames_captured
    assert c.faces_found == c.frames_processed and c.errors == 0  # every demo frame shows a face
    # the rows carry the capture timestamps of the processed frames, in order, ending with the newest frame
    _, ts = face_buf.latest(face_buf.total)
    assert face_buf.total == expr_buf.total == c.frames_processed
    assert np.all(np.diff(ts) > 0) and set(ts) <= set(put_times) and ts[-1] == put_times[-1]
    _, expr_ts = expr_buf.latest(expr_buf.total)
    np.testing.assert_array_equal(ts, expr_ts)


def test_frames_without_a_face_write_nothing(analyzer: FaceAnalyzer) -> None:
    slot = LatestFrame()
    face_buf, expr_buf = buffers()
    worker = FaceWorker(slot, analyzer, face_buf, expr_buf)
    brick = cv2.cvtColor(data.brick(), cv2.COLOR_GRAY2BGR)
    for _ in range(3):
        worker.process(slot.put(brick, pylsl.local_clock()))
    c = worker.counters()
    assert (c.frames_processed, c.faces_found, c.frames_without_face) == (3, 0, 3)
    assert face_buf.total == expr_buf.total == 0
    latest = worker.latest
    assert latest.label is None and latest.box is None and latest.thumbnail.shape[1] == THUMBNAIL_WIDTH


def test_buffer_width_must_match_the_backbone(analyzer: FaceAnalyzer) -> None:
    with pytest.raises(ValueError, match="embeds in 128"):
        FaceWorker(LatestFrame(), analyzer, *buffers(2048))


def test_demo_camera_to_face_prior(analyzer: FaceAnalyzer, demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Demo camera (paced, 25 fps) -> worker -> expression rows -> shared transform -> face prior: happy astronaut."""
    monkeypatch.setenv("EMOLIVE_CACHE_DIR", str(demo.parent))
    face_buf, expr_buf = buffers()
    camera = Camera(parse_camera_spec("demo"))
    assert camera.source.target == str(demo)  # the cached video, not rebuilt
    worker = FaceWorker(camera.frames, analyzer, face_buf, expr_buf)
    def prior_window_filled() -> bool:  # the face prior reads 1 s of rows; stop early, within the astronaut's 3 s
        if expr_buf.total < 10:
            return False
        ts = expr_buf.read(expr_buf.newest_time(), 60.0)[1]
        return ts[-1] - ts[0] >= 1.5

    with camera:
        worker.start()
        wait_for(prior_window_filled, timeout=10)
        worker.stop()
    c = worker.counters()
    assert c.frames_processed + c.frames_dropped in (c.frames_captured, c.frames_captured - 1)
    latest = worker.latest
    segment = segment_of_frame(latest.frame_index).name
    assert segment.startswith("astronaut"), f"the worker was too slow: its latest frame shows {segment}"
    assert latest.label == "happy" and latest.embedding_norm > 0
    x1, y1, x2, y2 = latest.box
    assert 0 <= x1 < x2 <= THUMBNAIL_WIDTH and 0 <= y1 < y2 <= latest.thumbnail.shape[0]
    rows, ts = expr_buf.read(expr_buf.newest_time(), 2.0)
    prior = registry.build("face-prior")
    spec = prior.spec().inputs[EXPRESSION]
    feats = compute_features(spec, ModalityWindow(rows, ts, 25.0, FER_CLASSES), t_end=float(ts[-1]))
    out = prior({EXPRESSION: torch.from_numpy(feats)[None]})
    assert out["valence"].item() > 0.5


def test_max_rate_caps_the_analysed_frames(analyzer: FaceAnalyzer, demo: Path) -> None:
    cap = cv2.VideoCapture(str(demo))
    image = cap.read()[1]
    cap.release()
    slot = LatestFrame()
    worker = FaceWorker(slot, analyzer, *buffers(), max_rate=4.0)
    worker.start()
    start = time.monotonic()
    while time.monotonic() - start < 1.0:
        slot.put(image, pylsl.local_clock())
        time.sleep(0.01)
    worker.stop()
    c = worker.counters()
    assert 1 <= c.frames_processed <= 6  # 4 per second at most (+1 for the frame in hand at the start)
    assert c.frames_dropped >= c.frames_captured - c.frames_processed - 1
