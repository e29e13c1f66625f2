"""What every registered network builds on: the torch base class and the decorator that registers it by name.

``EmotionModel`` implements ``models.contracts.Network`` in torch; modules defining models register them with
``@register("name", default_config)``. The lookups (``models.registry``) import those modules, never the reverse,
so the model room has no import cycle.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from models.contracts import ModelSpec


class EmotionModel(nn.Module):
    """Base class of every registered network (``models.contracts.Network``); ``spec()`` says what it needs."""

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
        """Map per-modality input tensors to the output dict described by ``models.contracts.Network``."""


Factory = Callable[..., EmotionModel]


@dataclass(frozen=True)
class RegisteredModel:
    """A registry entry: the name, the factory (a class or function) and its default config."""

    name: str
    factory: Factory
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""


#: Every registered model by name; filled by ``register`` as the model modules are imported.
REGISTRY: dict[str, RegisteredModel] = {}


def register(name: str, defaults: dict[str, Any] | None = None,
             description: str = "") -> Callable[[Callable[..., EmotionModel]], Callable[..., EmotionModel]]:
    """Class/function decorator adding a model factory to the registry under ``name``."""

    def decorate(factory: Callable[..., EmotionModel]) -> Callable[..., EmotionModel]:
        if name in REGISTRY and REGISTRY[name].factory is not factory:
            raise ValueError(f"model name {name!r} is registered twice")
        REGISTRY[name] = RegisteredModel(name, factory, dict(defaults or {}), description)
        return factory

    return decorate
