"""XDF 1.0 writer: the format LabRecorder writes (https://github.com/sccn/xdf/wiki/Specifications).

A file is the magic ``XDF:`` followed by chunks, each [width of the length][length][tag][content]:
one FileHeader, a StreamHeader per stream, Samples chunks (every sample carries its own time stamp),
ClockOffset chunks, a Boundary chunk every ``BOUNDARY_SECONDS`` (readers resynchronise on it after a
damaged chunk) and a StreamFooter per stream at close. As in LabRecorder, every chunk is built in
memory, written whole and flushed, so a file cut off while recording reads up to its last whole chunk.
"""

from __future__ import annotations

import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from realtime import clock

FILE_HEADER, STREAM_HEADER, SAMPLES, CLOCK_OFFSET, BOUNDARY, STREAM_FOOTER = 1, 2, 3, 4, 5, 6
#: Little-endian value type of each numeric channel format; "string" values are length-prefixed UTF-8.
NUMERIC_FORMATS = {"float32": "<f4", "double64": "<f8", "int32": "<i4"}
#: Content of every Boundary chunk: the UUID LabRecorder writes and readers search for.
BOUNDARY_UUID = bytes.fromhex("43a546dccbf5410fb30ed5467383cbe4")
BOUNDARY_SECONDS = 5.0


def _varlen(n: int) -> bytes:
    """XDF's variable-length integer: one byte giving the width (1, 4 or 8 bytes), then the value."""
    if n < 1 << 8:
        return struct.pack("<BB", 1, n)
    if n < 1 << 32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes) -> bytes:
    """One whole chunk: its length (tag and content) as a variable-length integer, the tag, the content."""
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _xml(root: ET.Element) -> bytes:
    text: bytes = ET.tostring(root, encoding="utf-8")  # typeshed types only encoding=None as bytes
    return b'<?xml version="1.0"?>' + text


def text_element(parent: ET.Element, tag: str, text: str) -> None:
    """Append ``<tag>text</tag>`` to ``parent``."""
    ET.SubElement(parent, tag).text = text


@dataclass
class _Stream:
    """One stream: its channel count, the byte layout of a numeric sample (None for strings), its clock offset
    measurement (time, offset) and, for the footer, what was written."""

    n_channels: int
    layout: np.dtype | None
    clock_offset: tuple[float, float]
    count: int = 0
    first: float = 0.0
    last: float = 0.0


