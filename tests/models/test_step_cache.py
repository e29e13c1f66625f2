"""Incremental stepped features: live windows that reuse earlier steps give exactly the full recompute's features."""

from __future__ import annotations

import numpy as np
import pytest

from models.contracts import ModalityWindow
from models.step_cache import StepCache
from models.transforms import band_power_input, compute_features, de_input, get_transform
from realtime.ring_buffer import RingBuffer

CHANNELS = ("Fz", "C3", "Cz", "C4", "Pz", "Oz")


def _windows(x: np.ndarray, ts: np.ndarray, rate: float, seconds: float, rng: np.random.Generator,
             channels: tuple[str, ...] = CHANNELS) -> list[ModalityWindow]:
    """Live-like windows of ``seconds`` (+ a sample or two) every 50 ms +- timer jitter, ending at the newest sample."""
    out, t = [], seconds + 0.1
    while (end := int(t * rate)) < x.shape[0]:
        start = end - round(seconds * rate) - int(rng.integers(0, 3))
        out.append(ModalityWindow(x[start:end], ts[start:end], rate, channels, first_index=start))
        t += 0.05 + rng.normal(0.0, 0.004)
    return out


@pytest.mark.parametrize("rate", [256.0, 250.0])
@pytest.mark.parametrize("kind", ["band_power", "de"])
def test_cached_steps_equal_the_full_recompute_at_any_hop(rate: float, kind: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((int(rate * 30), len(CHANNELS))) * 10
    ts = 1000.0 + np.arange(x.shape[0]) / rate
    spec = band_power_input(CHANNELS, steps=24) if kind == "band_power" else de_input(CHANNELS, steps=3)
    cache = StepCache()
    windows = _windows(x, ts, rate, get_transform(spec.transform).lookback_seconds(spec), rng)
    for window in windows:
        full = compute_features(spec, window)
        np.testing.assert_allclose(compute_features(spec, window, cache=cache), full, rtol=1e-6, atol=1e-9)
    assert cache.reused > 0


def test_a_live_hop_computes_a_few_new_steps_of_a_long_window() -> None:
    """LFAN's 96 band-power steps at hop 0.05 s with timer jitter: after the first seconds (each phase of the 4 Hz
    step grid met once) a hop computes about an eighth of the steps; rows older than the window are dropped."""
    rate = 256.0
    rng = np.random.default_rng(3)
    x = rng.standard_normal((int(rate * 90), 2))
    spec = band_power_input(CHANNELS[:2], steps=96)
    lookback = get_transform(spec.transform).lookback_seconds(spec)
    cache, new = StepCache(), []
    for window in _windows(x, 1000.0 + np.arange(x.shape[0]) / rate, rate, lookback, rng, CHANNELS[:2]):
        before = cache.computed
        compute_features(spec, window, cache=cache)
        new.append(cache.computed - before)
    steady = np.array(new[len(new) // 2:])
    assert steady.mean() < 96 / 4
    assert len(cache) <= (lookback + 64 * 0.05) * rate  # at most every sample of the window once, plus stragglers


def test_a_restarted_stream_never_gets_the_old_streams_rows() -> None:
    rate = 256.0
    rng = np.random.default_rng(2)
    spec = band_power_input(CHANNELS, steps=8)
    n = round(get_transform(spec.transform).lookback_seconds(spec) * rate)
    cache = StepCache()
    first = ModalityWindow(rng.standard_normal((n, 6)), np.arange(n) / rate, rate, CHANNELS, first_index=0)
    compute_features(spec, first, cache=cache)
    # the same sample counter, other samples and a later clock: the counter restarted with a new stream
    again = ModalityWindow(rng.standard_normal((n, 6)), 50.0 + np.arange(n) / rate, rate, CHANNELS, first_index=0)
    np.testing.assert_array_equal(compute_features(spec, again, cache=cache), compute_features(spec, again))
    assert cache.reused == 0
    # the same samples under other channel names (a different montage): the cache starts again
    renamed = ("Fp1", "Fp2", "F7", "F8", "T7", "T8")
    other = ModalityWindow(again.data, again.timestamps, rate, renamed, first_index=0)
    spec_other = band_power_input(renamed, steps=8)
    np.testing.assert_array_equal(compute_features(spec_other, other, cache=cache),
                                  compute_features(spec_other, other))
    assert cache.reused == 0


def test_the_ring_buffer_gives_each_window_its_samples_counter_after_wrapping() -> None:
    buffer = RingBuffer(n_channels=2, capacity=100)
    values = np.arange(250, dtype=np.float32)
    buffer.write(np.stack([values, -values], axis=1), values / 10.0)  # 250 samples into 100 places
    data, ts, first = buffer.read_indexed(t_end=23.95, seconds=1.0)  # timestamps 22.95 < t <= 23.95
    assert first == 230 and data[0, 0] == 230 and ts[-1] == pytest.approx(23.9)
    assert buffer.read_indexed(t_end=0.0, seconds=1.0)[2] == 150  # nothing in range: the oldest held sample
