"""Eye-movement features in the layout of SEED-IV / SEED-V's 33 per 4 s window, from raw gaze and pupil samples.

One code path for offline and live (both call ``window_features`` on a window's samples), so the
features a model was trained on are the ones it is given live. Events: a blink is a run of invalid
samples (tracker validity off, or pupil lost) lasting ``min_blink``-``max_blink`` s (longer is data
loss, not a blink); a saccade is a run of valid samples whose gaze speed exceeds
``velocity_threshold`` (I-VT); a fixation is a run of the remaining valid samples lasting at least
``min_fixation`` s. The order of ``FEATURE_NAMES`` follows the papers' table as DATASETS.md gives it
(to be checked against a real SEED-V file). Ours, where the papers say nothing: the thresholds'
defaults, dispersion as (max - min) per axis within a fixation (I-DT's), DE as 0.5 log(2 pi e P)
of the band power P of the mean-removed pupil trace (gaps filled linearly, zero-padded to a
``DE_RESOLUTION`` Hz grid, since a 4 s window alone resolves only 0.25 Hz), and saccade latency as
the mean time from the end of one saccade to the start of the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The eye stream's leading channels, whatever the tracker (realtime.sources.eye maps its labels onto them).
EYE_CHANNELS = ("gaze_x", "gaze_y", "pupil_x", "pupil_y", "valid")
PUPIL_BANDS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 1.0))
DE_RESOLUTION = 0.05  # Hz between the periodogram's bins, after zero padding
WINDOW_SECONDS = 4.0


def _names() -> tuple[str, ...]:
    pupil = [f"pupil_{axis}_{stat}" for axis in "xy" for stat in
             ("mean", "std", *(f"de_{lo:g}_{hi:g}hz" for lo, hi in PUPIL_BANDS))]
    return (*pupil, "dispersion_x_mean", "dispersion_x_std", "dispersion_y_mean", "dispersion_y_std",
            "fixation_duration_mean", "fixation_duration_std", "blink_duration_mean", "blink_duration_std",
            "saccade_duration_mean", "saccade_duration_std", "saccade_amplitude_mean", "saccade_amplitude_std",
            "blink_frequency", "fixation_frequency", "fixation_duration_max", "fixation_dispersion_total",
            "fixation_dispersion_max", "saccade_frequency", "saccade_duration_average", "saccade_amplitude_average",
            "saccade_latency_average")


FEATURE_NAMES = _names()
N_FEATURES = len(FEATURE_NAMES)  # 33


@dataclass(frozen=True)
class EyeSettings:
    """Event thresholds (ours; the papers do not give theirs). Gaze speed is in gaze units per second."""

    velocity_threshold: float = 30.0  # deg/s for angular gaze; about 0.5/s for normalised screen coordinates
    min_fixation: float = 0.1
    min_blink: float = 0.05
    max_blink: float = 0.5


@dataclass(frozen=True)
class EyeEvents:
    """Events as [start, stop) sample indices, one row each."""

    fixations: np.ndarray
    saccades: np.ndarray
    blinks: np.ndarray


def _runs(mask: np.ndarray) -> np.ndarray:
    """[start, stop) of every run of True in ``mask``, shape (n, 2)."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.column_stack((np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def detect_events(gaze: np.ndarray, valid: np.ndarray, rate: float, settings: EyeSettings = EyeSettings()
                  ) -> EyeEvents:
    """Blinks, saccades (I-VT) and fixations in ``gaze`` (n, 2) sampled at ``rate``; ``valid`` (n,) marks tracked
    samples."""
    valid = np.asarray(valid, bool) & np.isfinite(gaze).all(axis=1)
    invalid = _runs(~valid)
    seconds = (invalid[:, 1] - invalid[:, 0]) / rate
    blinks = invalid[(seconds >= settings.min_blink) & (seconds <= settings.max_blink)]
    speed = np.zeros(len(gaze))
    if len(gaze) > 1:
        step = np.linalg.norm(np.diff(gaze, axis=0), axis=1) * rate
        both = valid[1:] & valid[:-1]
        speed[1:] = np.where(both, step, 0.0)
    fast = valid & (speed > settings.velocity_threshold)
    saccades = _runs(fast)
    still = _runs(valid & ~fast)
    fixations = still[(still[:, 1] - still[:, 0]) / rate >= settings.min_fixation]
    return EyeEvents(fixations.reshape(-1, 2), saccades.reshape(-1, 2), blinks.reshape(-1, 2))


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    return (float(values.mean()), float(values.std())) if len(values) else (0.0, 0.0)


