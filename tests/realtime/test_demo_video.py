"""The built-in demo camera: built atomically from packaged face photos, readable through OpenCV, faces found."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import pytest

from models.face_features import FaceAnalyzer
from realtime.demo_video import DEMO_FACES, FPS, HEIGHT, SECONDS_PER_FACE, WIDTH, demo_video_path, segment_of_frame


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_video_path(tmp_path_factory.mktemp("cache"))


def test_built_once_atomically_and_reads_back(demo: Path) -> None:
    assert [p.name for p in demo.parent.iterdir()] == [demo.name]  # no temp file left behind
    mtime = demo.stat().st_mtime_ns
    assert demo_video_path(demo.parent) == demo and demo.stat().st_mtime_ns == mtime  # cached, not rebuilt
    cap = cv2.VideoCapture(str(demo))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == round(SECONDS_PER_FACE * FPS) * len(DEMO_FACES)
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (HEIGHT, WIDTH, 3)


def test_mtcnn_finds_a_face_in_the_demo_frames(demo: Path) -> None:
    """Every 3rd frame (225 of 675, all nine photos, all phases of the motion) through the same OpenCV reader."""
    analyzer = FaceAnalyzer("fer")
    cap = cv2.VideoCapture(str(demo))
    found, tried, labels = 0, 0, Counter()
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % 3 == 0:
            obs = analyzer.analyze(frame)
            tried += 1
            found += obs is not None
            if obs is not None and segment_of_frame(index) is DEMO_FACES[0]:
                labels[obs.label] += 1
        index += 1
    cap.release()
    assert tried == 225
    assert found / tried >= 0.95
    assert labels.most_common(1)[0][0] == "happy"  # the astronaut smiles throughout her segment
