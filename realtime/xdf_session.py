"""Sessions in XDF (``--record FILE.xdf``): how the recorder's data map onto XDF streams, and back.

Written (by ``XdfSessionWriter``, for the Recorder), each stream named ``<app>-<what>``:
- one float32 stream per live stream (``eeg`` of type EEG in microvolts, ``face`` of type FaceEmbedding,
  ``expression`` of type FacialExpression), with its channel labels and nominal rate;
- ``<app>-predictions`` (type Emotion, double64, irregular): one sample per prediction, time-stamped with
  its window's end (``time``), channels ``published``, ``valence``, ``arousal``, ``face_valence``,
  ``face_arousal``, ``trained`` and ``available_<modality>`` (flags as 0/1);
- ``<app>-prediction-models`` (type EmotionModel, string): ``model_id`` and ``model_state`` of each
  prediction, with the same time stamps (a hot swap changes them mid-session);
- ``<app>-prediction-classes`` (type EmotionClasses, string): ``class_labels`` and ``class_probabilities``
  of each prediction, with the same time stamps: its labels joined as in the HDF5 file and its
  probabilities as their shortest exact text, joined the same way ("" and "" without classes), so a
  hot-swap changing the class layout needs no new stream (files written before it lack the stream);
- ``<app>-markers`` (type Markers, string);
- ``<app>-table-<name>`` (type Table, string), one per event table, a sample per row (time stamped when
  written), floats as their shortest exact text.
The FileHeader's ``<emolive>`` element holds the format, version and session attributes; each stream's
``desc/emolive`` says what it holds. Camera frames are not recorded to XDF.

Read (``read_xdf_session``, behind ``realtime.session_file.read_session``) with pyxdf, clock
synchronisation on and dejitter off, into the Session an HDF5 file gives. A file recorded by LabRecorder
from other streams has no ``<emolive>`` header: its first stream of type EEG becomes the EEG, and its
string streams of type Markers the markers. A file cut off while recording is read up to its last whole
chunk, with a warning.
"""

from __future__ import annotations

import io
import struct
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyxdf

from realtime import clock
from realtime.live_stream import LiveStream
from realtime.prediction import Prediction
from realtime.session_layout import (
    CLASS_LABELS,
    CLASS_PROBABILITIES,
    CLASS_SEPARATOR,
    FORMAT,
    PREDICTION_FIELDS,
    VERSION,
    RecordedStream,
    Session,
    ragged,
)
from realtime.xdf_writer import XdfWriter, text_element

#: XDF stream type of each live stream (LSL's content types where one exists).
STREAM_TYPES = {"eeg": "EEG", "face": "FaceEmbedding", "expression": "FacialExpression"}
#: Units of each live stream's channels, where they have one.
STREAM_UNITS = {"eeg": "microvolts"}
#: Session attribute kinds kept through the XML (everything else is stored as text).
ATTR_KINDS = {"int": int, "float": float, "text": str}


def _emolive(**fields: str) -> ET.Element:
    element = ET.Element("emolive")
    for tag, text in fields.items():
        text_element(element, tag, text)
    return element


