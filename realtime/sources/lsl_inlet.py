"""EEG from an LSL stream: resolve by type or name, channel labels from the description, clock-corrected chunks.

Timestamps are corrected onto the local LSL clock (``proc_clocksync``) and kept non-decreasing
(``proc_monotonize``); no dejitter, because a regression over time stamps smears them across a
gap and the sender's own time stamps are already what we want (within the clock offset).
The inlet recovers a lost outlet that comes back with the same source_id (``recover=True``);
an outlet that comes back under a new id is found again by name. A jump in time stamps larger
than ``gap_tolerance`` is a gap: it is counted in the ring buffer and reported, and reading goes on.
"""

from __future__ import annotations

import time

import numpy as np

from realtime.sources.base import EegSource, SourceError

#: Seconds without a sample after which the stream is reported as lost (it may still come back).
STALL_SECONDS = 1.0


def _stream_labels(info: object, n_channels: int) -> tuple[str, ...]:
    """Channel labels from desc/channels/channel/label; positional names where the sender gave none."""
    labels = info.get_channel_labels() or []  # type: ignore[attr-defined]
    if len(labels) != n_channels or any(not lab for lab in labels):
        return tuple(f"ch{i + 1}" for i in range(n_channels))
    return tuple(labels)


class LslInletSource(EegSource):
    """Reads an EEG stream (``stream_type`` or ``name``; ``source_id`` narrows it) from LSL."""

    def __init__(
        self,
        name: str | None = None,
        stream_type: str = "EEG",
        source_id: str | None = None,
        resolve_timeout: float = 10.0,
        gap_tolerance: float = 0.1,
    ) -> None:
        what = f"LSL stream {name!r}" if name else f"LSL stream of type {stream_type!r}"
        super().__init__(what)
        self.name = name
        self.stream_type = stream_type
        self.source_id = source_id
        self.resolve_timeout = resolve_timeout
        self.gap_tolerance = gap_tolerance
        self._inlet = None
        self.info_xml = ""

    def _resolve(self, timeout: float) -> list:
        import pylsl

        prop, value = ("name", self.name) if self.name else ("type", self.stream_type)
        infos = pylsl.resolve_byprop(prop, value, minimum=1, timeout=timeout)
        if self.source_id is not None:
            infos = [i for i in infos if i.source_id() == self.source_id]
        return infos

    def _connect(self, info: object) -> tuple[tuple[str, ...], float]:
        import pylsl

        flags = pylsl.proc_clocksync | pylsl.proc_monotonize
        inlet = pylsl.StreamInlet(info, max_buflen=360, recover=True, processing_flags=flags, as_numpy=True)
        full = inlet.info(timeout=5.0)
        if full.channel_format() == pylsl.cf_string:
            inlet.close_stream()
            raise SourceError(f"{self.description} carries strings, not EEG samples")
        inlet.open_stream(timeout=5.0)
        self._inlet = inlet
        self.source_id = full.source_id() or self.source_id
        self.info_xml = full.as_xml()
        return _stream_labels(full, full.channel_count()), float(full.nominal_srate())

    def _open(self) -> tuple[tuple[str, ...], float]:
        infos = self._resolve(self.resolve_timeout)
        if not infos:
            raise SourceError(
                f"no {self.description} found within {self.resolve_timeout:g} s "
                "(is the sender running, and on the network LSL is configured to see?)"
            )
        return self._connect(infos[0])

    def _reconnect(self) -> None:
        """The inlet reported the stream lost for good: find it again by name/type until it is back or we stop."""
        self._inlet = None
        while not self.stopping:
            infos = self._resolve(1.0)
            if not infos:
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
        period = 1.0 / self.rate
        while not self.stopping:
            try:
                data, ts = self._inlet.pull_chunk(timeout=0.1, max_samples=max_samples, min_samples=1)
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
                self.buffer.note_gap(missing)
                self._set_connected(True, f"gap of {missing:.2f} s in {self.description}; resumed")
            elif not self._connected:
                self._set_connected(True, "")  # delivery paused without losing samples
            self._deliver(np.asarray(data, dtype=np.float32), np.asarray(ts, dtype=np.float64))
            last_ts = float(ts[-1])

    def _close(self) -> None:
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None
