"""The model contract on one screen: what a window is, what a model needs and returns, what the live side runs.

Shared by the live pipeline, offline training and calibration: modality names, a window of samples
(``ModalityWindow`` / ``Window``), a model's spec (``InputSpec`` / ``ModelSpec``, stored in every checkpoint
manifest so a model is always fed the way it was trained), the network contract (``Network``, which
``models.base.EmotionModel`` implements in torch), and the live interface (``Predictor`` -> ``ModelOutput``).
Nothing here imports torch at run time, so the live side can read the contract without loading it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from models.classes import BINARY_CLASSES, numbered_classes

if TYPE_CHECKING:
    from torch import Tensor

# Modality names used everywhere (ring buffers, windows, manifests).
EEG = "eeg"
FACE = "face"  # per-frame face embeddings from the chosen backbone
EXPRESSION = "expression"  # per-frame facial-expression class probabilities (FER, 7 classes)
EYE = "eye"  # eye-tracker samples as the tracker sends them (gaze, pupil, validity; models.eye_features reads them)


@dataclass(frozen=True)
class ModalityWindow:
    """One modality's samples over a window: data (n_samples, n_channels), LSL-clock timestamps.

    ``first_index``: the stream's sample counter at ``data[0]`` when the samples come from a counted
    buffer without a hole (live ring buffers); lets stepped features reuse steps of earlier windows."""

    data: np.ndarray
    timestamps: np.ndarray
    rate: float
    channels: tuple[str, ...]
    first_index: int | None = None

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"window data must be 2-D (samples, channels), got shape {self.data.shape}")
        if len(self.timestamps) != self.data.shape[0]:
            raise ValueError(f"{len(self.timestamps)} timestamps for {self.data.shape[0]} samples")
        if self.channels and len(self.channels) != self.data.shape[1]:
            raise ValueError(f"{len(self.channels)} channel names for {self.data.shape[1]} channels")

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])


# A window of every modality available at one instant, keyed by modality name.
Window = dict[str, ModalityWindow]


@dataclass(frozen=True)
class InputSpec:
    """One modality's input: which channels (by name), at what rate, how long a window, which transform.

    ``channels`` empty means "any feature vector of ``feature_dim``" (e.g. face embeddings).
    ``transform`` names a function in ``models.transforms`` applied with ``params``.
    """

    modality: str
    window_seconds: float
    rate: float
    transform: str
    channels: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    feature_dim: int = 0
    required: bool = True

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> InputSpec:
        d = dict(d)
        d["channels"] = tuple(d.get("channels", ()))
        return cls(**d)


@dataclass(frozen=True)
class ModelSpec:
    """Architecture name + constructor config, task, and the inputs per modality.

    ``targets`` maps a target ("valence", "arousal", "emotion") to "binary" (class probabilities,
    rating >= 5 is high), "multiclass" (the rating is the class) or "continuous" (-1..1).
    ``fallback`` documents what the model does when an optional modality is missing or stale
    (never silent zeros). ``classes`` names the classes of classification targets, in the order of
    their logits (e.g. SEED-V's emotions, ``models.classes``); the network sets them from its config,
    so they are not serialised: a manifest rebuilds its network, whose spec carries them.
    """

    architecture: str
    config: dict[str, Any]
    targets: dict[str, str]
    inputs: dict[str, InputSpec]
    fallback: str = "none"
    classes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def class_names(self, target: str, n: int) -> tuple[str, ...]:
        """The names of ``target``'s ``n`` class probabilities: the spec's when it names ``n``, "low" and "high"
        for a binary target, else "class0", "class1"..."""
        named = self.classes.get(target, ())
        if len(named) == n:
            return named
        if self.targets.get(target) == "binary" and n == len(BINARY_CLASSES):
            return BINARY_CLASSES
        return numbered_classes(n)

    def to_json(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture,
            "config": self.config,
            "targets": self.targets,
            "inputs": {k: v.to_json() for k, v in self.inputs.items()},
            "fallback": self.fallback,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ModelSpec:
        return cls(
            architecture=d["architecture"],
            config=dict(d["config"]),
            targets=dict(d["targets"]),
            inputs={k: InputSpec.from_json(v) for k, v in d["inputs"].items()},
            fallback=d.get("fallback", "none"),
        )


class Network(Protocol):
    """What every registered network is (``models.base.EmotionModel`` is the torch base class that implements it).

    Called with a dict of per-modality tensors (B, steps, features), already transformed by the functions its
    spec names (``models.transforms.compute_features`` plus a batch axis), it returns a dict of outputs:
    - "valence" / "arousal": logits (B, n_classes) for binary targets, or values in -1..1 of shape (B,)
      (window-level) or (B, T) (per step) for continuous targets;
    - optional "saliency" (B, T): attention over time steps, summing to 1 (SATA);
    - optional "modality_weights" (B, T, M) or (B, M): attention over modalities (LFAN), ordered as spec().inputs.
    """

    trainable: bool  # False for fixed models (e.g. the face prior) that have nothing to learn
    architecture: str  # the registry name and JSON config it was built with (a manifest stores both)
    config: dict[str, Any]

    def spec(self) -> ModelSpec:
        """Input contract and targets for this instance's configuration."""

    def __call__(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Map per-modality input tensors to the output dict described above."""


@dataclass
class ModelOutput:
    """What a live model returns for one window (before the pipeline stamps time and id).

    valence / arousal are on the -1..1 scale (NaN when the model does not predict that
    dimension); probabilities are per task ("valence", "arousal") over the model's classes;
    saliency is SATA's attention over the window's time steps; modality_weights holds
    per-modality attention (LFAN) or availability weights.
    """

    valence: float
    arousal: float
    probabilities: dict[str, np.ndarray] = field(default_factory=dict)
    saliency: np.ndarray | None = None
    modality_weights: dict[str, float] = field(default_factory=dict)
    confidence: float | None = None


class IncompatibleStreams(ValueError):
    """The live streams cannot feed this model (missing channels, wrong modality...)."""


def article(word: str) -> str:
    """'a' or 'an' before ``word`` in messages ("an expression stream")."""
    return "an" if word[:1].lower() in "aeiou" else "a"


class Predictor(ABC):
    """A runnable model, all ``realtime/`` ever sees: its spec, id, whether it was trained, its state
    (``models.live``), the device and backend it runs on, and ``predict(window)``."""

    spec: ModelSpec
    model_id: str
    trained: bool
    state: str = ""  # one of models.live.MODEL_STATES; empty: from ``trained`` alone (state_or_trained)
    device: str = "cpu"
    backend: str = "torch"  # what runs the forward pass ("torch" or "onnx")

    def describe(self) -> str:
        """One line: the model, where and in what it runs."""
        return f"model {self.model_id} on {self.device}, forward pass in {self.backend}"

    @abstractmethod
    def predict(self, window: Window) -> ModelOutput:
        """Run on one window; modalities absent from ``window`` are missing or stale."""

    def check_streams(self, streams: dict[str, tuple[tuple[str, ...], float]]) -> None:
        """Raise IncompatibleStreams naming what is missing, given {modality: (channel names, rate)}."""
        for modality, inp in self.spec.inputs.items():
            if modality not in streams:
                if inp.required:
                    raise IncompatibleStreams(f"model {self.model_id} needs {article(modality)} {modality} stream, "
                                              "none is running")
                continue
            have = set(streams[modality][0])
            missing = [c for c in inp.channels if c not in have]
            if missing:
                raise IncompatibleStreams(
                    f"model {self.model_id} needs {modality} channels missing from the stream: {', '.join(missing)}"
                )
