"""The face prior: FER expression probabilities placed on the valence/arousal plane by a fixed circumplex map.

Nothing is learned. Each of the 7 FER classes gets its point on Russell's circumplex of affect
(``models.classes.circumplex_point``: the angles of Russell's 1980 circular scaling, neutral at the
centre; the dashboard places classifiers' classes at the same points). A window's estimate is the
probability-weighted mean of these points over its frames, so it always lies inside the unit disc
(both values in -1..1), and an uncertain face is drawn towards the centre.
"""

from __future__ import annotations

import numpy as np
import torch

from models.base import EmotionModel, register
from models.classes import circumplex_point
from models.contracts import EXPRESSION, ModelSpec
from models.face_backbones import FER_CLASSES
from models.transforms import frames_input

#: (valence, arousal) per FER class, rows in FER_CLASSES order (every FER class has a place).
CLASS_VALENCE_AROUSAL = np.array([circumplex_point("emotion", c) for c in FER_CLASSES], dtype=np.float64)

FALLBACK = (
    "needs expression frames: without a face for more than half of its 1 s window (frames older than 0.5 s do "
    "not count) the window raises MissingModality and no estimate is made"
)


def expression_to_valence_arousal(probs: np.ndarray) -> tuple[float, float]:
    """FER probabilities of one frame (7,) or of several frames (n, 7), averaged -> (valence, arousal) in -1..1."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2 or p.shape[1] != len(FER_CLASSES) or p.shape[0] == 0:
        raise ValueError(f"expected expression probabilities of shape (7,) or (n, 7), got {np.shape(probs)}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("expression probabilities must be finite and non-negative")
    totals = p.sum(axis=1, keepdims=True)
    if (totals <= 0).any():
        raise ValueError("a frame's expression probabilities sum to zero")
    v, a = (p / totals).mean(axis=0) @ CLASS_VALENCE_AROUSAL
    return float(v), float(a)


class FacePrior(EmotionModel):
    """Fixed map from the last ``window_seconds`` of FER probabilities to continuous valence and arousal."""

    trainable = False
    coordinates: torch.Tensor  # a buffer: (7, 2) valence and arousal of each expression class

    def __init__(self, window_seconds: float = 1.0, rate: float = 10.0, max_gap_seconds: float = 0.5,
                 max_missing_fraction: float = 0.5) -> None:
        super().__init__()
        self.input = frames_input(EXPRESSION, len(FER_CLASSES), round(window_seconds * rate), rate,
                                  max_gap_seconds, max_missing_fraction)
        self.register_buffer("coordinates", torch.tensor(CLASS_VALENCE_AROUSAL, dtype=torch.float32),
                             persistent=False)

    def spec(self) -> ModelSpec:
        return ModelSpec(self.architecture or "face-prior", self.config,
                         {"valence": "continuous", "arousal": "continuous"}, {EXPRESSION: self.input}, FALLBACK)

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """{EXPRESSION: (B, T, 7)} -> {"valence": (B,), "arousal": (B,)}: frame average, then the fixed map."""
        p = inputs[EXPRESSION]
        p = p / p.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        va = p.mean(dim=1) @ self.coordinates
        return {"valence": va[:, 0], "arousal": va[:, 1]}


register(
    "face-prior",
    {"window_seconds": 1.0, "rate": 10.0},
    "fixed circumplex map of FER expression probabilities (1 s mean) to valence/arousal; nothing trained",
)(FacePrior)
