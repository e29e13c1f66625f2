"""A restricted unpickler for the known dataset pickles (DEAP .dat, SEED-V .npz): numeric arrays, dicts, lists only.

A pickle can run arbitrary code; these files come from the datasets' owners, so only the
names numpy's array pickles use are resolved, and not to numpy itself: numpy's
``ndarray.__setstate__`` and ``dtype.__setstate__`` trust their state and crash the
interpreter on a crafted one (an object array given a short list, a datetime dtype without
metadata). Here a pickled array is rebuilt from its shape, a plain numeric dtype (bool,
integer, float, complex) and exactly its bytes, so a small file cannot yield a large array.
Lengths beyond the data are refused before anything is allocated.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
from pathlib import Path
from typing import Any

import numpy as np

from offline.datasets.reader import DatasetError

_ARRAY_TYPE = object()  # what "numpy.ndarray" resolves to: only _reconstruct's first argument, never callable


def _raw(data: object) -> bytes:
    """Array or scalar bytes: bytes, or a Python 2 str read as latin1."""
    if isinstance(data, str):
        return data.encode("latin1")
    if not isinstance(data, bytes | bytearray):
        raise pickle.UnpicklingError(f"array data must be bytes, got {type(data).__name__}")
    return bytes(data)


class _Dtype:
    """What ``numpy.dtype(spec, align, copy)`` builds: a numeric dtype whose BUILD state may set the byte order."""

    dtype: np.dtype | None = None

    def __init__(self, spec: object, align: object = False, copy: object = True) -> None:
        dtype = np.dtype(spec) if isinstance(spec, str) else None
        if dtype is None or dtype.kind not in "biufc":
            raise pickle.UnpicklingError(f"refusing dtype {spec!r}: not a plain numeric dtype")
        self.dtype = dtype

    def __setstate__(self, state: object) -> None:
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else None
        if self.dtype is None or order not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError(f"refusing dtype state {state!r}")
        self.dtype = self.dtype.newbyteorder(order) if order in "<>" else self.dtype


def _dtype_of(value: object) -> np.dtype:
    if not isinstance(value, _Dtype) or value.dtype is None:
        raise pickle.UnpicklingError(f"expected a pickled numeric dtype, got {type(value).__name__}")
    return value.dtype


class _Array:
    """What ``_reconstruct(ndarray, (0,), "b")`` builds; BUILD fills it from (version, shape, dtype, fortran, bytes)."""

    array: np.ndarray | None = None

    def __init__(self, subtype: object, shape: object, _dtype: object) -> None:
        if subtype is not _ARRAY_TYPE or shape != (0,):
            raise pickle.UnpicklingError(f"refusing to build an array of shape {shape!r}: not how numpy pickles arrays")

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise pickle.UnpicklingError("array state must be (version, shape, dtype, fortran, data)")
        _, shape, dtype, fortran, data = state
        self.array = _from_bytes(_raw(data), _dtype_of(dtype), shape, "F" if fortran else "C")


def _from_bytes(data: bytes, dtype: np.dtype, shape: object, order: object) -> np.ndarray:
    """A writable array of ``shape`` holding exactly ``data``."""
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape) or order not in ("C", "F"):
        raise pickle.UnpicklingError(f"bad array shape {shape!r} or order {order!r}")
    if math.prod(shape) * dtype.itemsize != len(data):
        raise pickle.UnpicklingError(f"{len(data)} bytes for an array of shape {shape} of {dtype}")
    return np.frombuffer(data, dtype).reshape(shape, order=order).copy(order="K")


def _scalar(dtype: object, data: object) -> np.generic:
    """What ``numpy.core.multiarray.scalar(dtype, bytes)`` builds: one number."""
    # numpy's stubs type a 0-d array's [()] as an array; it is a numpy scalar
    return _from_bytes(_raw(data), _dtype_of(dtype), (), "C")[()]  # type: ignore[return-value]


def _frombuffer(buffer: object, dtype: object, shape: object, order: object, _axis_order: object = None) -> np.ndarray:
    """What protocol-5 pickles of arrays call (``numpy.core.numeric._frombuffer``); C or Fortran order only."""
    return _from_bytes(_raw(buffer), _dtype_of(dtype), shape, order)


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What Python 3 protocol-2 pickles call (``_codecs.encode``) to rebuild bytes; latin1 only."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing bytes encoded as {encoding!r}")
    return text.encode("latin1")


_ALLOWED: dict[tuple[str, str], Any] = {("numpy", "ndarray"): _ARRAY_TYPE, ("numpy", "dtype"): _Dtype,
                                        ("_codecs", "encode"): _latin1_bytes}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_module, "_reconstruct")] = _Array
    _ALLOWED[(_module, "scalar")] = _scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_module, "_frombuffer")] = _frombuffer


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy's array, dtype and scalar reconstruction, to the safe builders above."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not a numpy array, dict or list") from None


def _resolve(value: Any, done: dict[int, tuple[Any, Any]]) -> Any:
    """``value`` with the arrays and dtypes built above in place of their builders (dicts and lists updated in
    place, tuples rebuilt; every shared object visited once, and kept in ``done`` so that its id stays its own)."""
    if id(value) in done:
        return done[id(value)][1]
    if isinstance(value, _Array | _Dtype):
        built = value.array if isinstance(value, _Array) else value.dtype
        if built is None:
            raise pickle.UnpicklingError("a pickled array or dtype was never filled in")
        done[id(value)] = (value, built)
    elif isinstance(value, dict | list):
        done[id(value)] = (value, value)
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            value[key] = _resolve(item, done)
    elif isinstance(value, tuple):
        done[id(value)] = (value, tuple(_resolve(item, done) for item in value))
    else:
        done[id(value)] = (value, value)
    return done[id(value)][1]


def loads(data: bytes, source: str | Path) -> Any:
    """Unpickle dataset bytes (Python 2 pickles decoded as latin1); errors name ``source``."""
    try:
        for _ in pickletools.genops(data):  # reads every length, so one beyond the data fails before allocating
            pass
        return _resolve(RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load(), {})
    except Exception as exc:  # any failure here means the file is damaged or not a dataset pickle
        raise DatasetError(f"{source}: cannot read dataset pickle ({type(exc).__name__}: {exc})") from exc


def load_file(path: Path) -> Any:
    """Unpickle one dataset file; a missing file is an error naming it."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    return loads(path.read_bytes(), path)