def _band_de(trace: np.ndarray, valid: np.ndarray, rate: float) -> list[float]:
    """Differential entropy of the pupil trace in each of ``PUPIL_BANDS`` (gaps filled linearly, mean removed)."""
    idx = np.arange(len(trace))
    filled = np.interp(idx, idx[valid], trace[valid])
    filled = filled - filled.mean()
    n_fft = max(len(filled), int(np.ceil(rate / DE_RESOLUTION)))
    power = np.abs(np.fft.rfft(filled, n_fft)) ** 2 / (rate * len(filled))  # periodogram density
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    df = freqs[1] - freqs[0]
    return [float(0.5 * np.log(2 * np.pi * np.e * (power[(freqs >= lo) & (freqs < hi)].sum() * df + 1e-12)))
            for lo, hi in PUPIL_BANDS]


def window_features(gaze: np.ndarray, pupil: np.ndarray, valid: np.ndarray, rate: float,
                    settings: EyeSettings = EyeSettings()) -> np.ndarray:
    """The 33 features (``FEATURE_NAMES``) of one window: gaze (n, 2), pupil diameters (n, 2), validity (n,).

    Pupil statistics are NaN when fewer than half the samples are valid (the window cannot describe
    the pupil); event statistics of a window without such events are 0."""
    gaze, pupil = np.asarray(gaze, float), np.asarray(pupil, float)
    valid = np.asarray(valid, bool) & np.isfinite(gaze).all(axis=1) & np.isfinite(pupil).all(axis=1)
    seconds = len(gaze) / rate
    out: list[float] = []
    for axis in range(2):
        if valid.mean() >= 0.5:
            values = pupil[valid, axis]
            out += [float(values.mean()), float(values.std()), *_band_de(pupil[:, axis], valid, rate)]
        else:
            out += [float("nan")] * (2 + len(PUPIL_BANDS))
    events = detect_events(gaze, valid, rate, settings)
    fix, sac, blink = events.fixations, events.saccades, events.blinks
    spread = np.array([np.ptp(gaze[a:b], axis=0) for a, b in fix]).reshape(-1, 2)
    fix_dur, sac_dur, blink_dur = ((e[:, 1] - e[:, 0]) / rate for e in (fix, sac, blink))
    # a saccade's amplitude: from the sample before it to its last sample
    amplitude = np.array([np.linalg.norm(gaze[b - 1] - gaze[max(a - 1, 0)]) for a, b in sac])
    latency = (sac[1:, 0] - sac[:-1, 1]) / rate
    dispersion = spread.sum(axis=1)
    out += [*_mean_std(spread[:, 0]), *_mean_std(spread[:, 1]), *_mean_std(fix_dur), *_mean_std(blink_dur),
            *_mean_std(sac_dur), *_mean_std(amplitude),
            len(blink) / seconds, len(fix) / seconds, float(fix_dur.max()) if len(fix) else 0.0,
            float(dispersion.sum()), float(dispersion.max()) if len(fix) else 0.0, len(sac) / seconds,
            _mean_std(sac_dur)[0], _mean_std(amplitude)[0], _mean_std(latency)[0]]
    return np.asarray(out, np.float32)


def recording_features(gaze: np.ndarray, pupil: np.ndarray, valid: np.ndarray, rate: float,
                       window: float = WINDOW_SECONDS, settings: EyeSettings = EyeSettings()) -> np.ndarray:
    """(n_windows, 33): ``window_features`` of consecutive non-overlapping windows (SEED-V's 4 s), the last partial
    one left out."""
    size = round(window * rate)
    starts = range(0, len(gaze) - size + 1, size)
    rows = [window_features(gaze[s:s + size], pupil[s:s + size], valid[s:s + size], rate, settings) for s in starts]
    return np.array(rows, np.float32).reshape(-1, N_FEATURES)