def _attr_kind(value: object) -> str:
    """int and float attributes keep their type; anything else (bool included) is read back as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return "int"
    return "float" if isinstance(value, float) else "text"


def _cell(value: float | str, kind: str) -> str:
    return repr(float(value)) if kind == "float" else str(value)


class XdfSessionWriter:
    """The XDF file of one recording: created with every stream's header, then appended by ``write``."""

    def __init__(self, path: Path, streams: Sequence[LiveStream], attrs: Mapping[str, object],
                 tables: Mapping[str, Mapping[str, str]], overwrite: bool) -> None:
        """``tables``: {table: {column: "float" | "text"}}; an existing ``path`` is FileExistsError unless
        ``overwrite``."""
        header = _emolive(format=FORMAT, version=str(VERSION))
        for key, value in attrs.items():
            attr = ET.SubElement(header, "attr")
            for tag, text in (("name", str(key)), ("value", str(value)), ("kind", _attr_kind(value))):
                text_element(attr, tag, text)
        self._xdf = XdfWriter(path, [header], overwrite)
        prefix = str(attrs.get("app") or "emolive")
        self._modalities = tuple(s.modality for s in streams)
        self._streams: dict[str, int] = {}
        for s in streams:
            unit = STREAM_UNITS.get(s.modality)
            channels = [{"label": c, **({"unit": unit} if unit else {})} for c in s.channels]
            self._streams[s.modality] = self._add(f"{prefix}-{s.modality}", STREAM_TYPES.get(s.modality, s.modality),
                                                  "float32", s.rate, channels, role="stream", modality=s.modality)
        numbers = [{"label": f, "kind": "float"} for f in PREDICTION_FIELDS[1:]]
        flags = [{"label": f, "kind": "flag"} for f in ("trained", *(f"available_{m}" for m in self._modalities))]
        self._predictions = self._add(f"{prefix}-predictions", "Emotion", "double64", 0, numbers + flags,
                                      role="predictions")
        self._models = self._add(f"{prefix}-prediction-models", "EmotionModel", "string", 0,
                                 [{"label": "model_id"}, {"label": "model_state"}], role="prediction_models")
        self._classes = self._add(f"{prefix}-prediction-classes", "EmotionClasses", "string", 0,
                                  [{"label": CLASS_LABELS}, {"label": CLASS_PROBABILITIES}], role="prediction_classes")
        self._markers = self._add(f"{prefix}-markers", "Markers", "string", 0, [{"label": "marker"}], role="markers")
        self._tables = {
            name: (self._add(f"{prefix}-table-{name}", "Table", "string", 0,
                             [{"label": c, "kind": k} for c, k in columns.items()], role="table", table=name),
                   dict(columns))
            for name, columns in tables.items()
        }

    def _add(self, name: str, type_: str, channel_format: str, rate: float, channels: list[dict[str, str]],
             **emolive: str) -> int:
        return self._xdf.add_stream(name, type_, channel_format, rate, channels, source_id=name,
                                    desc=[_emolive(**emolive)])

    def write(self, samples: Mapping[str, tuple[np.ndarray, np.ndarray]], predictions: Sequence[Prediction],
              markers: Sequence[tuple[float, str]], rows: Sequence[tuple[str, Mapping[str, float | str]]]) -> None:
        """Append new samples per modality (data, timestamps), predictions, markers and table rows."""
        for modality, (data, timestamps) in samples.items():
            self._xdf.write_samples(self._streams[modality], data.astype(np.float32, copy=False), timestamps)
        times = [p.time for p in predictions]
        values = [[getattr(p, f) for f in PREDICTION_FIELDS[1:]]
                  + [float(p.trained)] + [float(p.available.get(m, False)) for m in self._modalities]
                  for p in predictions]
        self._xdf.write_samples(self._predictions, np.array(values, dtype=np.float64), times)
        self._xdf.write_samples(self._models, [[p.model_id, p.state] for p in predictions], times)
        self._xdf.write_samples(self._classes, [[CLASS_SEPARATOR.join(p.class_labels()),
                                                 CLASS_SEPARATOR.join(repr(float(v)) for v in p.class_values())]
                                                for p in predictions], times)
        self._xdf.write_samples(self._markers, [[text] for _, text in markers], [t for t, _ in markers])
        for table, row in rows:
            stream, columns = self._tables[table]
            self._xdf.write_samples(stream, [[_cell(row[c], k) for c, k in columns.items()]], [clock.now()])

    def close(self) -> None:
        """Write the stream footers and close the file (once)."""
        self._xdf.close()


# -- reading -----------------------------------------------------------------------------
#: One stream as pyxdf loads it: "info" (its header as XML dicts, {tag: [element, ...]}), "time_series",
#: "time_stamps", ...
XdfStream = dict[str, Any]


def _node(tree: object, *path: str) -> object:
    """The first element at ``path`` in pyxdf's XML dicts ({tag: [element, ...]}); None where absent."""
    for tag in path:
        if not isinstance(tree, Mapping) or not tree.get(tag):
            return None
        tree = tree[tag][0]
    return tree


def _text(tree: object, *path: str) -> str:
    node = _node(tree, *path)
    return node if isinstance(node, str) else ""


def _channels(stream: XdfStream) -> list[Mapping[str, Any]]:
    listed = _node(stream["info"], "desc", "channels")
    return list(listed.get("channel", [])) if isinstance(listed, Mapping) else []


def _labels(stream: XdfStream) -> tuple[str, ...]:
    """Channel labels from desc/channels/channel/label; positional names (as for LSL) where there are none."""
    n = int(_text(stream["info"], "channel_count"))
    labels = [_text(c, "label") for c in _channels(stream)]
    if len(labels) != n or not all(labels):
        return tuple(f"ch{i + 1}" for i in range(n))
    return tuple(labels)


def _recorded(stream: XdfStream) -> RecordedStream:
    n = int(_text(stream["info"], "channel_count"))
    return RecordedStream(data=np.asarray(stream["time_series"], dtype=np.float32).reshape(-1, n),
                          timestamps=np.asarray(stream["time_stamps"], dtype=np.float64),
                          channels=_labels(stream), rate=float(_text(stream["info"], "nominal_srate")))


def _whole_chunks_end(f: io.BufferedReader, size: int) -> int:
    """Offset where the last whole chunk ends: ``size`` for an intact file, less for one cut off inside a chunk.

    A length field that is not XDF's (damage inside the file, not at its end) is left to pyxdf, which
    resynchronises on the next Boundary chunk: the walk returns ``size``."""
    pos = 4
    widths = {1: "<B", 4: "<I", 8: "<Q"}
    while pos < size:
        f.seek(pos)
        width = widths.get(f.read(1)[0])
        if width is None:
            return size
        raw = f.read(struct.calcsize(width))
        if len(raw) < struct.calcsize(width):
            return pos
        end = pos + 1 + len(raw) + struct.unpack(width, raw)[0]
        if end > size:
            return pos
        pos = end
    return size


