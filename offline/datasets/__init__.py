"""Readers of the public datasets as distributed; each returns a list of ``offline.trials.Trial``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from offline.trials import Trial


class DatasetError(ValueError):
    """A dataset file is missing, damaged or not what its format documents; the message names the file."""


def reader(name: str) -> Callable[..., list[Trial]]:
    """The reader function for a dataset name used on the command line."""
    from offline.datasets import deap, mahnob, mahnob_features, seedv

    readers: dict[str, Callable[..., list[Trial]]] = {
        "deap": deap.read_deap,
        "mahnob": mahnob.read_mahnob,
        "mahnob-features": mahnob_features.read_mahnob_features,
        "seedv": seedv.read_seedv,
    }
    try:
        return readers[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(readers))}") from None


def read(name: str, root: str | Path, **options: Any) -> list[Trial]:
    """Read every trial of dataset ``name`` under ``root``."""
    return reader(name)(Path(root), **options)
