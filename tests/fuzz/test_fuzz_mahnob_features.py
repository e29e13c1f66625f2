"""Fuzz the MAHNOB-HCI continuous-valence reader: damaged MAT files and MAT files holding the wrong keys, shapes,
types, cells or structs give trials or a DatasetError naming the file."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from offline.datasets import DatasetError
from offline.datasets.mahnob_features import LABEL_FILE, read_mahnob_features
from tests.support.dataset_files import write_mahnob_features
from tests.support.mutations import check, damaged, fuzz, replaced

FEATURES = Path("Features") / "P2-features-resamp4hz-trial-2.mat"
DTYPES = st.sampled_from(["f8", "f4", "i8", "u1", "b1", "c16"]).map(np.dtype)
SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4) | st.tuples(
    st.sampled_from([0, 1, 8, 9]), st.sampled_from([1, 2, 85, 128, 327]))
NUMBERS = hnp.arrays(DTYPES, SHAPES)


def _cells(items: list[Any]) -> np.ndarray:
    cells = np.empty((len(items), 1), dtype=object)
    for i, item in enumerate(items):
        cells[i, 0] = item
    return cells


VALUES = st.recursive(
    NUMBERS | st.text(max_size=6) | st.floats().map(np.float64),
    lambda inner: st.lists(inner, min_size=1, max_size=3).map(_cells)
    | st.dictionaries(st.sampled_from(["a", "b"]), inner, min_size=1),
    max_leaves=4,
)


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mahnob_features(tmp_path_factory.mktemp("mahnob-features"), participants=(2,), n_trials=1,
                                 steps=(8, 10))


def _read_with(root: Path, path: Path, content: bytes) -> None:
    """Read ``root`` with ``path`` holding ``content``: trials or a DatasetError naming the file."""
    with replaced(path, content):
        check(lambda: read_mahnob_features(root), DatasetError, path.name)


@st.composite
def wrong_contents(draw: st.DrawFn, path: Path) -> bytes:
    """The MAT file with one or two variables replaced by random arrays, cells, structs or text, or removed."""
    variables = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from(sorted(variables)))
        if draw(st.integers(0, 4)) == 0:
            del variables[key]
        else:
            variables[key] = draw(VALUES)
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables)
    return buffer.getvalue()


@fuzz(400)
@pytest.mark.parametrize("name", [LABEL_FILE, str(FEATURES)])
@given(st.data())
def test_damaged_mat_files(features: Path, name: str, data: st.DataObject) -> None:
    path = features / name
    _read_with(features, path, data.draw(damaged(path.read_bytes())))


@fuzz(300)
@pytest.mark.parametrize("name", [LABEL_FILE, str(FEATURES)])
@given(st.data())
def test_mat_files_of_the_wrong_content(features: Path, name: str, data: st.DataObject) -> None:
    path = features / name
    _read_with(features, path, data.draw(wrong_contents(path)))
