"""Per-frame face analysis: MTCNN detection, eye-levelled crop, FER expression probabilities and an embedding.

The same ``FaceAnalyzer`` serves the live face worker and any offline feature extraction, so a
model always sees face features computed one way. Detection runs on a downscaled copy of the
frame (MTCNN's cost grows with the pixel count); the crops are cut from the full-resolution frame.
Live, ``redetect_every`` > 1 follows the detected face by optical flow between detections
(``models.face_tracking``): MTCNN runs on one frame in ``redetect_every`` and whenever the track is
lost; the crop, expression and embedding are computed on every frame as after a detection.
Offline extraction samples frames far apart and detects on each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

from models.face_backbones import FER_CLASSES, FerBackbone, ResNet50Backbone
from models.face_tracking import FaceTracker

BACKBONES = ("fer", "resnet50")
#: Margin added on each side of MTCNN's (tight) box, as a fraction of the box size, before cropping.
CROP_MARGIN = 0.15


@dataclass(frozen=True)
class FaceObservation:
    """The largest face in one frame: box and landmarks in frame pixels, FER probabilities, embedding."""

    box: np.ndarray  # (4,) x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2) eyes (image left, image right), nose, mouth corners
    detection_probability: float
    expression: np.ndarray  # (7,) probabilities over FER_CLASSES
    embedding: np.ndarray  # (embedding_dim,)
    tracked: bool = False  # box and landmarks followed from an earlier detection, not detected in this frame

    @property
    def label(self) -> str:
        return FER_CLASSES[int(np.argmax(self.expression))]

    @property
    def probability(self) -> float:
        return float(np.max(self.expression))


def align_face(image: np.ndarray, box: np.ndarray, landmarks: np.ndarray, size: int,
               margin: float = CROP_MARGIN) -> np.ndarray:
    """Square crop of ``size`` pixels around ``box``, rotated so that the eyes lie on a horizontal line."""
    (lx, ly), (rx, ry) = landmarks[0], landmarks[1]
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    side = max(box[2] - box[0], box[3] - box[1]) * (1.0 + 2.0 * margin)
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, size / side)
    m[:, 2] += (size / 2.0 - cx, size / 2.0 - cy)  # move the face centre to the crop centre
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class FaceAnalyzer:
    """Find the largest face in a BGR frame and describe it (``analyze``), or say there is none (None).

    ``backbone`` picks the embedding: "fer" (128-d, the mini-Xception's pooled features) or
    "resnet50" (2048-d, ImageNet ResNet-50). The 7 FER probabilities are always computed.
    ``detect_width``: frames wider than this are downscaled for detection. ``min_face_size`` is
    in full-frame pixels. ``redetect_every``: 1 detects on every frame; n > 1 follows the face
    between detections, detecting on one frame in n (consecutive frames of one camera only).
    """

    def __init__(self, backbone: str = "fer", device: str = "cpu", detect_width: int = 320,
                 min_face_size: int = 40, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 redetect_every: int = 1) -> None:
        if backbone not in BACKBONES:
            raise ValueError(f"unknown face backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
        from facenet_pytorch import MTCNN  # heavy import, only when a face path is built

        self.backbone = backbone
        self.device = device
        self.detect_width = detect_width
        self.min_face_size = min_face_size
        self.thresholds = thresholds
        self._mtcnn_cache: dict[int, MTCNN] = {}
        self._mtcnn_class = MTCNN
        self.fer = FerBackbone(device)
        self.resnet = ResNet50Backbone.pretrained(device) if backbone == "resnet50" else None
        self.tracker = FaceTracker(redetect_every) if redetect_every > 1 else None
        self._detection_probability = 0.0  # of the detection the tracker follows

    @property
    def embedding_dim(self) -> int:
        return (self.resnet or self.fer).embedding_dim

    def _mtcnn(self, min_size: int) -> Any:  # a facenet_pytorch MTCNN (untyped library)
        # MTCNN's image pyramid depends on min_face_size, which depends on the detection scale.
        if min_size not in self._mtcnn_cache:
            self._mtcnn_cache[min_size] = self._mtcnn_class(
                keep_all=True, min_face_size=min_size, thresholds=list(self.thresholds), device=self.device
            )
        return self._mtcnn_cache[min_size]

    def detect(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """All faces: (boxes (K, 4), probabilities (K,), landmarks (K, 5, 2)) in frame pixels, or None."""
        scale = min(1.0, self.detect_width / frame_bgr.shape[1])
        small = frame_bgr if scale == 1.0 else cv2.resize(frame_bgr, None, fx=scale, fy=scale,
                                                          interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        mtcnn = self._mtcnn(max(12, round(self.min_face_size * scale)))
        with torch.inference_mode():
            boxes, probs, points = mtcnn.detect(rgb, landmarks=True)
        if boxes is None:
            return None
        # (facenet-pytorch hands back object arrays)
        boxes = np.asarray(boxes, dtype=np.float64) / scale
        return boxes, np.asarray(probs, dtype=np.float64), np.asarray(points, dtype=np.float64) / scale

    def analyze(self, frame_bgr: np.ndarray) -> FaceObservation | None:
        """Detect (or follow, see ``redetect_every``), keep the largest face, align it, classify its expression
        and embed it."""
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        tracked = self.tracker is not None and self.tracker.active and self.tracker.follow(gray)
        if self.tracker is not None and tracked:
            box, landmarks = self.tracker.box, self.tracker.landmarks
        else:
            found = self.detect(frame_bgr)
            if found is None:
                if self.tracker is not None:
                    self.tracker.reset()
                return None
            boxes, probs, points = found
            i = int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
            box, landmarks, self._detection_probability = boxes[i], points[i], float(probs[i])
            if self.tracker is not None:
                self.tracker.start(gray, box, landmarks)
        expression, fer_embedding = self.fer(align_face(gray, box, landmarks, self.fer.input_size)[None])
        if self.resnet is None:
            embedding = fer_embedding[0]
        else:
            crop = align_face(frame_bgr, box, landmarks, self.resnet.input_size)
            embedding = self.resnet(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)[None])[0]
        return FaceObservation(box, landmarks, self._detection_probability, expression[0], embedding, tracked)
