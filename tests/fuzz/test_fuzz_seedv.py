"""Fuzz the SEED-V reader: damaged npz archives and archives of the wrong structure (members, pickled dicts, trial
arrays, labels) give trials or a DatasetError naming the file."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from offline.datasets import DatasetError
from offline.datasets.pickles import loads
from offline.datasets.seedv import read_seedv
from tests.support.dataset_files import write_seedv
from tests.support.mutations import JSON, check, damaged, fuzz, replaced

DTYPES = st.sampled_from(["f8", "f4", "i8", "u1", "b1", "c8", "U2", "M8[s]"]).map(np.dtype)
SHAPES = st.tuples(st.integers(0, 3), st.sampled_from([0, 33, 309, 310])) | hnp.array_shapes(min_dims=0, max_dims=3)
VALUES = hnp.arrays(DTYPES, SHAPES) | JSON | st.binary(max_size=8)
KEYS = st.integers(-1, 46) | st.sampled_from(["0", 0.0, None])


@pytest.fixture(scope="module")
def seedv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_seedv(tmp_path_factory.mktemp("seedv"), subjects=(1,), windows=(2, 3))


def _read_with(root: Path, path: Path, content: bytes) -> None:
    """Read ``root`` with ``path`` holding ``content``: trials or a DatasetError naming the file."""
    with replaced(path, content):
        check(lambda: read_seedv(root), DatasetError, path.name)


@st.composite
def wrong_archives(draw: st.DrawFn, path: Path) -> bytes:
    """The valid npz at ``path`` with one or two trial arrays, labels or dict keys replaced, or with other members."""
    with np.load(path, allow_pickle=False) as npz:
        members: dict[str, Any] = {k: loads(npz[k].tobytes(), k) for k in ("data", "label")}
    for _ in range(draw(st.integers(1, 2))):
        member = draw(st.sampled_from(["data", "label"]))
        edit = draw(st.sampled_from(["value", "key", "whole"])) if isinstance(members[member], dict) else "whole"
        if edit == "value":
            members[member][draw(st.integers(0, 44))] = draw(VALUES)
        elif edit == "key":
            members[member][draw(KEYS)] = members[member].pop(draw(st.integers(0, 44)), None)
        else:
            members[member] = draw(VALUES)
    arrays = {k: np.array(pickle.dumps(v, protocol=2)) for k, v in members.items()}
    if draw(st.booleans()):
        arrays[draw(st.sampled_from(["data", "label", "other"]))] = draw(hnp.arrays(DTYPES, SHAPES))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@fuzz(300)
@pytest.mark.parametrize("folder", ["EEG_DE_features", "Eye_movement_features"])
@given(st.data())
def test_damaged_archives(seedv: Path, folder: str, data: st.DataObject) -> None:
    path = seedv / folder / "1_123.npz"
    _read_with(seedv, path, data.draw(damaged(path.read_bytes(), edge=1024)))


@fuzz(200)
@pytest.mark.parametrize("folder", ["EEG_DE_features", "Eye_movement_features"])
@given(st.data())
def test_archives_of_the_wrong_structure(seedv: Path, folder: str, data: st.DataObject) -> None:
    path = seedv / folder / "1_123.npz"
    _read_with(seedv, path, data.draw(wrong_archives(path)))


def test_a_trial_of_shared_lists_is_refused_without_expanding_it(seedv: Path) -> None:
    path = seedv / "EEG_DE_features" / "1_123.npz"
    with np.load(path, allow_pickle=False) as npz:
        data, label = (loads(npz[k].tobytes(), path) for k in ("data", "label"))
    shared: list = [0.0] * 310
    for _ in range(40):  # 2**40 rows once expanded, a few hundred bytes pickled
        shared = [shared, shared]
    data[0] = shared
    buffer = io.BytesIO()
    np.savez(buffer, data=np.array(pickle.dumps(data, protocol=2)), label=np.array(pickle.dumps(label, protocol=2)))
    refused = r"1_123\.npz: trial 0 must be a numeric array, got a list"
    with replaced(path, buffer.getvalue()), pytest.raises(DatasetError, match=refused):
        read_seedv(seedv)


def test_a_file_not_named_by_subject_number_is_named_in_the_error(seedv: Path) -> None:
    odd = seedv / "EEG_DE_features" / "x_123.npz"
    odd.write_bytes(b"")
    try:
        with pytest.raises(DatasetError, match=r"x_123\.npz: not named"):
            read_seedv(seedv)
    finally:
        odd.unlink()
