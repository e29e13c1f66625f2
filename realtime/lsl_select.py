"""Choosing one LSL stream as labs need it: ``name=...,type=...,source_id=...,host=...`` (any subset).

One grammar and one resolver for every inlet (EEG, markers): the selection becomes an XPath
predicate over the stream info; after the first answer we listen briefly for a second one, so a
selection that matches several streams is reported with the candidates instead of silently
taking whichever answered first.
"""

from __future__ import annotations

from typing import Protocol

from realtime.errors import SourceError

#: After a first match, how long to listen for a second one (an ambiguous selection is an error).
AMBIGUITY_SECONDS = 1.0  # liblsl gathers answers for about 0.5 s
#: Selection keys and the stream-info fields they match.
SELECTION_KEYS = {"name": "name", "type": "type", "source_id": "source_id", "host": "hostname"}


class StreamInfo(Protocol):
    """What we read of a ``pylsl.StreamInfo`` (pylsl has no type information of its own)."""

    def name(self) -> str: ...
    def type(self) -> str: ...
    def source_id(self) -> str: ...
    def hostname(self) -> str: ...
    def uid(self) -> str: ...
    def channel_count(self) -> int: ...
    def nominal_srate(self) -> float: ...
    def channel_format(self) -> int: ...
    def get_channel_labels(self) -> list[str] | None: ...
    def as_xml(self) -> str: ...


def parse_selection(text: str) -> dict[str, str]:
    """``name=X,type=Y,...`` (the part after ``lsl:``) as a dict; an unknown key or a bad value is SourceError."""
    selection: dict[str, str] = {}
    for part in filter(None, text.split(",")):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in SELECTION_KEYS:
            raise SourceError(f"LSL selection {part!r}: expected KEY=VALUE with KEY one of {', '.join(SELECTION_KEYS)}")
        if not value or "'" in value or key in selection:
            raise SourceError(f"LSL selection {part!r}: the value must be given once, non-empty, without quotes")
        selection[key] = value
    return selection


def with_default_type(selection: dict[str, str], stream_type: str) -> dict[str, str]:
    """``selection`` looking for streams of ``stream_type`` when it names neither a name nor a type."""
    return selection if "name" in selection or "type" in selection else {**selection, "type": stream_type}


def describe(selection: dict[str, str]) -> str:
    """How a selection reads in messages: ``LSL stream name='X', type='EEG'``."""
    return "LSL stream " + ", ".join(f"{k}={v!r}" for k, v in selection.items())


def describe_info(info: StreamInfo) -> str:
    """The stream that was chosen, as the status shows it and a session file records it."""
    return describe({"name": info.name(), "type": info.type(), "source_id": info.source_id(),
                     "host": info.hostname()})


def resolve(selection: dict[str, str], timeout: float) -> list[StreamInfo]:
    """Every stream matching ``selection``: the first answer within ``timeout``, then a short wait for a second."""
    import pylsl

    predicate = " and ".join(f"{SELECTION_KEYS[k]}='{v}'" for k, v in selection.items())
    infos = pylsl.resolve_bypred(predicate, minimum=1, timeout=timeout)
    if len(infos) == 1:
        infos = pylsl.resolve_bypred(predicate, minimum=2, timeout=AMBIGUITY_SECONDS) or infos
    return list({i.uid(): i for i in infos}.values())


def candidates(what: str, infos: list[StreamInfo]) -> str:
    """The error for a selection ``what`` that matched several streams, listing them."""
    listed = "; ".join(
        f"name={i.name()!r} type={i.type()!r} source_id={i.source_id()!r} host={i.hostname()!r}" for i in infos)
    return f"{len(infos)} streams match {what}; narrow it with lsl:name=...,type=...,source_id=...,host=...: {listed}"
