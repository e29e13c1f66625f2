"""Fuzz the calibration protocol reader: damaged protocol files, random text and TOML documents with any value for
any key give a Protocol or a ProtocolError naming the file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from calibration.protocol import DEFAULT_CONFIG, KEYS, ProtocolError, load_protocol
from tests.support.mutations import check, damaged, fuzz

SCALARS = (st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=12)
           | st.sampled_from(["", " ", ".", "..", "/", "x.png", "x.avi", "\x00", "a" * 300]) | st.datetimes())
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
ALL_KEYS = sorted({*KEYS[""], *KEYS["baseline"], *KEYS["stimuli"]})


def _toml(value: Any) -> str:
    """A TOML value (strings as JSON strings, which TOML basic strings accept)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else "inf" if value == float("inf") else "-inf" if value == -float("inf") \
            else repr(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A protocol document: sections (known, unknown, or keys in the wrong section) holding any values."""
    lines = []
    for section in draw(st.lists(st.sampled_from(["", "baseline", "stimuli", "other", "stimuli.files"]), max_size=4,
                                 unique=True)):
        if section:
            lines.append(f"[{section}]" if draw(st.integers(0, 5)) else f"{section} = {_toml(draw(VALUES))}")
        keys = draw(st.lists(st.sampled_from(ALL_KEYS) | st.sampled_from(["x", '"a b"']), max_size=4, unique=True))
        lines += [f"{key} = {_toml(draw(VALUES))}" for key in keys]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def protocol(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("protocol") / "protocol.toml"


def _load_with(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    check(lambda: load_protocol(path), ProtocolError, str(path))


@fuzz(600)
@given(damaged(DEFAULT_CONFIG.read_bytes(), edge=2048) | st.binary(max_size=64))
def test_damaged_protocol_files(protocol: Path, content: bytes) -> None:
    _load_with(protocol, content)


@fuzz(300)
@given(documents())
@example("x = " + "[" * 5000)  # nested deeper than the TOML parser's recursion
@example("baseline = 5\n")
@example('[stimuli]\nfiles = ["\\u0000"]\n')  # names the file system refuses
@example(f'[stimuli]\nfiles = ["{"a" * 300}.png"]\n')
def test_protocols_with_any_values(protocol: Path, text: str) -> None:
    _load_with(protocol, text.encode("utf-8", "surrogatepass"))
