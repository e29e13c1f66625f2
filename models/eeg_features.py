"""EEG feature computations: the raw ST-AlignNet window, Welch band power (thesis) and differential entropy (SEED).

All take ``data`` as (n_samples, n_channels) at ``rate`` Hz and are pure functions, so a long
offline recording and the live window ending now go through the same code. Band power and
differential entropy are computed per analysis window from that window's samples only (the
0.3-45 Hz limit is applied in the frequency domain by integrating inside the bands), so a
step's feature is identical whether it was cut from a long recording or from a live buffer.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import butter, get_window, resample_poly, sosfiltfilt

#: The thesis's six bands (Hz): delta 0.3-4, theta 4-8, alpha 8-12, beta1 12-18, beta2 18-30, gamma 30-45.
THESIS_BANDS: tuple[tuple[float, float], ...] = ((0.3, 4.0), (4.0, 8.0), (8.0, 12.0), (12.0, 18.0), (18.0, 30.0),
                                                 (30.0, 45.0))
#: SEED's five bands (Hz) for differential entropy: delta, theta, alpha, beta, gamma.
SEED_BANDS: tuple[tuple[float, float], ...] = ((1.0, 4.0), (4.0, 8.0), (8.0, 14.0), (14.0, 31.0), (31.0, 50.0))
#: Steps computed together in band_powers (bounds memory on long recordings).
_STEPS_PER_CHUNK = 256
#: Band power below this (signal units^2) is clipped before taking a logarithm (a flat channel).
POWER_FLOOR = 1e-12


def average_reference(data: np.ndarray) -> np.ndarray:
    """Subtract the mean over channels at every sample (common average reference)."""
    referenced: np.ndarray = data - data.mean(axis=1, keepdims=True)
    return referenced


def resample(data: np.ndarray, rate: float, new_rate: float) -> np.ndarray:
    """Polyphase resampling along time (anti-aliased); rates are matched as a fraction with denominator <= 1000."""
    if rate == new_rate:
        return data
    ratio = Fraction(new_rate / rate).limit_denominator(1000)
    resampled: np.ndarray = resample_poly(data, ratio.numerator, ratio.denominator, axis=0)
    return resampled


@functools.lru_cache(maxsize=32)
def bandpass_sos(order: int, lo: float, hi: float, rate: float) -> np.ndarray:
    """Butterworth band-pass second-order sections, designed once per (order, band, rate): the design took
    a third of a live ST-AlignNet step. Shared: callers filter with a copy (scipy's filters want it writable)."""
    sos: np.ndarray = butter(order, (lo, hi), btype="bandpass", fs=rate, output="sos")
    return sos


def raw_window(
    data: np.ndarray, rate: float, out_rate: float, n_out: int, band: Sequence[float] = (4.0, 45.0), order: int = 4
) -> np.ndarray:
    """ST-AlignNet's EEG input: average reference, zero-phase band-pass, resampling, per-channel z-score.

    ``data`` may start earlier than the window (a margin that absorbs the filter's start-up);
    the last ``n_out`` samples at ``out_rate`` are kept and z-scored per channel (a flat
    channel stays at zero). Returns (n_out, n_channels).
    """
    lo, hi = band
    if hi >= rate / 2:
        raise ValueError(f"EEG at {rate:g} Hz cannot carry the {lo:g}-{hi:g} Hz band (needs > {2 * hi:g} Hz)")
    sos = bandpass_sos(order, float(lo), float(hi), float(rate)).copy()
    x = sosfiltfilt(sos, average_reference(data), axis=0)
    x = resample(x, rate, out_rate)
    if x.shape[0] < n_out:
        raise ValueError(f"EEG window gives {x.shape[0]} samples at {out_rate:g} Hz, the model needs {n_out}")
    x = x[-n_out:]
    std = x.std(axis=0)
    scored: np.ndarray = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return scored


def window_ends(n_samples: int, rate: float, n_steps: int, hop_seconds: float) -> np.ndarray:
    """End indices (exclusive) of ``n_steps`` analysis windows, ``hop_seconds`` apart, the last ending at the end."""
    offsets = np.round(np.arange(n_steps)[::-1] * hop_seconds * rate).astype(int)
    return n_samples - offsets


@functools.lru_cache(maxsize=32)
def _welch_plan(seg: int, rate: float, bands: tuple[tuple[float, float], ...],
                segment_seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(periodic Hann taper, one-sided density scale per bin, (bins, bands) rectangle-rule band integration) of
    ``seg``-sample segments: designed once per layout (a live hop computes a few steps, where this setup showed)."""
    freqs = np.fft.rfftfreq(seg, 1.0 / rate)
    integrate = np.zeros((freqs.size, len(bands)))
    for b, (lo, hi) in enumerate(bands):
        mask = (freqs >= lo) & (freqs < hi)
        if hi > rate / 2 or not mask.any():
            raise ValueError(
                f"band {lo:g}-{hi:g} Hz is not resolved at {rate:g} Hz with {segment_seconds:g} s segments"
            )
        integrate[mask, b] = freqs[1] - freqs[0]
    taper = get_window("hann", seg)
    scale = np.full(freqs.size, 2.0 / (rate * (taper**2).sum()))  # one-sided density ...
    scale[0] /= 2
    if seg % 2 == 0:
        scale[-1] /= 2  # ... except DC and Nyquist
    for array in (taper, scale, integrate):
        array.setflags(write=False)  # shared between calls
    return taper, scale, integrate


def band_powers(
    data: np.ndarray,
    rate: float,
    ends: np.ndarray,
    window_seconds: float,
    segment_seconds: float,
    bands: Sequence[Sequence[float]],
) -> np.ndarray:
    """Power per band of each window ending at ``ends``: (n_steps, n_channels, n_bands).

    Welch's PSD as scipy.signal.welch defines it (periodic Hann segments of ``segment_seconds``,
    50 % overlap, mean removed per segment, density scaling, one-sided), integrated over each
    band [lo, hi) by the rectangle rule on its frequency bins. Windows a few hops apart share
    segments, so each distinct segment's periodogram is computed once and averaged per window.
    """
    win = round(window_seconds * rate)
    seg = min(round(segment_seconds * rate), win)
    ends = np.asarray(ends, dtype=int)
    if ends.size and (ends.min() < win or ends.max() > data.shape[0]):
        raise ValueError(
            f"band power needs {window_seconds:g} s ({win} samples) before every step; "
            f"got {data.shape[0]} samples for steps ending at samples {ends.min()}..{ends.max()}"
        )
    taper, scale, integrate = _welch_plan(seg, float(rate), tuple((float(lo), float(hi)) for lo, hi in bands),
                                          float(segment_seconds))
    offsets = np.arange((win - seg) // (seg - seg // 2) + 1) * (seg - seg // 2)
    segments = sliding_window_view(data, seg, axis=0)  # (n - seg + 1, n_channels, seg), a view
    out = np.empty((ends.size, data.shape[1], len(bands)))
    for chunk in range(0, ends.size, _STEPS_PER_CHUNK):
        starts = (ends[chunk:chunk + _STEPS_PER_CHUNK] - win)[:, None] + offsets  # (steps, n_segments)
        unique, inverse = np.unique(starts, return_inverse=True)
        x = segments[unique]
        spectra = np.abs(np.fft.rfft((x - x.mean(axis=-1, keepdims=True)) * taper, axis=-1)) ** 2 * scale
        # band power of each segment, then averaged over each step's segments (Welch), both linear: same numbers
        # as integrating the averaged PSD, without expanding the spectra to every (step, segment) pair
        out[chunk:chunk + starts.shape[0]] = (spectra @ integrate)[inverse.reshape(starts.shape)].mean(axis=1)
    return out


def band_power_features(
    data: np.ndarray,
    rate: float,
    ends: np.ndarray,
    window_seconds: float = 2.0,
    segment_seconds: float = 1.0,
    bands: Sequence[Sequence[float]] = THESIS_BANDS,
    relative: bool = True,
) -> np.ndarray:
    """Thesis EEG features: average reference, then band power per window -> (n_steps, n_channels * n_bands).

    Features are channel-major (index = channel * n_bands + band). ``relative`` divides each
    channel's band powers by their sum (the public code's choice); otherwise absolute power.
    """
    p = band_powers(average_reference(data), rate, ends, window_seconds, segment_seconds, bands)
    if relative:
        p = p / np.maximum(p.sum(axis=-1, keepdims=True), POWER_FLOOR)
    return p.reshape(p.shape[0], -1)


def differential_entropy_features(
    data: np.ndarray,
    rate: float,
    ends: np.ndarray,
    window_seconds: float = 4.0,
    segment_seconds: float = 1.0,
    bands: Sequence[Sequence[float]] = SEED_BANDS,
) -> np.ndarray:
    """SEED-style differential entropy per band: 0.5 * log(2 pi e sigma_b^2) -> (n_steps, n_channels * n_bands).

    sigma_b^2, the variance of the band-limited signal, is the band power of the window
    (Parseval), so for Gaussian signals this is the exact entropy of each band's component.
    No re-referencing is applied (SEED's features are computed on the recorded reference).
    """
    p = band_powers(data, rate, ends, window_seconds, segment_seconds, bands)
    de: np.ndarray = 0.5 * np.log(2 * np.pi * np.e * np.maximum(p, POWER_FLOOR))
    return de.reshape(de.shape[0], -1)
