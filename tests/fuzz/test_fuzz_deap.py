"""Fuzz the DEAP reader: damaged or wrongly shaped preprocessed pickles, damaged or odd ratings tables and damaged
original BDF files give trials or a DatasetError naming the file."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from offline.datasets import DatasetError
from offline.datasets.deap import read_deap
from tests.support.dataset_files import write_deap_original, write_deap_preprocessed
from tests.support.mutations import JSON, check, damaged, edf_fields, fuzz, replaced

DTYPES = st.sampled_from(["f8", ">f4", "f2", "i8", "u1", "b1", "c8", "U2", "S3", "M8[s]"]).map(np.dtype)
NEAR_SHAPES = st.tuples(st.integers(0, 2), st.sampled_from([0, 39, 40]), st.sampled_from([0, 384, 385, 387]))
ARRAYS = hnp.arrays(DTYPES, NEAR_SHAPES | hnp.array_shapes(min_dims=0, max_dims=4, max_side=4))
VALUES = ARRAYS | JSON | st.binary(max_size=8) | st.lists(st.lists(st.floats(), max_size=3), max_size=3)
OBJECTS = st.fixed_dictionaries({}, optional={"data": VALUES, "labels": VALUES}) | VALUES
COLUMNS = ("Participant_id", "Trial", "Experiment_id", "Start_time", "Valence", "Arousal", "Dominance", "Liking",
           "Familiarity")
CELLS = st.sampled_from(["1", "2", "01", "0", "-1", "1.5", "nan", "inf", "1e400", "9" * 30, "", " 2 ", "s01"])
TABLES = st.tuples(st.lists(st.sampled_from(COLUMNS) | st.text(max_size=4), max_size=10),
                   st.lists(st.lists(CELLS | st.text(max_size=6), max_size=10), max_size=4))


@pytest.fixture(scope="module")
def preprocessed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_deap_preprocessed(tmp_path_factory.mktemp("deap"), n_subjects=1, n_trials=2, seconds=0.5)
    (root / "face_video" / "s01").mkdir(parents=True)  # so the ratings rows are read to map face videos
    return root


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_deap_original(tmp_path_factory.mktemp("deap"), subjects=(1,), n_trials=2, seconds=0.5)


def _read_with(path: Path, content: bytes, root: Path, source: str) -> None:
    """Read ``root`` with ``path`` holding ``content``: trials or a DatasetError naming the file."""
    with replaced(path, content):
        check(lambda: read_deap(root, source=source), DatasetError, path.name)


@fuzz(400)
@given(st.data())
def test_damaged_preprocessed_pickles(preprocessed: Path, data: st.DataObject) -> None:
    path = preprocessed / "data_preprocessed_python" / "s01.dat"
    _read_with(path, data.draw(damaged(path.read_bytes())), preprocessed, "preprocessed")


@fuzz(400)
@given(OBJECTS)
def test_preprocessed_pickles_of_the_wrong_structure(preprocessed: Path, obj: Any) -> None:
    path = preprocessed / "data_preprocessed_python" / "s01.dat"
    _read_with(path, pickle.dumps(obj, protocol=2), preprocessed, "preprocessed")


def _shared_lists(depth: int) -> list:
    """Nested lists sharing one list per level: a few hundred pickled bytes, 2**depth values when expanded."""
    value: list = [1.0, 2.0]
    for _ in range(depth):
        value = [value, value]
    return value


class _Strided:
    """Pickles as ``np.ndarray(shape, buffer=8 bytes, strides=0)``: a 600 GB array from a 400-byte file."""

    def __reduce__(self) -> tuple:
        return np.ndarray, ((2, 40, 10**9), np.dtype("f8"), b"\0" * 8, 0, (0, 0, 0))


@pytest.mark.parametrize("data", [_shared_lists(40), _Strided()], ids=["shared-lists", "zero-strides"])
def test_small_pickles_that_expand_are_refused(preprocessed: Path, data: object) -> None:
    path = preprocessed / "data_preprocessed_python" / "s01.dat"
    blob = pickle.dumps({"data": data, "labels": np.zeros((2, 4))}, protocol=2)
    with replaced(path, blob), pytest.raises(DatasetError, match=r"s01\.dat: "):
        read_deap(preprocessed, source="preprocessed")


@fuzz(300)
@pytest.mark.parametrize("source", ["preprocessed", "original"])
@given(st.data())
def test_damaged_or_odd_ratings_tables(preprocessed: Path, original: Path, source: str, data: st.DataObject) -> None:
    root = preprocessed if source == "preprocessed" else original
    path = root / "participant_ratings.csv"
    if data.draw(st.booleans()):
        content = data.draw(damaged(path.read_bytes()))
    else:
        header, rows = data.draw(TABLES)
        content = "\n".join(",".join(cells) for cells in [header, *rows]).encode()
    _read_with(path, content, root, source)


@fuzz(300)
@given(st.data())
def test_damaged_original_bdf_files(original: Path, data: st.DataObject) -> None:
    path = original / "data_original" / "s01.bdf"
    content = path.read_bytes()
    _read_with(path, data.draw(edf_fields(content) | damaged(content, edge=13_000)), original, "original")
