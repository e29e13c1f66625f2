"""A restricted unpickler for the known dataset pickles (DEAP .dat, SEED-V .npz): numpy arrays, dicts, lists only.

A pickle can run arbitrary code; these files come from the datasets' owners, so only the
handful of numpy reconstruction functions they need are allowed and anything else is refused.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from numpy._core import multiarray, numeric

from offline.datasets import DatasetError

_ALLOWED: dict[tuple[str, str], Any] = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_module, "_reconstruct")] = multiarray._reconstruct
    _ALLOWED[(_module, "scalar")] = multiarray.scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_module, "_frombuffer")] = numeric._frombuffer
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = np.dtype


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What Python 3 protocol-2 pickles call (``_codecs.encode``) to rebuild bytes; latin1 only."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing bytes encoded as {encoding!r}")
    return text.encode("latin1")


_ALLOWED[("_codecs", "encode")] = _latin1_bytes


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array/dtype reconstruction; dicts and lists need no lookup."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not a numpy array, dict or list") from None


def loads(data: bytes, source: str | Path) -> Any:
    """Unpickle dataset bytes (Python 2 pickles decoded as latin1); errors name ``source``."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:  # any failure here means the file is damaged or not a dataset pickle
        raise DatasetError(f"{source}: cannot read dataset pickle ({type(exc).__name__}: {exc})") from exc


def load_file(path: Path) -> Any:
    """Unpickle one dataset file; a missing file is an error naming it."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    return loads(path.read_bytes(), path)
