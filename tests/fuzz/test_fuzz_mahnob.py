"""Fuzz the MAHNOB-HCI session reader: damaged or odd session.xml files (attributes of any value, entity bombs)
and damaged emotion BDF files give trials or a DatasetError naming the file."""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offline.datasets import DatasetError
from offline.datasets.mahnob import read_mahnob
from tests.support.dataset_files import write_mahnob_sessions
from tests.support.mutations import check, damaged, edf_fields, fuzz, replaced

FOLDER = Path("Sessions") / "2"
BDF = FOLDER / "Part_1_S_Trial1_emotion.bdf"
NUMBERS = st.sampled_from(["1", "2", "131", "0", "-1", "1.5", "nan", "inf", "-inf", "1e400", "9" * 30, "", " 2"])
TEXT = NUMBERS | st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=8)
BOMB = """<?xml version="1.0"?>
<!DOCTYPE session [<!ENTITY a "aaaaaaaaaa">""" + "".join(
    f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) + """]>
<session sessionId="2">&j;<subject id="1" /></session>
"""
ODD_DOCUMENTS = [BOMB.encode()] + [f'<?xml version="1.0" encoding="{name}"?>\n<session/>'.encode()
                                   for name in ("nan", "rot13", "idna", "utf-7", "punycode", "undefined")]


@pytest.fixture(scope="module")
def mahnob(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_mahnob_sessions(tmp_path_factory.mktemp("mahnob"), subjects=(1,), sections=(2, 4), seconds=1.0,
                                 margin=0.5)  # session 4 stays valid, so a skipped session 2 is no error
    (root / FOLDER / "P1-Rec1-2009.07.09.17.53.46_C1 trigger _C_Section_2.avi").write_bytes(b"")  # never opened
    return root


def _read_with(root: Path, path: Path, content: bytes) -> None:
    """Read ``root`` with ``path`` holding ``content``: trials or a DatasetError naming the file."""
    with replaced(path, content):
        check(lambda: read_mahnob(root), DatasetError, path.name)


@st.composite
def odd_sessions(draw: st.DrawFn, original: str) -> bytes:
    """session.xml with one to four attributes set to random text or removed, or the root or subject renamed."""
    text = original
    for _ in range(draw(st.integers(1, 4))):
        names = re.findall(r'(\w+)="', text)
        name = draw(st.sampled_from(names))
        value = "" if draw(st.integers(0, 5)) == 0 else f"{name}={quoteattr(draw(TEXT))}"
        text = re.sub(rf'\b{name}="[^"]*"', lambda _, value=value: value, text, count=1)
    if draw(st.integers(0, 5)) == 0:
        text = text.replace(draw(st.sampled_from(["<session ", "<subject "])), draw(st.sampled_from(["<x ", "<"])), 1)
    return text.encode()


@fuzz(600)
@given(st.data())
def test_damaged_or_odd_session_xml(mahnob: Path, data: st.DataObject) -> None:
    path = mahnob / FOLDER / "session.xml"
    original = path.read_bytes()
    content = data.draw(odd_sessions(original.decode()) | damaged(original) | st.sampled_from(ODD_DOCUMENTS))
    _read_with(mahnob, path, content)


@fuzz(400)
@given(st.data())
def test_damaged_emotion_bdf_files(mahnob: Path, data: st.DataObject) -> None:
    path = mahnob / BDF
    original = path.read_bytes()
    _read_with(mahnob, path, data.draw(edf_fields(original) | damaged(original, edge=12_500)))
