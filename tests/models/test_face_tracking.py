"""Detect + track: MTCNN on one frame in N, optical flow between, on the demo camera's real face photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.face_features import FaceAnalyzer
from models.face_tracking import FaceTracker
from realtime.demo_video import FPS, SECONDS_PER_FACE, demo_video_path


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """The demo video's first 1.5 faces: a moving face, a cut to another photo, the next face moving."""
    cap = cv2.VideoCapture(str(demo_video_path(tmp_path_factory.mktemp("cache"))))
    out = []
    while len(out) < round(1.5 * SECONDS_PER_FACE * FPS):
        ok, frame = cap.read()
        assert ok
        out.append(frame)
    cap.release()
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    return inter / (float(np.prod(a[2:] - a[:2])) + float(np.prod(b[2:] - b[:2])) - inter)


def test_a_tracked_face_stays_where_mtcnn_finds_it_across_motion_and_a_cut(frames: list[np.ndarray]) -> None:
    detecting, tracking = FaceAnalyzer("fer"), FaceAnalyzer("fer", redetect_every=10)
    tracked, ious = [], []
    for frame in frames:
        truth, obs = detecting.analyze(frame), tracking.analyze(frame)
        assert (truth is None) == (obs is None)  # a face wherever MTCNN finds one, and only there
        if truth is not None and obs is not None:
            assert not truth.tracked
            tracked.append(obs.tracked)
            ious.append(_iou(truth.box, obs.box))
    assert len(ious) >= 0.9 * len(frames)
    assert min(ious) > 0.7 and np.median(ious) > 0.85
    # 9 of 10 frames followed, detections at the schedule and after the cut to the next photo
    assert 0.75 <= np.mean(tracked) <= 0.9
    cut = round(SECONDS_PER_FACE * FPS)
    assert not tracked[cut]  # the first frame of the next photo: the track was lost, MTCNN ran


def test_a_face_that_leaves_is_not_followed_into_the_empty_picture(frames: list[np.ndarray]) -> None:
    analyzer = FaceAnalyzer("fer", redetect_every=10)
    assert analyzer.analyze(frames[0]) is not None
    assert analyzer.tracker is not None and analyzer.tracker.active
    empty = np.full_like(frames[0], 60)
    assert analyzer.analyze(empty) is None  # nothing to follow: the track is lost, MTCNN finds nothing
    assert not analyzer.tracker.active
    obs = analyzer.analyze(frames[1])
    assert obs is not None and not obs.tracked  # back: detected again


def test_detecting_on_every_frame_never_tracks(frames: list[np.ndarray]) -> None:
    analyzer = FaceAnalyzer("fer")
    assert analyzer.tracker is None
    assert not any(obs.tracked for obs in map(analyzer.analyze, frames[:5]) if obs is not None)
    with pytest.raises(ValueError, match="redetect_every must be >= 1"):
        FaceTracker(0)


def test_the_tracker_moves_the_box_and_landmarks_with_the_picture(frames: list[np.ndarray]) -> None:
    """A frame shifted by (7, -4) pixels: the box and landmarks follow by the same shift."""
    gray = cv2.cvtColor(frames[10], cv2.COLOR_BGR2GRAY)
    found = FaceAnalyzer("fer").detect(frames[10])
    assert found is not None
    box, landmarks = found[0][0], found[2][0]
    tracker = FaceTracker(redetect_every=5)
    tracker.start(gray, box, landmarks)
    shifted = cv2.warpAffine(gray, np.float32([[1, 0, 7], [0, 1, -4]]), gray.shape[::-1],
                             borderMode=cv2.BORDER_REPLICATE)
    assert tracker.follow(shifted)
    np.testing.assert_allclose(tracker.box, box + np.array([7, -4, 7, -4]), atol=0.5)
    np.testing.assert_allclose(tracker.landmarks, landmarks + np.array([7, -4]), atol=0.5)
