"""Stimulus markers from an LSL stream (PsychoPy, Presentation, a lab's own sender), recorded and shown live.

``--markers lsl[:name=...,type=...,source_id=...,host=...]`` (type Markers by default) chooses one
stream with the grammar of ``realtime.lsl_select``. A reader thread looks for it until it appears
(the stimulus program may start after the app), then hands each marker, its time stamp corrected
onto the local LSL clock, to ``on_marker(time, text)``. String streams give their text; numeric
event codes are written as text (channels joined by commas). A lost stream is found again by its
source_id. Markers in the calibration grammar (``session_start ID``, ``onset BLOCK``, ``offset
BLOCK``, ``rating BLOCK valence=V arousal=A``) make a recording usable as a calibration session.
"""

from __future__ import annotations

from collections.abc import Callable

from realtime.errors import SourceError
from realtime.lsl_select import StreamInfo, candidates, describe, describe_info, resolve, with_default_type
from realtime.worker import Worker

#: Bounds on what a marker stream may declare (markers are events, not signals).
MAX_MARKER_CHANNELS = 16
RESOLVE_SECONDS = 1.0


def marker_selection(spec: str) -> dict[str, str]:
    """The selection of ``--markers lsl[:...]``; anything else is SourceError."""
    from realtime.lsl_select import parse_selection

    kind, _, rest = spec.partition(":")
    if kind != "lsl":
        raise SourceError(f"unknown marker source {spec!r}; expected lsl[:name=...,type=...,source_id=...,host=...]")
    return with_default_type(parse_selection(rest), "Markers")


class MarkerInlet(Worker):
    """Reads the one marker stream matching ``selection`` in a thread; ``on_marker(time, text)`` for each marker.

    ``problem`` says why no marker comes (none found yet, lost, the reader failed); empty while connected."""

    def __init__(self, selection: dict[str, str], on_marker: Callable[[float, str], None]) -> None:
        super().__init__("marker inlet")
        self.selection = dict(selection)
        self.on_marker = on_marker
        self.description = describe(self.selection)
        self.received = 0
        self.connected = False
        self._problem = f"looking for {self.description}"

    @property
    def problem(self) -> str:
        return self.error or self._problem

    def _find(self) -> StreamInfo | None:
        """The stream's info once exactly one stream matches; the reason in ``problem`` while not."""
        infos = resolve(self.selection, RESOLVE_SECONDS)
        if len(infos) > 1:
            self._problem = candidates(self.description, infos)
            return None
        if not infos:
            return None
        info = infos[0]
        if not 1 <= info.channel_count() <= MAX_MARKER_CHANNELS:
            self._problem = (f"{describe_info(info)} declares {info.channel_count()} channels; markers have 1 to "
                             f"{MAX_MARKER_CHANNELS}")
            return None
        return info

    def _run(self) -> None:
        import pylsl

        info = None
        while info is None and not self.stopping:
            info = self._find()
        if info is None:
            return
        inlet = pylsl.StreamInlet(info, max_buflen=60, recover=True, processing_flags=pylsl.proc_clocksync)
        try:
            inlet.open_stream(timeout=5.0)
            if info.source_id():
                self.selection["source_id"] = info.source_id()
            self.description, self.connected, self._problem = describe_info(info), True, ""
            while not self.stopping:
                try:
                    sample, t = inlet.pull_sample(timeout=0.2)
                except pylsl.LostError:
                    self.connected, self._problem = False, f"{self.description} lost; looking for it again"
                    continue
                if sample is None:
                    continue
                self.connected, self._problem = True, ""
                self.received += 1
                self.on_marker(float(t), ",".join(str(v) for v in sample))
        finally:
            inlet.close_stream()
