"""Fuzz the restricted unpickler (DEAP .dat, SEED-V npz members): damaged pickles, random bytes, and calls of
every global it allows with random arguments give a value or a DatasetError naming the source, never code run,
and never an array larger than the file (so a tiny file cannot make a reader allocate gigabytes)."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numpy._core import multiarray, numeric

from offline.datasets import DatasetError
from offline.datasets.pickles import loads
from tests.support.mutations import check, damaged, fuzz

SOURCE = "fuzz/s01.dat"
VALID = pickle.dumps({"data": np.arange(24.0).reshape(2, 3, 4), "labels": [np.float64(1.5), np.int64(2)],
                      "text": "abc", "nested": {0: (b"\x00\xff", None, True)}}, protocol=2)


class Call:
    """Pickles as a call of ``function`` with ``args`` (and BUILD with ``state`` when given)."""

    def __init__(self, function: Any, args: tuple, state: Any = None) -> None:
        self.function, self.args, self.state = function, args, state

    def __reduce__(self) -> tuple:
        return (self.function, self.args) if self.state is None else (self.function, self.args, self.state)


DTYPES = st.sampled_from(["f8", "<f4", ">i2", "u1", "b1", "c8", "S3", "U2", "V4", "O", "M8[s]", "f8,i4", "(2,)f8"])
SIZES = st.one_of(st.integers(-2, 8), st.sampled_from([2**31, 2**40, 2**63 - 1, 10**12]))
ARGUMENT = st.recursive(
    st.none() | st.booleans() | SIZES | st.floats() | st.binary(max_size=16) | st.text(max_size=4)
    | DTYPES.map(np.dtype) | st.tuples(SIZES, SIZES) | st.lists(SIZES, max_size=3).map(tuple),
    lambda inner: st.tuples(inner, inner) | st.tuples(inner, inner, inner),
    max_leaves=6,
)
GLOBALS = st.sampled_from([multiarray._reconstruct, multiarray.scalar, numeric._frombuffer, np.ndarray, np.dtype])


@st.composite
def calls(draw: st.DrawFn) -> Call:
    """A call of an allowed global: random arguments, or an array's reconstruction with a random BUILD state."""
    if draw(st.booleans()):
        args = tuple(draw(st.lists(ARGUMENT, max_size=5)))
        return Call(draw(GLOBALS), args, draw(st.none() | ARGUMENT))
    shape = tuple(draw(st.lists(SIZES, max_size=3)))
    state = (1, shape, np.dtype(draw(DTYPES)), draw(st.booleans()), draw(st.binary(max_size=32) | st.lists(SIZES)))
    return Call(multiarray._reconstruct, (np.ndarray, draw(st.sampled_from([(0,), (2**40,), (3, 4)])), b"b"), state)


def _arrays(value: Any) -> list[np.ndarray]:
    """The arrays in an unpickled value (inside dicts, lists and tuples), each shared object visited once."""
    arrays, seen, todo = [], set(), [value]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            arrays.append(item)
        elif isinstance(item, dict | list | tuple):
            todo.extend(item.values() if isinstance(item, dict) else item)
    return arrays


def _load(data: bytes) -> None:
    def read() -> None:
        for array in _arrays(loads(data, SOURCE)):
            assert array.dtype.hasobject or array.nbytes <= len(data), f"{len(data)} bytes: {array.shape} {array.dtype}"

    check(read, DatasetError, SOURCE)


@fuzz(1000)
@given(damaged(VALID, edge=len(VALID)))
def test_damaged_pickles(data: bytes) -> None:
    _load(data)


@fuzz(1000)
@given(st.binary(max_size=64).map(lambda tail: b"\x80\x02" + tail) | st.binary(max_size=64))
def test_random_bytes(data: bytes) -> None:
    _load(data)


@fuzz(600)
@given(st.lists(calls(), min_size=1, max_size=3))
def test_calls_of_the_allowed_globals_with_random_arguments(values: list[Call]) -> None:
    _load(pickle.dumps({"data": values}, protocol=2))
