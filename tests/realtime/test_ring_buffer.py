"""RingBuffer.read by time: the same samples as a plain list would give, whether or not the ring has wrapped."""

from __future__ import annotations

import numpy as np

from realtime.ring_buffer import RingBuffer


def test_read_by_time_matches_the_held_samples_across_the_wrap() -> None:
    rng = np.random.default_rng(3)
    for capacity in (1, 7, 50):
        ring = RingBuffer(2, capacity)
        times: list[float] = []
        rows: list[np.ndarray] = []
        t = 0.0
        for _ in range(12):
            n = int(rng.integers(1, 20))
            ts = t + np.cumsum(rng.integers(0, 3, n)).astype(float)  # non-decreasing, with repeats
            t = float(ts[-1])
            chunk = rng.normal(size=(n, 2)).astype(np.float32)
            ring.write(chunk, ts)
            times += list(ts)
            rows += list(chunk)
            held_t, held_x = np.array(times[-capacity:]), np.array(rows[-capacity:])
            for t_end, seconds in ((t, 5.0), (t - 3.0, 10.0), (t + 1.0, 1e9), (-1.0, 1.0), (t, 0.0)):
                keep = (held_t > t_end - seconds) & (held_t <= t_end)
                data, stamps = ring.read(t_end, seconds)
                np.testing.assert_array_equal(stamps, held_t[keep])
                np.testing.assert_array_equal(data, held_x[keep].reshape(-1, 2))