class XdfWriter:
    """Writes one XDF file; time stamps are on this machine's LSL clock (``realtime.clock``)."""

    def __init__(self, path: str | Path, header: Sequence[ET.Element] = (), overwrite: bool = False) -> None:
        """Create ``path`` (FileExistsError if it exists, unless ``overwrite``) and write the FileHeader, with the
        ``header`` elements added to its ``<info>``."""
        self.path = Path(path)
        self._file = self.path.open("wb" if overwrite else "xb")
        info = ET.Element("info")
        text_element(info, "version", "1.0")
        text_element(info, "datetime", datetime.now().astimezone().isoformat(timespec="seconds"))
        info.extend(header)
        self._streams: dict[int, _Stream] = {}
        self._boundary_at = time.monotonic()
        self._write(b"XDF:" + _chunk(FILE_HEADER, _xml(info)))

    def add_stream(self, name: str, type_: str, channel_format: str, rate: float,
                   channels: Sequence[Mapping[str, str]], source_id: str = "", desc: Sequence[ET.Element] = ()) -> int:
        """Write the header of a new stream and its clock offset; returns the stream's id for ``write_samples``.

        ``channels``: one mapping per channel, e.g. {"label": "Cz", "unit": "microvolts"}, written as
        ``desc/channels/channel``; ``desc``: further elements of ``<desc>``; ``rate`` 0 for irregular streams.
        The clock offset is 0 (the time stamps are already on this machine's clock) and written once: readers
        such as pyxdf apply a single offset as a constant, so synchronised time stamps come back bit for bit.
        """
        if channel_format not in (*NUMERIC_FORMATS, "string"):
            raise ValueError(f"XDF stream {name}: channel format {channel_format!r} is not one of "
                             f"{', '.join((*NUMERIC_FORMATS, 'string'))}")
        if not channels:
            raise ValueError(f"XDF stream {name} needs at least one channel")
        stream_id = len(self._streams) + 1
        info = ET.Element("info")
        for tag, text in (("name", name), ("type", type_), ("channel_count", str(len(channels))),
                          ("nominal_srate", repr(float(rate))), ("channel_format", channel_format),
                          ("source_id", source_id), ("created_at", repr(clock.now()))):
            text_element(info, tag, text)
        description = ET.SubElement(info, "desc")
        listed = ET.SubElement(description, "channels")
        for channel in channels:
            element = ET.SubElement(listed, "channel")
            for tag, text in channel.items():
                text_element(element, tag, text)
        description.extend(desc)
        layout = None
        if channel_format != "string":  # one sample: the time stamp's width (8), the time stamp, the values
            layout = np.dtype([("width", "u1"), ("time", "<f8"),
                               ("values", NUMERIC_FORMATS[channel_format], (len(channels),))])
        stream = _Stream(len(channels), layout, (clock.now(), 0.0))
        self._streams[stream_id] = stream
        sid = struct.pack("<I", stream_id)
        self._write(_chunk(STREAM_HEADER, sid + _xml(info))
                    + _chunk(CLOCK_OFFSET, sid + struct.pack("<dd", *stream.clock_offset)))
        return stream_id

    def write_samples(self, stream_id: int, values: np.ndarray | Sequence[Sequence[str]],
                      timestamps: np.ndarray | Sequence[float]) -> None:
        """Append ``values`` (samples x channels; rows of str for a string stream) with their ``timestamps`` as one
        Samples chunk, preceded by a Boundary chunk when one is due; flushed before returning."""
        stream = self._streams[stream_id]
        timestamps = np.asarray(timestamps, dtype=np.float64)
        n = len(timestamps)
        if n == 0:
            return
        if stream.layout is None:
            if len(values) != n or any(len(row) != stream.n_channels for row in values):
                raise ValueError(f"XDF stream {stream_id}: expected {n} rows of {stream.n_channels} strings")
            parts = []
            for t, row in zip(timestamps.tolist(), values, strict=True):
                parts.append(b"\x08" + struct.pack("<d", t))
                for value in row:
                    encoded = value.encode()
                    parts += [_varlen(len(encoded)), encoded]
            body = b"".join(parts)
        else:
            values = np.asarray(values)
            if values.shape != (n, stream.n_channels):
                raise ValueError(f"XDF stream {stream_id}: expected values of shape {(n, stream.n_channels)}, "
                                 f"got {values.shape}")
            samples = np.empty(n, stream.layout)
            samples["width"] = 8
            samples["time"] = timestamps
            samples["values"] = values
            body = samples.tobytes()
        data = _chunk(SAMPLES, struct.pack("<I", stream_id) + _varlen(n) + body)
        if time.monotonic() - self._boundary_at >= BOUNDARY_SECONDS:
            data = _chunk(BOUNDARY, BOUNDARY_UUID) + data
            self._boundary_at = time.monotonic()
        self._write(data)
        if stream.count == 0:
            stream.first = float(timestamps[0])
        stream.last = float(timestamps[-1])
        stream.count += n

    def close(self) -> None:
        """Write every stream's footer (first and last time stamp, sample count, clock offsets) and close the file;
        later calls do nothing."""
        if self._file.closed:
            return
        try:
            footers = []
            for stream_id, stream in self._streams.items():
                info = ET.Element("info")
                if stream.count:
                    text_element(info, "first_timestamp", repr(stream.first))
                    text_element(info, "last_timestamp", repr(stream.last))
                text_element(info, "sample_count", str(stream.count))
                offset = ET.SubElement(ET.SubElement(info, "clock_offsets"), "offset")
                text_element(offset, "time", repr(stream.clock_offset[0]))
                text_element(offset, "value", repr(stream.clock_offset[1]))
                footers.append(_chunk(STREAM_FOOTER, struct.pack("<I", stream_id) + _xml(info)))
            self._write(b"".join(footers))
        finally:
            self._file.close()

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()
