"""EEG transforms against independent references: scipy's Welch by hand, sinusoid powers, Gaussian entropy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from models import eeg_features as ef
from models.contracts import ModalityWindow
from models.transforms import MissingModality, band_power_input, compute_features, de_input, eeg_raw_input

RNG = np.random.default_rng(7)


def test_band_power_matches_scipy_welch_integrated_by_hand() -> None:
    rate, n_ch = 256.0, 4
    x = RNG.standard_normal((int(rate) * 80, n_ch)) * 20.0
    ends = np.concatenate([[512, 1000], ef.window_ends(x.shape[0], rate, 300, 0.25)])  # > 1 chunk of steps
    got = ef.band_power_features(x, rate, ends, relative=False).reshape(len(ends), n_ch, 6)
    ref = x - x.mean(axis=1, keepdims=True)
    windows = np.stack([ref[end - 512:end] for end in ends])  # (steps, 512, channels)
    f, psd = welch(windows, fs=rate, nperseg=256, axis=1)  # Hann, 50 % overlap, mean removed, density
    for b, (lo, hi) in enumerate(ef.THESIS_BANDS):
        band = (f >= lo) & (f < hi)
        expected = psd[:, band].sum(axis=1) * (f[1] - f[0])
        np.testing.assert_allclose(got[:, :, b], expected, rtol=1e-9)
    rel = ef.band_power_features(x, rate, ends, relative=True).reshape(len(ends), n_ch, 6)
    np.testing.assert_allclose(rel.sum(axis=-1), 1.0)
    np.testing.assert_allclose(rel, got / got.sum(axis=-1, keepdims=True))


@pytest.mark.parametrize(("freq", "band"), [(2.0, 0), (6.0, 1), (10.0, 2), (15.0, 3), (24.0, 4), (38.0, 5)])
def test_a_sinusoid_puts_its_power_in_its_band(freq: float, band: int) -> None:
    rate, amp = 250.0, 3.0
    t = np.arange(int(rate * 2)) / rate
    x = (amp * np.sin(2 * np.pi * freq * t))[:, None]
    p = ef.band_powers(x, rate, np.array([x.shape[0]]), 2.0, 1.0, ef.THESIS_BANDS)[0, 0]
    assert p[band] == pytest.approx(amp**2 / 2, rel=0.02)  # mean square of a sine, all in its band
    assert np.delete(p, band).sum() < 0.02 * p[band]


def test_differential_entropy_of_white_gaussian_noise_matches_closed_form() -> None:
    rate, sigma = 200.0, 5.0
    x = RNG.standard_normal((int(rate * 400), 2)) * sigma
    ends = np.arange(800, x.shape[0] + 1, 800)  # 100 non-overlapping 4 s windows
    de = ef.differential_entropy_features(x, rate, ends).reshape(len(ends), 2, 5)
    for b, (lo, hi) in enumerate(ef.SEED_BANDS):
        band_var = sigma**2 * 2 * (hi - lo) / rate  # white noise: one-sided PSD 2 sigma^2 / rate over hi - lo Hz
        expected = 0.5 * np.log(2 * np.pi * np.e * band_var)
        assert de[:, :, b].mean() == pytest.approx(expected, abs=0.06), (lo, hi)


def test_differential_entropy_of_band_limited_noise_of_known_variance() -> None:
    rate, var, n = 200.0, 4.0, 800
    spectrum = np.fft.rfft(RNG.standard_normal((n * 50,)))
    f = np.fft.rfftfreq(n * 50, 1 / rate)
    spectrum[(f < 9.5) | (f > 12.5)] = 0  # Gaussian noise inside the alpha band (8-14 Hz) only
    x = np.fft.irfft(spectrum, n * 50)
    x = (x / x.std() * np.sqrt(var))[:, None]
    de = ef.differential_entropy_features(x, rate, np.arange(n, x.shape[0] + 1, n)).reshape(-1, 5)
    assert de[:, 2].mean() == pytest.approx(0.5 * np.log(2 * np.pi * np.e * var), abs=0.05)
    assert (de[:, [0, 1, 3, 4]] < de[:, [2]] - 2).all()  # the other bands hold < 2 % of its variance (leakage)


def test_live_window_equals_the_step_cut_from_a_long_recording() -> None:
    rate = 256.0
    channels = ("Fz", "Cz", "Pz", "Oz")
    x = RNG.standard_normal((int(rate * 40), 4))
    spec = band_power_input(channels, steps=8, step_rate=4.0)
    offline = ef.band_power_features(x, rate, ef.window_ends(x.shape[0], rate, 140, 0.25))  # every 4 Hz step
    end = x.shape[0] - 64 * 10  # a live window ending 10 steps before the recording's end
    live_window = ModalityWindow(x[:end][-int(rate * 5):], np.arange(end)[-int(rate * 5):] / rate, rate, channels)
    live = compute_features(spec, live_window)
    np.testing.assert_allclose(live, offline[-18:-10], rtol=1e-5, atol=1e-7)


def test_band_power_needs_the_full_lookback() -> None:
    spec = band_power_input(("Cz",), steps=8)  # 7 hops of 0.25 s + a 2 s window = 3.75 s
    short = ModalityWindow(np.zeros((256 * 3, 1)), np.arange(256 * 3) / 256.0, 256.0, ("Cz",))
    with pytest.raises(MissingModality, match=r"eeg: the window holds 3.00 s, the model needs 3.75 s"):
        compute_features(spec, short)


def test_raw_window_is_band_passed_resampled_and_z_scored() -> None:
    rate, channels = 250.0, ("C3", "Cz", "C4")
    t = np.arange(int(rate * 2)) / rate
    slow, alpha, fast = np.sin(2 * np.pi * 1 * t), np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 80 * t)
    x = np.stack([5 * slow + alpha + fast, 2 * alpha, 50 + alpha], axis=1)
    spec = eeg_raw_input(channels, window_seconds=1.0, rate=128.0)
    out = compute_features(spec, ModalityWindow(x, t, rate, channels))
    assert out.shape == (128, 3)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    freqs, psd = welch(out[:, 0], fs=128.0, nperseg=128)
    assert freqs[np.argmax(psd)] == pytest.approx(10.0)  # 1 Hz drift and 80 Hz removed, alpha kept
    assert psd[freqs <= 2].sum() < 0.05 * psd.sum()


def test_de_input_and_too_slow_streams() -> None:
    spec = de_input(("Cz",), steps=2)
    assert (spec.window_seconds, spec.rate, spec.feature_dim) == (8.0, 0.25, 5)
    x = RNG.standard_normal((128 * 8, 1))
    with pytest.raises(ValueError, match="band 31-50 Hz is not resolved at 64 Hz"):
        compute_features(spec, ModalityWindow(x, np.arange(x.shape[0]) / 64.0, 64.0, ("Cz",)))
    with pytest.raises(ValueError, match=r"EEG at 64 Hz cannot carry the 4-45 Hz band"):
        ef.raw_window(x, 64.0, 128.0, 64)
