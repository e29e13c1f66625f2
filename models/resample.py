"""Irregular per-frame features (face embeddings, expression probabilities) put onto a model's regular time grid.

Camera frames arrive at irregular times and sometimes not at all (no face, dropped frames).
Each grid step takes the newest frame at or before it if that frame is at most ``max_gap``
seconds old; otherwise the step is marked missing. Missing steps are never zero-filled:
the caller either refuses the window or fills them from the nearest valid step, explicitly.
"""

from __future__ import annotations

import numpy as np


def time_grid(t_end: float, n_steps: int, rate: float) -> np.ndarray:
    """``n_steps`` instants 1/rate apart, the last one at ``t_end``."""
    return t_end - np.arange(n_steps)[::-1] / rate


def hold_last(
    values: np.ndarray, timestamps: np.ndarray, grid: np.ndarray, max_gap: float
) -> tuple[np.ndarray, np.ndarray]:
    """(values on the grid (n_steps, dim), valid mask (n_steps,)): newest frame <= each step, if <= max_gap old."""
    if timestamps.size == 0:
        return np.zeros((grid.size, values.shape[1])), np.zeros(grid.size, dtype=bool)
    if np.any(np.diff(timestamps) < 0):
        raise ValueError("frame timestamps must be non-decreasing")
    idx = np.searchsorted(timestamps, grid, side="right") - 1
    safe = np.clip(idx, 0, None)
    valid = (idx >= 0) & (grid - timestamps[safe] <= max_gap)
    out = values[safe]
    return out, valid


def fill_from_nearest(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace missing steps by the nearest valid step (ties go to the earlier one); needs >= 1 valid step."""
    good = np.flatnonzero(valid)
    if good.size == 0:
        raise ValueError("no valid step to fill from")
    distance = np.abs(np.arange(valid.size)[:, None] - good[None, :])
    filled: np.ndarray = values[good[distance.argmin(axis=1)]]
    return filled
