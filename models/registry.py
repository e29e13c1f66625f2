"""Model registry: every model can be built by name from its default config.

Modules that define models register them with ``models.base.register``; ``build(name, **overrides)`` makes one,
``names()`` lists them, so one test can go through all of them and ``app.py --model NAME`` can run any of them.
The model modules are imported (``models.zoo``) on first use.
"""

from __future__ import annotations

import json
from typing import Any

from models.base import REGISTRY, EmotionModel, RegisteredModel


def _load_all() -> None:
    # Importing the model modules runs their @register decorators.
    import models.zoo  # noqa: F401


def names() -> list[str]:
    _load_all()
    return sorted(REGISTRY)


def get(name: str) -> RegisteredModel:
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(sorted(REGISTRY))}") from None


def build(name: str, **overrides: Any) -> EmotionModel:
    """Build model ``name`` with its default config updated by ``overrides``.

    The config is normalised to plain JSON values (tuples become lists) so that it can be
    written to a checkpoint manifest and rebuilt identically; the model records the
    name and config it was built with (``architecture``, ``config``) for its spec.
    """
    entry = get(name)
    config = json.loads(json.dumps({**entry.defaults, **overrides}))
    model = entry.factory(**config)
    model.architecture = name
    model.config = config
    return model
