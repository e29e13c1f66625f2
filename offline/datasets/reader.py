"""The dataset reader contract: what a reader returns (``Dataset``), what it is (``DatasetReader``), how it fails.

Every reader module (``deap``, ``mahnob``, ``mahnob_features``, ``seedv``, ``seediv``, ``sessions``) defines a function
``read_x(root, **options) -> list[Trial]`` and exposes it as ``READER``; ``offline.datasets`` registers them by
name. They import this module, never the package, so the package and its readers form no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from offline.trials import Trial


class DatasetError(ValueError):
    """A dataset file is missing, damaged or not what its format documents; the message names the file."""


def numeric_array(value: object, where: str) -> np.ndarray:
    """``value`` if it is a numpy array of booleans, integers or floats, else a DatasetError naming ``where``.

    Checked before any conversion: a list (possibly sharing sub-lists, so huge once expanded), an object,
    string or record array from a damaged file is refused instead of being converted."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        got = f"a {value.dtype} array" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"
        raise DatasetError(f"{where} must be a numeric array, got {got}")
    return value


@dataclass(frozen=True)
class Dataset:
    """What a reader returns: the trials of dataset ``name`` (its command-line name) read from folder ``root``."""

    name: str
    root: Path
    trials: list[Trial]

    @property
    def subjects(self) -> set[str]:
        return {t.subject for t in self.trials}


class DatasetReader(Protocol):
    """A dataset the command line can name (``--dataset NAME``) and how to read it from its folder."""

    @property
    def name(self) -> str: ...

    @property
    def precomputed(self) -> bool:
        """True when the signals are feature rows already at a model's step rate (not raw samples): training
        then feeds every branch of a sequence model from those rows."""
        ...

    def read(self, root: Path, **options: Any) -> Dataset:
        """Every trial under ``root``; ``options`` are the reader's own (``subjects``, ``source``, ...)."""
        ...


@dataclass(frozen=True)
class FunctionReader:
    """A ``DatasetReader`` made of a reader function ``function(root, **options) -> list[Trial]``."""

    name: str
    function: Callable[..., list[Trial]]
    precomputed: bool = False

    def read(self, root: Path, **options: Any) -> Dataset:
        return Dataset(self.name, Path(root), self.function(Path(root), **options))
