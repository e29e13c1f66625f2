"""EEG from an LSL stream: chosen by name / type / source_id / host, clock-corrected chunks.

A selection (``lsl:name=...,type=...,source_id=...,host=...``, any subset; type EEG when neither
name nor type is given) must match exactly one stream: none or several is an error that lists
what was found. What the stream declares (rate, channels, format) is checked against the bounds
of ``realtime.sources.base`` before an inlet is created, so a hostile stream cannot make us
allocate. Timestamps are corrected onto the local LSL clock (``proc_clocksync``) and kept
non-decreasing (``proc_monotonize``); no dejitter, because a regression over time stamps smears
them across a gap and the sender's own time stamps are already what we want (within the clock
offset). A lost stream is found again by its source_id (or, when it has none, by the
selection). A jump in time stamps larger than ``gap_tolerance`` is a gap: it is counted in the
ring buffer and reported, and reading goes on.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from realtime.errors import SourceError
from realtime.lsl_select import StreamInfo, candidates, describe, describe_info, resolve, with_default_type
from realtime.sources.base import EegSource, check_declared

if TYPE_CHECKING:
    import pylsl

#: Seconds without a sample after which the stream is reported as lost (it may still come back).
STALL_SECONDS = 1.0
NUMERIC_FORMATS = ("float32", "double64", "int32", "int16", "int8", "int64")


def _stream_labels(info: StreamInfo, n_channels: int) -> tuple[str, ...]:
    """Channel labels from desc/channels/channel/label; positional names where the sender gave none."""
    labels = info.get_channel_labels() or []
    if len(labels) != n_channels or any(not lab for lab in labels):
        return tuple(f"ch{i + 1}" for i in range(n_channels))
    return tuple(labels)


class LslInletSource(EegSource):
    """Reads the one EEG stream matching ``selection`` ({name, type, source_id, host}: any subset) from LSL."""

    def __init__(self, selection: dict[str, str] | None = None, resolve_timeout: float = 10.0,
                 gap_tolerance: float = 0.1) -> None:
        selection = with_default_type(dict(selection or {}), "EEG")
        super().__init__(describe(selection))
        self.selection = selection
        self.resolve_timeout = resolve_timeout
        self.gap_tolerance = gap_tolerance
        self._inlet: pylsl.StreamInlet | None = None
        self.info_xml = ""

    def _resolve(self, timeout: float) -> list[StreamInfo]:
        return resolve(self.selection, timeout)

    def _check(self, info: StreamInfo) -> None:
        """Refuse a stream whose declared rate, channel count or format is not EEG, before an inlet exists (an
        irregular stream is refused unless the source has an ``irregular_rate``)."""
        import pylsl

        check_declared(self.description, float(info.nominal_srate()) or self.irregular_rate, int(info.channel_count()))
        fmt = info.channel_format()
        names = {getattr(pylsl, f"cf_{f}"): f for f in NUMERIC_FORMATS}
        if fmt not in names:
            what = "strings" if fmt == pylsl.cf_string else f"channel format {fmt}"
            raise SourceError(f"{self.description} carries {what}, not EEG samples ({', '.join(NUMERIC_FORMATS)})")

    def _connect(self, info: StreamInfo) -> tuple[tuple[str, ...], float]:
        import pylsl

        self._check(info)
        flags = pylsl.proc_clocksync | pylsl.proc_monotonize
        inlet = pylsl.StreamInlet(info, max_buflen=360, recover=True, processing_flags=flags, as_numpy=True)
        full = inlet.info(timeout=5.0)
        try:
            self._check(full)
        except SourceError:
            inlet.close_stream()
            raise
        inlet.open_stream(timeout=5.0)
        self._inlet = inlet
        if full.source_id():  # a lost stream is found again by its source_id
            self.selection = {**self.selection, "source_id": full.source_id()}
        self.description = self._describe(full)
        self.info_xml = full.as_xml()
        return _stream_labels(full, full.channel_count()), float(full.nominal_srate())

    def _describe(self, info: StreamInfo) -> str:
        """What the status shows and the session file records: the stream that was chosen."""
        return describe_info(info)

    def _open(self) -> tuple[tuple[str, ...], float]:
        infos = self._resolve(self.resolve_timeout)
        if not infos:
            raise SourceError(
                f"no {self.description} found within {self.resolve_timeout:g} s "
                "(is the sender running, and on the network LSL is configured to see?)"
            )
        if len(infos) > 1:
            raise SourceError(candidates(self.description, infos))
        return self._connect(infos[0])

    def _reconnect(self) -> None:
        """The inlet reported the stream lost for good: find it again by source_id until it is back or we stop."""
        self._inlet = None
        while not self.stopping:
            infos = self._resolve(1.0)
            if len(infos) != 1:
                continue
            channels, rate = self._connect(infos[0])
            if channels != self.channels or rate != self.rate:
                self._inlet = None
                raise SourceError(
                    f"{self.description} came back with other channels/rate ({len(channels)} ch at {rate:g} Hz "
                    f"instead of {len(self.channels)} ch at {self.rate:g} Hz)"
                )
            return

    def _acquire(self) -> None:
        import pylsl

        max_samples = max(64, int(self.rate))
        last_ts: float | None = None
        last_arrival = time.monotonic()
        period = 1.0 / self.rate if self.rate > 0 else 0.0  # irregular: any jump beyond gap_tolerance is a gap
        buffer = self.buffer
        assert buffer is not None  # open() ran before the thread started
        while not self.stopping:
            inlet = self._inlet
            assert inlet is not None  # connected by open() and by every _reconnect() that returns while running
            try:
                data, ts = inlet.pull_chunk(timeout=0.1, max_samples=max_samples, min_samples=1)
            except pylsl.LostError:
                self._set_connected(False, f"{self.description} lost; looking for it again")
                self._reconnect()
                continue
            now = time.monotonic()
            if len(ts) == 0:
                if now - last_arrival > STALL_SECONDS:
                    self._set_connected(False, f"no samples from {self.description} for {now - last_arrival:.1f} s")
                continue
            last_arrival = now
            if last_ts is not None and ts[0] - last_ts > period + self.gap_tolerance:
                missing = float(ts[0] - last_ts - period)
                buffer.note_gap(missing)
                self._set_connected(True, f"gap of {missing:.2f} s in {self.description}; resumed")
            elif not self._connected:
                self._set_connected(True, "")  # delivery paused without losing samples
            self._deliver(np.asarray(data, dtype=np.float32), np.asarray(ts, dtype=np.float64))
            last_ts = float(ts[-1])

    def _close(self) -> None:
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None
