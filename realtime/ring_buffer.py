"""Fixed-size, preallocated ring buffer of timestamped multichannel samples, with loss counters.

One producer thread writes; any number of readers read windows by time or everything since
an absolute sample index. Counters (samples in, gaps, overruns) let tests and the dashboard
prove that nothing was lost.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BufferCounters:
    samples_in: int
    gaps: int
    gap_seconds: float
    overruns: int
    samples_overrun: int


class RingBuffer:
    """Preallocated (capacity, n_channels) sample store with float64 timestamps on the LSL clock."""

    def __init__(self, n_channels: int, capacity: int, dtype: np.dtype | type = np.float32) -> None:
        if n_channels < 1 or capacity < 1:
            raise ValueError(f"ring buffer needs n_channels >= 1 and capacity >= 1, got {n_channels}, {capacity}")
        self.n_channels = n_channels
        self.capacity = capacity
        self._data = np.zeros((capacity, n_channels), dtype=dtype)
        self._ts = np.full(capacity, np.nan, dtype=np.float64)
        self._total = 0  # absolute index of the next sample to be written
        self._gaps = 0
        self._gap_seconds = 0.0
        self._overruns = 0
        self._samples_overrun = 0
        self._lock = threading.Lock()

    # -- producer side -------------------------------------------------------------------
    def write(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """Append samples (n, n_channels) with their timestamps (n,)."""
        data = np.asarray(data)
        if data.ndim == 1:
            data = data[None, :]
        n = data.shape[0]
        if n == 0:
            return
        if data.shape[1] != self.n_channels:
            raise ValueError(f"ring buffer holds {self.n_channels} channels, got {data.shape[1]}")
        if len(timestamps) != n:
            raise ValueError(f"{len(timestamps)} timestamps for {n} samples")
        if n > self.capacity:  # only the newest capacity samples can be kept
            data, timestamps = data[-self.capacity :], timestamps[-self.capacity :]
            with self._lock:
                self._total += n - self.capacity
            n = self.capacity
        with self._lock:
            start = self._total % self.capacity
            first = min(n, self.capacity - start)
            self._data[start : start + first] = data[:first]
            self._ts[start : start + first] = timestamps[:first]
            if first < n:
                self._data[: n - first] = data[first:]
                self._ts[: n - first] = timestamps[first:]
            self._total += n

    def note_gap(self, seconds: float) -> None:
        """Record that the source lost its stream for ``seconds`` (e.g. an outlet disappeared)."""
        with self._lock:
            self._gaps += 1
            self._gap_seconds += float(seconds)

    # -- reader side ---------------------------------------------------------------------
    @property
    def total(self) -> int:
        """Absolute number of samples ever written (the index of the next sample)."""
        return self._total

    def counters(self) -> BufferCounters:
        with self._lock:
            return BufferCounters(self._total, self._gaps, self._gap_seconds, self._overruns, self._samples_overrun)

    def newest_time(self) -> float:
        """Timestamp of the newest sample, NaN when empty."""
        with self._lock:
            if self._total == 0:
                return float("nan")
            return float(self._ts[(self._total - 1) % self.capacity])

    def _slice(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Copy absolute indices [start, stop) out of the ring (caller holds the lock)."""
        idx = np.arange(start, stop) % self.capacity
        return self._data[idx].copy(), self._ts[idx].copy()

    def read_since(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Everything written from absolute ``index`` on: (data, timestamps, next index).

        A reader that fell more than ``capacity`` behind gets what is still held; the lost
        samples are counted as an overrun.
        """
        with self._lock:
            oldest = max(0, self._total - self.capacity)
            if index < oldest:
                self._overruns += 1
                self._samples_overrun += oldest - index
                index = oldest
            data, ts = self._slice(index, self._total)
            return data, ts, self._total

    def latest(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The newest ``n`` samples (fewer if fewer are held)."""
        with self._lock:
            n = min(n, self._total, self.capacity)
            return self._slice(self._total - n, self._total)

    def read(self, t_end: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """Samples with ``t_end - seconds < timestamp <= t_end`` in time order."""
        data, ts, _ = self.read_indexed(t_end, seconds)
        return data, ts

    def read_indexed(self, t_end: float, seconds: float) -> tuple[np.ndarray, np.ndarray, int]:
        """As ``read``, with the absolute index of the first sample returned (the sample counter's value)."""
        with self._lock:
            held = min(self._total, self.capacity)
            if held == 0:
                return np.zeros((0, self.n_channels), self._data.dtype), np.zeros(0), self._total
            start = self._total - held
            # timestamps are non-decreasing within the held span: binary search on the ring's (at most two)
            # contiguous views, without copying the whole span under the lock
            lo = self._count_until(start, held, t_end - seconds)
            hi = self._count_until(start, held, t_end)
            return (*self._slice(start + lo, start + hi), start + lo)

    def _count_until(self, start: int, held: int, t: float) -> int:
        """How many of the ``held`` samples from absolute ``start`` have timestamp <= ``t`` (caller holds the lock)."""
        first = start % self.capacity
        head = self._ts[first : min(first + held, self.capacity)]
        n = int(np.searchsorted(head, t, side="right"))
        if n < len(head):
            return n
        return n + int(np.searchsorted(self._ts[: held - len(head)], t, side="right"))
