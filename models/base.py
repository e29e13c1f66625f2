"""The one model contract every registered network follows (braindecode-style).

An ``EmotionModel`` takes a dict of per-modality tensors (B, steps, features), already
transformed by the functions named in its spec (``models.transforms.compute_features`` plus a
batch axis), and returns a dict of outputs:
- "valence" / "arousal": logits (B, n_classes) for binary targets, or values in -1..1 of
  shape (B,) (window-level) or (B, T) (per step) for continuous targets;
- optional "saliency" (B, T): attention over time steps, summing to 1 (SATA);
- optional "modality_weights" (B, T, M) or (B, M): attention over modalities (LFAN), ordered as spec().inputs.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
import torch.nn as nn

from models.spec import ModelSpec


class EmotionModel(nn.Module):
    """Base class of every registered network; ``spec()`` says what it needs and predicts."""

    #: False for fixed models (e.g. the face prior) that have nothing to learn.
    trainable: bool = True
    #: The registry name and JSON config this instance was built with (set by ``models.registry.build``);
    #: a checkpoint manifest stores both so that loading rebuilds the same network.
    architecture: str = ""
    config: dict[str, Any] = {}  # noqa: RUF012 (replaced per instance by registry.build, never mutated)

    @abstractmethod
    def spec(self) -> ModelSpec:
        """Input contract and targets for this instance's configuration."""

    @abstractmethod
    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map per-modality input tensors to the output dict described in the module docstring."""
