"""The interface the live pipeline runs: a predictor that turns one multimodal Window into a ModelOutput.

Every runnable model (a trained bundle, an untrained registered network, the face-only
prior) is exposed through ``Predictor``; ``realtime/`` only ever sees this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from models.contracts import ModelOutput, Window
from models.spec import ModelSpec


class IncompatibleStreams(ValueError):
    """The live streams cannot feed this model (missing channels, wrong modality...)."""


class Predictor(ABC):
    """A runnable model: its spec, id, whether it was trained, and ``predict(window)``."""

    spec: ModelSpec
    model_id: str
    trained: bool
    device: str = "cpu"

    @abstractmethod
    def predict(self, window: Window) -> ModelOutput:
        """Run on one window; modalities absent from ``window`` are missing or stale."""

    def check_streams(self, streams: dict[str, tuple[tuple[str, ...], float]]) -> None:
        """Raise IncompatibleStreams naming what is missing, given {modality: (channel names, rate)}."""
        for modality, inp in self.spec.inputs.items():
            if modality not in streams:
                if inp.required:
                    raise IncompatibleStreams(f"model {self.model_id} needs a {modality} stream, none is running")
                continue
            have = set(streams[modality][0])
            missing = [c for c in inp.channels if c not in have]
            if missing:
                raise IncompatibleStreams(
                    f"model {self.model_id} needs {modality} channels missing from the stream: {', '.join(missing)}"
                )