def _load(path: Path) -> tuple[list[XdfStream], dict[str, Any]]:
    """pyxdf's streams and file header, from the whole chunks of ``path``; ValueError naming it if unreadable."""
    with path.open("rb") as f:
        if f.read(4) != b"XDF:":
            raise ValueError(f"{path} is not an XDF file (it does not start with 'XDF:')")
        size = path.stat().st_size
        end = _whole_chunks_end(f, size)
        source: Path | io.BytesIO = path
        if end < size:
            warnings.warn(f"{path} ends inside a chunk (cut off while recording?): read its first {end} of "
                          f"{size} bytes, up to the last whole chunk", stacklevel=2)
            f.seek(0)
            source = io.BytesIO(f.read(end))
    try:
        streams, header = pyxdf.load_xdf(source, synchronize_clocks=True, dejitter_timestamps=False)
    except Exception as exc:  # pyxdf fails on damage with whatever error the parser hits
        raise ValueError(f"{path} is a damaged XDF file: {type(exc).__name__}: {exc}") from exc
    if header is None:
        raise ValueError(f"{path} is a damaged XDF file: it has no file header")
    return streams, header


def _foreign(path: Path, streams: list[XdfStream]) -> Session:
    """A file recorded from other applications' streams: its first EEG stream, and its markers."""
    eeg = [s for s in streams if _text(s["info"], "type").lower() == "eeg" and _text(s["info"], "channel_format")
           != "string"]
    if not eeg:
        found = ", ".join(f"{_text(s['info'], 'name')!r} ({_text(s['info'], 'type') or 'no type'})"
                          for s in streams) or "none"
        raise ValueError(f"{path} holds no stream of type EEG (streams: {found})")
    markers = sorted((float(t), str(row[0])) for s in streams
                     if _text(s["info"], "type").lower() == "markers" and _text(s["info"], "channel_format") == "string"
                     for t, row in zip(s["time_stamps"], s["time_series"], strict=True))
    return Session({"eeg": _recorded(eeg[0])}, {}, markers)


def _only(path: Path, by_role: Mapping[str, list[XdfStream]], role: str) -> XdfStream:
    """The one stream of ``role`` in one of our files."""
    found = by_role.get(role, [])
    if len(found) != 1:
        raise ValueError(f"{path} is a damaged EmoLive XDF file: {len(found)} streams of role {role!r}, expected 1")
    return found[0]


def read_xdf_session(path: Path) -> Session:
    """Read an XDF file (ours or LabRecorder's) into a Session; ValueError naming the file when it cannot be."""
    streams, header = _load(path)
    ours = _node(header.get("info"), "emolive")
    if not isinstance(ours, Mapping):
        return _foreign(path, streams)
    attrs: dict[str, object] = {"format": _text(ours, "format"), "version": int(_text(ours, "version"))}
    for attr in ours.get("attr", []):
        attrs[_text(attr, "name")] = ATTR_KINDS[_text(attr, "kind")](_text(attr, "value"))
    by_role: dict[str, list[XdfStream]] = {}
    for s in streams:
        by_role.setdefault(_text(s["info"], "desc", "emolive", "role"), []).append(s)
    recorded = {_text(s["info"], "desc", "emolive", "modality"): _recorded(s) for s in by_role.get("stream", [])}
    numbers, models, marker_stream = (_only(path, by_role, role) for role in ("predictions", "prediction_models",
                                                                             "markers"))
    classes = by_role.get("prediction_classes", [])  # absent from files written before it
    # one may miss a chunk in a cut-off file
    n = min(len(s["time_stamps"]) for s in (numbers, models, *classes[:1]))
    values = np.asarray(numbers["time_series"], dtype=np.float64).reshape(-1, len(_channels(numbers)))[:n]
    predictions: dict[str, np.ndarray] = {"time": np.asarray(numbers["time_stamps"][:n], dtype=np.float64)}
    for j, channel in enumerate(_channels(numbers)):
        column = values[:, j]
        predictions[_text(channel, "label")] = column.astype(bool) if _text(channel, "kind") == "flag" else column
    for j, key in enumerate(("model_id", "model_state")):
        predictions[key] = np.array([row[j] for row in models["time_series"][:n]], dtype=object)
    if classes:
        rows = classes[0]["time_series"][:n]
        predictions[CLASS_LABELS] = np.array([row[0] for row in rows], dtype=object)
        predictions[CLASS_PROBABILITIES] = ragged([np.array([float(v) for v in row[1].split(CLASS_SEPARATOR) if v],
                                                            dtype=np.float64) for row in rows])
    markers = [(float(t), row[0]) for t, row in zip(marker_stream["time_stamps"], marker_stream["time_series"],
                                                    strict=True)]
    tables = {}
    for s in by_role.get("table", []):
        rows = s["time_series"]
        tables[_text(s["info"], "desc", "emolive", "table")] = {
            _text(c, "label"): np.array([float(r[j]) for r in rows], dtype=np.float64) if _text(c, "kind") == "float"
            else np.array([r[j] for r in rows], dtype=object)
            for j, c in enumerate(_channels(s))
        }
    return Session(recorded, predictions, markers, attrs, tables)
