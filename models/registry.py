"""Model registry: every model can be built by name from its default config.

Modules that define models register them with ``@register("name", default_config)``;
``build(name, **overrides)`` makes one, ``names()`` lists them, so one test can go through
all of them and ``app.py --model NAME`` can run any of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch.nn as nn

from models.base import EmotionModel


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    factory: Callable[..., nn.Module]
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""


_REGISTRY: dict[str, RegisteredModel] = {}


def register(
    name: str, defaults: dict[str, Any] | None = None, description: str = ""
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class/function decorator adding a model factory to the registry under ``name``."""

    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ValueError(f"model name {name!r} is registered twice")
        _REGISTRY[name] = RegisteredModel(name, factory, dict(defaults or {}), description)
        return factory

    return decorate


def _load_all() -> None:
    # Importing the model modules runs their @register decorators.
    import models.zoo  # noqa: F401


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get(name: str) -> RegisteredModel:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(sorted(_REGISTRY))}") from None


def build(name: str, **overrides: Any) -> nn.Module:
    """Build model ``name`` with its default config updated by ``overrides``.

    The config is normalised to plain JSON values (tuples become lists) so that it can be
    written to a checkpoint manifest and rebuilt identically; an EmotionModel records the
    name and config it was built with (``architecture``, ``config``) for its spec.
    """
    entry = get(name)
    config = json.loads(json.dumps({**entry.defaults, **overrides}))
    model = entry.factory(**config)
    if isinstance(model, EmotionModel):
        model.architecture = name
        model.config = config
    return model
