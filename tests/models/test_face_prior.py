"""The face prior: the fixed circumplex map, its registry entry, and its input through the shared transform."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models import registry
from models.classes import CIRCUMPLEX_DEGREES
from models.contracts import EXPRESSION, ModalityWindow
from models.face_backbones import FER_CLASSES
from models.face_prior import FacePrior, expression_to_valence_arousal
from models.transforms import MissingModality, compute_features


def _onehot(label: str) -> np.ndarray:
    p = np.zeros(len(FER_CLASSES))
    p[FER_CLASSES.index(label)] = 1.0
    return p


def test_each_class_lands_in_its_quadrant() -> None:
    quadrant = {"happy": (1, 1), "surprise": (1, 1), "angry": (-1, 1), "fear": (-1, 1), "disgust": (-1, 1),
                "sad": (-1, -1)}
    for label, (sv, sa) in quadrant.items():
        v, a = expression_to_valence_arousal(_onehot(label))
        assert np.sign(v) == sv and np.sign(a) == sa, label
        assert math.hypot(v, a) == pytest.approx(1.0)
        assert math.degrees(math.atan2(a, v)) % 360 == pytest.approx(CIRCUMPLEX_DEGREES[label])
    assert expression_to_valence_arousal(_onehot("neutral")) == (0.0, 0.0)


def test_frames_are_averaged_and_stay_in_range() -> None:
    rng = np.random.default_rng(1)
    frames = rng.dirichlet(np.ones(len(FER_CLASSES)), size=20)
    v, a = expression_to_valence_arousal(frames)
    per_frame = np.array([expression_to_valence_arousal(f) for f in frames])
    assert (v, a) == pytest.approx(tuple(per_frame.mean(axis=0)))
    assert -1 <= v <= 1 and -1 <= a <= 1
    half = expression_to_valence_arousal(np.stack([_onehot("happy"), _onehot("neutral")]))
    assert half == pytest.approx(tuple(0.5 * np.array(expression_to_valence_arousal(_onehot("happy")))))


@pytest.mark.parametrize("bad", [np.ones(6), np.zeros((0, 7)), np.full(7, np.nan), -np.ones(7), np.zeros(7)])
def test_bad_probabilities_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="expression probabilities"):
        expression_to_valence_arousal(bad)


def test_registered_fixed_model_matches_the_function() -> None:
    model = registry.build("face-prior")
    assert isinstance(model, FacePrior) and model.trainable is False
    assert sum(p.numel() for p in model.parameters()) == 0
    spec = model.spec()
    assert spec.targets == {"valence": "continuous", "arousal": "continuous"}
    inp = spec.inputs[EXPRESSION]
    assert (inp.transform, inp.window_seconds, inp.rate, inp.feature_dim) == ("frame_features", 1.0, 10.0, 7)
    x = torch.tensor(np.random.default_rng(2).dirichlet(np.ones(7), size=(3, 10)), dtype=torch.float32)
    out = model({EXPRESSION: x})
    for b in range(3):
        v, a = expression_to_valence_arousal(x[b].numpy())
        assert out["valence"][b].item() == pytest.approx(v, abs=1e-6)
        assert out["arousal"][b].item() == pytest.approx(a, abs=1e-6)


def test_prior_reads_irregular_frames_through_the_shared_transform() -> None:
    spec = registry.build("face-prior").spec().inputs[EXPRESSION]
    ts = 100.0 + np.cumsum(np.full(40, 1 / 23.0))  # ~23 fps frames, 1.7 s of them
    rows = np.tile(_onehot("happy"), (40, 1)).astype(np.float32)
    window = ModalityWindow(rows, ts, 23.0, tuple(FER_CLASSES))
    feats = compute_features(spec, window, t_end=float(ts[-1]))
    out = registry.build("face-prior")({EXPRESSION: torch.from_numpy(feats)[None]})
    assert out["valence"].item() == pytest.approx(math.cos(math.radians(7.8)), abs=1e-5)
    # the face went away 2 s ago: the window is refused, never zero-filled
    with pytest.raises(MissingModality, match="expression"):
        compute_features(spec, window, t_end=float(ts[-1]) + 2.0)
