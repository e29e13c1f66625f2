"""The Prediction published by the inference worker to every sink (LSL, recorder, dashboard)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.classes import numbered_classes
from models.contracts import ModelSpec
from models.live import state_or_trained


def labels_of(classes: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """``<target>:<class>`` for every class of every target, in order (e.g. "emotion:happy")."""
    return tuple(f"{target}:{name}" for target, names in classes.items() for name in names)


def spec_class_labels(spec: ModelSpec) -> tuple[str, ...]:
    """The class labels a model's predictions will carry, from its spec alone; empty when it has no classification
    target or when a target's class count is known only from its output (a multiclass target the spec names none of)."""
    classes: dict[str, tuple[str, ...]] = {}
    for target, kind in spec.targets.items():
        if kind == "continuous":
            continue
        n = len(spec.classes.get(target, ())) or (2 if kind == "binary" else 0)
        if not n:
            return ()
        classes[target] = spec.class_names(target, n)
    return labels_of(classes)


@dataclass
class Prediction:
    """One output of the inference worker.

    time: end of the window on the LSL clock; published: LSL clock when it was published
    (published - newest sample time is the freshness latency). valence / arousal in -1..1
    (NaN when the model does not predict it). available: per-modality flag (present and
    fresh). face_valence / face_arousal: the face-only prior for comparison (NaN without a face).
    problems: why something is missing, keyed by modality or "model" (e.g. "stale: newest sample
    2.1 s old", "not run: eeg unavailable"); empty when everything was used. trained: the model's
    weights were fitted to labelled data; model_state: trained, untrained, uncalibrated prior or
    calibrated (``models.live``; empty from producers that set none: then ``trained`` alone decides).
    probabilities: per classification target ("emotion", "valence"...), its class probabilities; classes:
    their names in the same order (``ModelSpec.class_names``; "class0"... where a producer named none).
    """

    time: float
    published: float
    valence: float
    arousal: float
    model_id: str
    trained: bool
    available: dict[str, bool]
    newest_sample: dict[str, float] = field(default_factory=dict)
    probabilities: dict[str, np.ndarray] = field(default_factory=dict)
    classes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    saliency: np.ndarray | None = None
    modality_weights: dict[str, float] = field(default_factory=dict)
    confidence: float | None = None
    face_valence: float = float("nan")
    face_arousal: float = float("nan")
    band_power: np.ndarray | None = None  # (n_channels, n_bands) of the EEG window, for display
    problems: dict[str, str] = field(default_factory=dict)
    model_state: str = ""

    @property
    def state(self) -> str:
        """The model's state, falling back on ``trained`` when none was set."""
        return state_or_trained(self.model_state, self.trained)

    def class_labels(self) -> tuple[str, ...]:
        """One label per class probability, ``<target>:<class>`` (e.g. "emotion:happy"), targets in order."""
        names: dict[str, tuple[str, ...]] = {}
        for target, p in self.probabilities.items():
            given = self.classes.get(target, ())
            names[target] = given if len(given) == len(p) else numbered_classes(len(p))
        return labels_of(names)

    def class_values(self) -> np.ndarray:
        """Every class probability (float64), in the order of ``class_labels``; empty without classes."""
        if not self.probabilities:
            return np.zeros(0)
        return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in self.probabilities.values()])
