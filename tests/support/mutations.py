"""What the fuzz tests share: reproducible bounded settings, damaged copies of a valid file, and the one check.

Every fuzz test feeds a reader inputs made from a valid file in the real format (truncated, with
bytes overwritten, flipped, inserted or deleted, mostly in the header and trailer where the
structure lives) or structured-but-wrong content, and asserts that the reader returns or raises
its own clean error naming the file. Any other exception fails the test.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

#: Byte strings that often break parsers: size fields at their extremes, separators, quotes, NUL, bad UTF-8.
TOKENS = (
    b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\xff" * 8,
    b"-1", b"0", b"99999999", b"1e308", b"nan", b"inf", b" ", b"\x00", b"\xff\xfe", b"'", b'"', b"[", b"{", b"<",
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def fuzz(max_examples: int) -> settings:
    """Hypothesis settings for a fuzz test: derandomized, no example database, ``max_examples`` inputs of <= 5 s."""
    return settings(max_examples=max_examples, deadline=timedelta(seconds=5), derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _offset(size: int, edge: int) -> st.SearchStrategy[int]:
    """An offset in 0..size: within ``edge`` bytes of the start or of the end (headers, trailers), or anywhere."""
    return st.one_of(st.integers(0, min(edge, size)), st.integers(max(0, size - edge), size), st.integers(0, size))


@st.composite
def damaged(draw: st.DrawFn, original: bytes, edge: int = 512) -> bytes:
    """``original`` after one to four edits: truncation, overwrite, bit flip, insertion or deletion."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(_offset(len(data), edge))
        edit = draw(st.sampled_from(("truncate", "overwrite", "flip", "insert", "delete")))
        chunk = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=8))
        if edit == "truncate":
            del data[at:]
        elif edit == "overwrite":
            data[at : at + len(chunk)] = chunk
        elif edit == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "insert":
            data[at:at] = chunk
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@st.composite
def edited(draw: st.DrawFn, document: Any) -> Any:
    """A copy of a JSON-like ``document`` with one to three values (at any depth) replaced by random ones or removed."""
    document = _copy(document)
    for _ in range(draw(st.integers(1, 3))):
        parent: Any = None
        key: Any = None
        node = document
        while isinstance(node, dict | list) and node and (parent is None or draw(st.booleans())):
            key = draw(st.sampled_from(sorted(node))) if isinstance(node, dict) else draw(
                st.integers(0, len(node) - 1))
            parent, node = node, node[key]
        if parent is None:
            return draw(JSON)
        if draw(st.integers(0, 4)) == 0:
            del parent[key]
        else:
            parent[key] = draw(JSON)
    return document


#: Widths of the per-signal header fields of an EDF/BDF file (label, transducer, unit, physical min/max,
#: digital min/max, prefiltering, samples per record, reserved), each stored for every signal in turn.
EDF_SIGNAL_FIELDS = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)
EDF_MAIN_FIELDS = ((168, 8), (176, 8), (184, 8), (236, 8), (244, 8), (252, 4))  # date, time, sizes, counts
EDF_TEXT = st.sampled_from(["-1", "0", "1", "99999999", "-8388608", "8388607", "1e308", "nan", "inf", "", "Status",
                            "0.0000001", "-0"]) | st.integers().map(str) | st.text(max_size=8)


@st.composite
def edf_fields(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` (an EDF or BDF file) with one to three header fields set to random text of the field's width."""
    data = bytearray(original)
    ns = int(original[252:256])
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            at, width = draw(st.sampled_from(EDF_MAIN_FIELDS))
        else:
            field = draw(st.integers(0, len(EDF_SIGNAL_FIELDS) - 1))
            width = EDF_SIGNAL_FIELDS[field]
            at = 256 + ns * sum(EDF_SIGNAL_FIELDS[:field]) + draw(st.integers(0, ns - 1)) * width
        data[at : at + width] = draw(EDF_TEXT).encode("utf-8", "replace").ljust(width)[:width]
    return bytes(data)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return [_copy(v) for v in value] if isinstance(value, list) else value


@contextmanager
def replaced(path: Path, content: bytes | None) -> Iterator[None]:
    """Inside the block ``path`` holds ``content`` (its own bytes for None); its own bytes are restored after."""
    before = path.read_bytes()
    path.write_bytes(before if content is None else content)
    try:
        yield
    finally:
        path.write_bytes(before)


def check(read: Callable[[], object], error: type[Exception], name: str) -> None:
    """Run ``read()``: it must return, or raise ``error`` whose message contains ``name``; anything else propagates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # damaged files warn (skipped sessions, missing videos, odd headers)
        try:
            read()
        except error as exc:
            assert name in str(exc), f"{type(exc).__name__} does not name {name}: {exc}"
            event(f"{type(exc).__name__}")
        else:
            event("read")
