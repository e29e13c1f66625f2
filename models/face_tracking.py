"""Following a detected face across camera frames by optical flow, so MTCNN need not run on every frame.

MTCNN on a 640 x 480 frame costs several times the expression network on the crop; between two
detections the face moves a little. ``FaceTracker`` picks corner features inside the detected box,
follows them with pyramidal Lucas-Kanade flow, keeps the points that flow back to where they
started (forward-backward check), fits a similarity transform (rotation, scale, shift) to them
with RANSAC and moves the box and the five landmarks with it. It gives up, and the caller detects
again, when too few points follow, when the motion is implausible for one frame (scale change,
box leaving the frame), or after ``redetect_every`` frames, so a tracked box never drifts for long.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Corner features picked inside the face box at each detection.
MAX_POINTS = 60
#: Fewer points than this following the face (after the checks) means the track is lost.
MIN_POINTS = 10
#: Pixels a point may miss its start when flowed forward then back (forward-backward error).
MAX_ROUND_TRIP = 1.0
#: Scale change per frame beyond which a fitted motion is not believed (a face does not jump).
MAX_SCALE_STEP = 0.15
_LK = {"winSize": (21, 21), "maxLevel": 3,
       "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}


class FaceTracker:
    """The box and landmarks of one face from frame to frame (grayscale frames of one camera)."""

    def __init__(self, redetect_every: int = 10) -> None:
        if redetect_every < 1:
            raise ValueError(f"redetect_every must be >= 1, got {redetect_every}")
        self.redetect_every = redetect_every
        self._gray: np.ndarray | None = None
        self._points: np.ndarray | None = None
        self.box = np.zeros(4)
        self.landmarks = np.zeros((5, 2))
        self._age = 0  # frames followed since the last detection

    @property
    def active(self) -> bool:
        """True while a face is being followed and the next frame may be tracked instead of detected."""
        return self._points is not None and self._age < self.redetect_every - 1

    def reset(self) -> None:
        """Forget the face: the next frame is detected."""
        self._gray = self._points = None
        self._age = 0

    def start(self, gray: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> None:
        """Begin following the face MTCNN found in ``gray`` at ``box`` (x1, y1, x2, y2) with ``landmarks`` (5, 2)."""
        self.box, self.landmarks, self._age = np.asarray(box, float), np.asarray(landmarks, float), 0
        h, w = gray.shape
        x1, y1 = int(max(0, box[0])), int(max(0, box[1]))
        x2, y2 = int(min(w, box[2])), int(min(h, box[3]))
        mask = np.zeros_like(gray)
        mask[y1:y2, x1:x2] = 255
        points = cv2.goodFeaturesToTrack(gray, MAX_POINTS, 0.01, 4, mask=mask)
        if points is None or len(points) < MIN_POINTS:
            self.reset()
            return
        self._gray, self._points = gray, points.astype(np.float32)

    def follow(self, gray: np.ndarray) -> bool:
        """Move the box and landmarks onto ``gray``; False (and reset) when the face cannot be followed."""
        if self._gray is None or self._points is None:
            return False
        moved, ok, _ = cv2.calcOpticalFlowPyrLK(self._gray, gray, self._points, None, **_LK)  # type: ignore[call-overload]
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(gray, self._gray, moved, None, **_LK)  # type: ignore[call-overload]
        good = (ok.ravel() == 1) & (ok_back.ravel() == 1) & \
            (np.linalg.norm((back - self._points).reshape(-1, 2), axis=1) < MAX_ROUND_TRIP)
        if good.sum() < MIN_POINTS:
            self.reset()
            return False
        m, inliers = cv2.estimateAffinePartial2D(self._points[good], moved[good], method=cv2.RANSAC,
                                                 ransacReprojThreshold=2.0)
        if m is None or inliers is None or int(inliers.sum()) < MIN_POINTS:
            self.reset()
            return False
        scale = float(np.hypot(m[0, 0], m[1, 0]))
        centre = _apply(m, ((self.box[:2] + self.box[2:]) / 2)[None])[0]
        half = (self.box[2:] - self.box[:2]) * scale / 2  # the box stays upright; the landmarks carry the tilt
        box = np.concatenate([centre - half, centre + half])
        h, w = gray.shape
        if abs(scale - 1.0) > MAX_SCALE_STEP or box[0] < 0 or box[1] < 0 or box[2] > w or box[3] > h:
            self.reset()
            return False
        keep = good.copy()
        keep[good] = inliers.ravel() == 1
        self.box, self.landmarks = box, _apply(m, self.landmarks)
        self._gray, self._points = gray, moved[keep].reshape(-1, 1, 2)
        self._age += 1
        return True


def _apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A 2 x 3 affine transform applied to (n, 2) points."""
    out: np.ndarray = points @ m[:, :2].T + m[:, 2]
    return out
