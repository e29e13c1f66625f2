"""What every EEG source shares: open (clear errors before any thread starts), a reader thread, counters.

A source turns one kind of device or stream into timestamped samples on the LSL clock and
writes them, as received, into the EEG RingBuffer. Samples containing NaN or +/-inf are counted and
written unchanged (the recorder keeps everything; the inference worker refuses such windows).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from realtime.errors import SourceError
from realtime.ring_buffer import RingBuffer
from realtime.worker import Worker

#: Seconds of EEG the ring buffer holds: the longest model window plus ample room for the recorder.
BUFFER_SECONDS = 120.0
#: Bounds on what a source may declare (checked before the ring buffer or an LSL inlet is allocated).
MAX_RATE = 50_000.0
MAX_CHANNELS = 1024


@dataclass(frozen=True)
class SourceStatus:
    """Snapshot of a source: description, connection state, NaN or inf samples, last problem (empty when none)."""

    description: str
    connected: bool
    nan_samples: int
    problem: str


def check_declared(what: str, rate: float, n_channels: int) -> None:
    """Refuse (SourceError) a declared rate or channel count outside what EEG can be, before anything is allocated."""
    if not math.isfinite(rate) or rate <= 0:
        raise SourceError(f"{what}: EEG needs a regular, finite sampling rate; the source declares {rate!r} Hz")
    if rate > MAX_RATE:
        raise SourceError(f"{what} declares {rate:g} Hz, beyond the bound of {MAX_RATE:g} Hz for EEG")
    if not 1 <= n_channels <= MAX_CHANNELS:
        raise SourceError(f"{what} declares {n_channels} channels; EEG must have 1 to {MAX_CHANNELS}")


class EegSource(Worker):
    """Base class: ``open()`` sets ``channels``/``rate`` and the buffer, ``start()`` runs ``_acquire`` in a thread.

    A failure of ``_acquire`` is the source's ``error`` (``<description> stopped: <reason>``), shown as its problem.
    """

    #: Samples per second a stream declaring no rate (irregular, rate 0) is bounded and buffered for; 0 refuses
    #: such streams (EEG must be regular; an eye tracker's relay may not be, ``realtime.sources.eye``).
    irregular_rate = 0.0

    def __init__(self, description: str) -> None:
        super().__init__(f"eeg-source {description}")
        self.description = description
        self.channels: tuple[str, ...] = ()
        self.rate: float = 0.0
        self.buffer: RingBuffer | None = None
        self._nan_samples = 0
        self._connected = False
        self._problem = ""

    # -- life cycle ----------------------------------------------------------------------
    def open(self) -> None:
        """Connect to the device or stream and learn channels and rate; raises SourceError with a clear message."""
        self.channels, self.rate = self._open()
        rate = self.rate or self.irregular_rate
        check_declared(self.description, rate, len(self.channels))
        capacity = int(np.ceil(BUFFER_SECONDS * rate))
        self.buffer = RingBuffer(len(self.channels), capacity)
        self._connected = True

    def start(self) -> None:
        """Open the source if needed, then read it in the background (the thread named after what was opened)."""
        if self.buffer is None:
            self.open()
        self.name = f"eeg-source {self.description}"
        super().start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop reading, then release the device or stream."""
        stopped = super().stop(timeout)
        self._close()
        self._connected = False
        return stopped

    def status(self) -> SourceStatus:
        failed = self.error is not None
        return SourceStatus(self.description, self._connected and not failed, self._nan_samples,
                            self.error or self._problem)

    # -- for subclasses ------------------------------------------------------------------
    def _run(self) -> None:
        self._acquire()

    def _error_message(self, exc: Exception) -> str:
        return f"{self.description} stopped: {exc}"

    def _deliver(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """Write one chunk as received, counting samples that hold NaN or +/-inf."""
        self._nan_samples += int((~np.isfinite(data)).any(axis=1).sum())
        assert self.buffer is not None
        self.buffer.write(data, timestamps)

    def _set_connected(self, connected: bool, problem: str = "") -> None:
        self._connected = connected
        self._problem = problem

    @abstractmethod
    def _open(self) -> tuple[tuple[str, ...], float]:
        """Connect; return (channel names, sampling rate)."""

    @abstractmethod
    def _acquire(self) -> None:
        """Read until ``self.stopping``, calling ``self._deliver`` for every chunk."""

    @abstractmethod
    def _close(self) -> None:
        """Release the device or stream (called after the thread ended)."""
