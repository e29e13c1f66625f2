"""What a model needs and produces: the input contract per modality and the task.

A ``ModelSpec`` is stored in every checkpoint manifest and drives both the offline
windowing and the live inference worker, so a model is always fed the way it was trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
    (never silent zeros).
    """

    architecture: str
    config: dict[str, Any]
    targets: dict[str, str]
    inputs: dict[str, InputSpec]
    fallback: str = "none"

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
