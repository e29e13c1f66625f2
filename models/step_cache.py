"""Per-step feature rows kept by the stream sample they end at, so a live window computes only its new steps.

A band-power or differential-entropy step depends only on the samples of its own analysis window
(``models.eeg_features``), so the step ending at absolute sample ``i`` of a stream (the ring
buffer's sample counter) has the same row in every live window that holds it. The inference
worker cuts a window every hop; with this cache a hop computes the steps it has not seen (one or
two at a 4 Hz step rate) instead of the whole window's (96 for LFAN). Rows are exactly what a full
recompute gives: the same function on the same samples.

A key pairs the index with that sample's timestamp, so a stream that restarts (its counter from 0
again) never reuses the old stream's rows; a change of the stream's channels clears the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: (absolute index of the step's end, exclusive; timestamp of the step's last sample)
StepKey = tuple[int, float]

#: Calls between two prunings of rows older than the newest window's first step.
_PRUNE_EVERY = 64


class StepCache:
    """Feature rows of one input, by the stream sample each step ends at; ``computed`` / ``reused`` count steps."""

    def __init__(self) -> None:
        self._rows: dict[StepKey, np.ndarray] = {}
        self._channels: tuple[str, ...] | None = None
        self._calls = 0
        self.computed = 0
        self.reused = 0

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self, keys: Sequence[StepKey], channels: tuple[str, ...],
             compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The rows of ``keys`` (oldest first) stacked; ``compute(positions)`` gives the rows of the keys at those
        positions that are not kept yet. A window from a stream with other ``channels`` clears the cache first;
        now and then rows ending before ``keys[0]`` are dropped."""
        if channels != self._channels:
            self._rows.clear()
            self._channels = channels
        self._calls += 1
        if self._calls % _PRUNE_EVERY == 0:
            self._rows = {k: v for k, v in self._rows.items() if k[0] >= keys[0][0]}
        missing = np.array([i for i, key in enumerate(keys) if key not in self._rows], dtype=int)
        if missing.size:
            for i, row in zip(missing, compute(missing), strict=True):
                self._rows[keys[i]] = row
        self.computed += int(missing.size)
        self.reused += len(keys) - int(missing.size)
        return np.stack([self._rows[key] for key in keys])
