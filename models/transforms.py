"""The feature transforms by name: what an ``InputSpec.transform`` refers to, used live and offline alike.

``compute_features(input_spec, modality_window)`` is the one entry point: it maps channels by
name, checks the window (finite, long enough, not stale) and calls the named transform with
the spec's params, returning (steps, feature_dim). The predictor calls it on live windows;
offline training calls it on windows cut from recordings, so both see identical features.
The ``*_input`` helpers build the InputSpecs the models use, with every parameter recorded.

Transforms (name: input -> output per window):
- ``eeg_raw``: EEG -> (T, C) average-referenced, band-passed, resampled to ``rate``, z-scored (ST-AlignNet).
- ``eeg_band_power``: EEG -> (steps, C x 6) Welch band power of the 2 s ending at each 4 Hz step (thesis).
- ``eeg_de``: EEG -> (steps, C x 5) differential entropy of 4 s windows (SEED).
- ``frame_features``: per-frame vectors at irregular times -> (steps, D) by hold-last within a max gap.
- ``precomputed``: feature rows already at the step rate (dataset features); cannot be computed live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from models import eeg_features as ef
from models.channels import channel_map
from models.contracts import IncompatibleStreams, InputSpec, ModalityWindow, ModelSpec
from models.eye_features import EYE_CHANNELS
from models.eye_features import N_FEATURES as N_EYE_FEATURES
from models.eye_features import window_features as eye_window_features
from models.resample import fill_from_nearest, hold_last, time_grid
from models.step_cache import StepCache

#: Lowest eye-tracker rate the eye features are computed from (saccades last 20-80 ms).
MIN_EYE_RATE = 25.0

#: A sample stream whose newest sample is older than this (s) at the window's end is stale.
STALE_SECONDS = 0.5


class MissingModality(RuntimeError):
    """A modality the model needs is absent, stale, too short or too sparse in this window."""


class NotLive(IncompatibleStreams):
    """The model's inputs are dataset features that cannot be computed from live streams."""


def n_steps(spec: InputSpec) -> int:
    """Steps on the model's time grid: window length x grid rate."""
    return round(spec.window_seconds * spec.rate)


# ---- the transforms ------------------------------------------------------------------------------------------------

Compute = Callable[[np.ndarray, np.ndarray, float, InputSpec, float], np.ndarray]
#: (data (n, channels) in spec order, stream rate, step ends (exclusive sample indices into data), spec) -> rows
StepCompute = Callable[[np.ndarray, float, np.ndarray, InputSpec], np.ndarray]


@dataclass(frozen=True)
class Transform:
    """One named transform: the computation and what it needs from a stream."""

    compute: Compute  # (data (n, channels) in spec order, timestamps, stream rate, spec, t_end) -> (steps, dim)
    lookback_seconds: Callable[[InputSpec], float]  # stream seconds a window must hold
    feature_dim: Callable[[InputSpec], int]
    min_rate: Callable[[InputSpec], float]  # lowest stream rate that can feed it
    uses_channels: bool = True  # data is mapped onto spec.channels by name first
    live: bool = True
    steps: StepCompute | None = None  # rows of given steps alone: a live window can reuse its earlier steps


def _need_samples(modality: str, n_samples: int, rate: float, seconds: float) -> None:
    if n_samples < round(seconds * rate):
        raise MissingModality(
            f"{modality}: the window holds {n_samples / rate:.2f} s, the model needs {seconds:.2f} s"
        )


def _eeg_raw(data: np.ndarray, ts: np.ndarray, rate: float, spec: InputSpec, t_end: float) -> np.ndarray:
    _need_samples(spec.modality, data.shape[0], rate, spec.window_seconds)
    keep = round((spec.window_seconds + spec.params["margin_seconds"]) * rate)
    return ef.raw_window(data[-keep:], rate, spec.rate, n_steps(spec), spec.params["band"])


def _band_power_steps(data: np.ndarray, rate: float, ends: np.ndarray, spec: InputSpec) -> np.ndarray:
    p = spec.params
    return ef.band_power_features(data, rate, ends, p["window_seconds"], p["segment_seconds"], p["bands"],
                                  p["relative"])


def _de_steps(data: np.ndarray, rate: float, ends: np.ndarray, spec: InputSpec) -> np.ndarray:
    p = spec.params
    return ef.differential_entropy_features(data, rate, ends, p["window_seconds"], p["segment_seconds"], p["bands"])


def _step_ends(spec: InputSpec, n_samples: int, rate: float) -> np.ndarray:
    """Where each step of a stepped input ends in a window of ``n_samples`` (the last at the window's end)."""
    _need_samples(spec.modality, n_samples, rate, _stepped_lookback(spec))
    return ef.window_ends(n_samples, rate, n_steps(spec), 1.0 / spec.rate)


def _stepped(steps: StepCompute) -> Compute:
    def compute(data: np.ndarray, ts: np.ndarray, rate: float, spec: InputSpec, t_end: float) -> np.ndarray:
        return steps(data, rate, _step_ends(spec, data.shape[0], rate), spec)

    return compute


def _stepped_lookback(spec: InputSpec) -> float:
    return (n_steps(spec) - 1) / spec.rate + float(spec.params["window_seconds"])


def _frames(data: np.ndarray, ts: np.ndarray, rate: float, spec: InputSpec, t_end: float) -> np.ndarray:
    p = spec.params
    values, valid = hold_last(data, ts, time_grid(t_end, n_steps(spec), spec.rate), p["max_gap_seconds"])
    if p.get("gaps"):  # the model reads missing steps itself: NaN rows, never filled
        return np.where(valid[:, None], values, np.nan)
    missing = 1.0 - valid.mean()
    if missing > p["max_missing_fraction"]:
        newest = f"newest frame {t_end - ts[-1]:.1f} s old" if ts.size else "no frame at all"
        raise MissingModality(
            f"{spec.modality}: {missing:.0%} of the {spec.window_seconds:g} s window has no frame within "
            f"{p['max_gap_seconds']:g} s ({newest}; at most {p['max_missing_fraction']:.0%} may be missing)"
        )
    return fill_from_nearest(values, valid)


def _eye_movement(data: np.ndarray, ts: np.ndarray, rate: float, spec: InputSpec, t_end: float) -> np.ndarray:
    """SEED-V's 33 eye features of each of the ``steps`` consecutive windows ending at ``t_end``
    (``models.eye_features``; data holds ``EYE_CHANNELS``, validity above 0.5 meaning tracked)."""
    window = spec.params["window_seconds"]
    rows = []
    for k in range(n_steps(spec) - 1, -1, -1):
        end = t_end - k * window
        keep = (ts > end - window) & (ts <= end)
        if keep.sum() < 0.5 * window * rate:
            raise MissingModality(f"{spec.modality}: {keep.sum()} samples in a {window:g} s window ending "
                                  f"{t_end - end:.0f} s before the newest, fewer than half of {window * rate:.0f}")
        part = data[keep]
        features = eye_window_features(part[:, :2], part[:, 2:4], part[:, 4] > 0.5, rate)
        if not np.isfinite(features).all():
            raise MissingModality(f"{spec.modality}: the pupil was tracked in less than half of a {window:g} s window")
        rows.append(features)
    return np.stack(rows)


def _precomputed(data: np.ndarray, ts: np.ndarray, rate: float, spec: InputSpec, t_end: float) -> np.ndarray:
    steps = n_steps(spec)
    if data.shape[0] < steps:
        raise MissingModality(f"{spec.modality}: {data.shape[0]} feature rows, the model needs {steps}")
    return data[-steps:]


TRANSFORMS: dict[str, Transform] = {
    "eeg_raw": Transform(
        _eeg_raw,
        lookback_seconds=lambda s: s.window_seconds + s.params["margin_seconds"],
        feature_dim=lambda s: len(s.channels),
        min_rate=lambda s: 2.0 * s.params["band"][1] + 1e-9,
    ),
    "eeg_band_power": Transform(
        _stepped(_band_power_steps),
        lookback_seconds=_stepped_lookback,
        feature_dim=lambda s: len(s.channels) * len(s.params["bands"]),
        min_rate=lambda s: 2.0 * max(b[1] for b in s.params["bands"]),
        steps=_band_power_steps,
    ),
    "eeg_de": Transform(
        _stepped(_de_steps),
        lookback_seconds=_stepped_lookback,
        feature_dim=lambda s: len(s.channels) * len(s.params["bands"]),
        min_rate=lambda s: 2.0 * max(b[1] for b in s.params["bands"]),
        steps=_de_steps,
    ),
    "frame_features": Transform(
        _frames,
        lookback_seconds=lambda s: s.window_seconds + s.params["max_gap_seconds"],
        feature_dim=lambda s: s.feature_dim,
        min_rate=lambda s: 0.0,
        uses_channels=False,
    ),
    "eye_movement": Transform(
        _eye_movement,
        lookback_seconds=lambda s: s.window_seconds,
        feature_dim=lambda s: N_EYE_FEATURES,
        min_rate=lambda s: MIN_EYE_RATE,
    ),
    "precomputed": Transform(
        _precomputed,
        lookback_seconds=lambda s: s.window_seconds,
        feature_dim=lambda s: s.feature_dim,
        min_rate=lambda s: 0.0,
        uses_channels=False,
        live=False,
    ),
}


def get_transform(name: str) -> Transform:
    try:
        return TRANSFORMS[name]
    except KeyError:
        raise KeyError(f"unknown feature transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}") from None


def compute_features(
    spec: InputSpec, window: ModalityWindow, t_end: float | None = None, interpolate: bool = False,
    cache: StepCache | None = None,
) -> np.ndarray:
    """The features of one modality window as (steps, feature_dim) float32, by the transform ``spec`` names.

    ``t_end`` is the instant the window ends (the newest sample's time when omitted);
    ``interpolate`` allows spherical-spline estimates of missing EEG channels. With a ``cache`` (one per
    input, kept across the live windows of one stream) and a window that knows its samples' stream
    index (``ModalityWindow.first_index``), a stepped transform computes only the steps the cache lacks.
    """
    transform = get_transform(spec.transform)
    if window.n_samples == 0:
        raise MissingModality(f"{spec.modality}: the window is empty")
    t_end = float(window.timestamps[-1]) if t_end is None else t_end
    if transform.uses_channels and t_end - window.timestamps[-1] > STALE_SECONDS:
        raise MissingModality(f"{spec.modality}: stale, newest sample {t_end - window.timestamps[-1]:.2f} s old")
    data = np.asarray(window.data, dtype=np.float64)
    bad = ~np.isfinite(data).all(axis=0)
    if spec.params.get("gaps"):  # a row with a non-finite value is a missing step (NaN row) for a gap-aware model
        data = np.where(np.all(np.isfinite(data), axis=1)[:, None], data, np.nan)
    elif bad.any():
        names = [window.channels[i] if window.channels else str(i) for i in np.flatnonzero(bad)]
        raise ValueError(f"{spec.modality}: NaN or infinite samples in channels {', '.join(names)}")
    if transform.uses_channels:
        mapping = channel_map(window.channels, spec.channels, interpolate)
        if cache is not None and transform.steps is not None and window.first_index is not None:
            out = _cached_steps(transform.steps, spec, window, data, mapping.apply, cache)
        else:
            out = transform.compute(mapping.apply(data), np.asarray(window.timestamps, dtype=np.float64),
                                    window.rate, spec, t_end)
    elif data.shape[1] != spec.feature_dim:
        raise IncompatibleStreams(f"{spec.modality}: {data.shape[1]} features per sample, the model needs "
                                  f"{spec.feature_dim}")
    else:
        out = transform.compute(data, np.asarray(window.timestamps, dtype=np.float64), window.rate, spec, t_end)
    expected = (n_steps(spec), transform.feature_dim(spec))
    if out.shape != expected:
        raise RuntimeError(f"{spec.transform} gave {out.shape}, the spec says {expected}")
    return out.astype(np.float32)


def _cached_steps(steps: StepCompute, spec: InputSpec, window: ModalityWindow, data: np.ndarray,
                  to_spec: Callable[[np.ndarray], np.ndarray], cache: StepCache) -> np.ndarray:
    """A stepped transform's rows, the cached ones reused: the new steps are computed from the samples they span
    only (mapped onto the spec's channels by ``to_spec``), so a hop costs its new steps, not the whole window."""
    assert window.first_index is not None  # checked by the caller
    rate = window.rate
    ends = _step_ends(spec, data.shape[0], rate)
    span = round(float(spec.params["window_seconds"]) * rate)  # samples each step's analysis window holds
    keys = [(window.first_index + int(e), float(window.timestamps[e - 1])) for e in ends]

    def compute(missing: np.ndarray) -> np.ndarray:
        lo, hi = int(ends[missing].min()) - span, int(ends[missing].max())
        return steps(to_spec(data[lo:hi]), rate, ends[missing] - lo, spec)

    return cache.rows(keys, tuple(window.channels), compute)


def check_live(spec: ModelSpec, model_id: str) -> None:
    """Raise NotLive when some input of ``spec`` can only come from precomputed dataset features."""
    offline = [f"{m} ({i.transform})" for m, i in spec.inputs.items() if not get_transform(i.transform).live]
    if offline:
        raise NotLive(f"model {model_id} reads dataset features that cannot be computed from live streams: "
                      f"{', '.join(offline)}")


# ---- the InputSpecs the models use -----------------------------------------------------------------------------


def _spec(modality: str, transform: str, window_seconds: float, rate: float, channels: Sequence[str] = (),
          params: dict[str, Any] | None = None, feature_dim: int = 0, required: bool = True) -> InputSpec:
    spec = InputSpec(modality, float(window_seconds), float(rate), transform, tuple(channels), dict(params or {}),
                     int(feature_dim), required)
    return replace(spec, feature_dim=get_transform(transform).feature_dim(spec))


def eeg_raw_input(channels: Sequence[str], window_seconds: float = 1.0, rate: float = 128.0,
                  band: Sequence[float] = (4.0, 45.0), margin_seconds: float = 1.0) -> InputSpec:
    """ST-AlignNet's EEG input: ``window_seconds`` resampled to ``rate`` (T = window x rate steps)."""
    return _spec("eeg", "eeg_raw", window_seconds, rate, channels,
                 {"band": [float(b) for b in band], "margin_seconds": float(margin_seconds)})


def band_power_input(channels: Sequence[str], steps: int = 96, step_rate: float = 4.0, relative: bool = True,
                     window_seconds: float = 2.0, segment_seconds: float = 1.0,
                     bands: Sequence[Sequence[float]] = ef.THESIS_BANDS) -> InputSpec:
    """Thesis EEG band power: ``steps`` steps at ``step_rate`` Hz, each from the ``window_seconds`` ending at it."""
    params = {"window_seconds": float(window_seconds), "segment_seconds": float(segment_seconds),
              "bands": [[float(lo), float(hi)] for lo, hi in bands], "relative": bool(relative)}
    return _spec("eeg", "eeg_band_power", steps / step_rate, step_rate, channels, params)


def de_input(channels: Sequence[str], steps: int = 1, window_seconds: float = 4.0, segment_seconds: float = 1.0,
             bands: Sequence[Sequence[float]] = ef.SEED_BANDS) -> InputSpec:
    """SEED differential entropy: ``steps`` non-overlapping windows of ``window_seconds``."""
    params = {"window_seconds": float(window_seconds), "segment_seconds": float(segment_seconds),
              "bands": [[float(lo), float(hi)] for lo, hi in bands]}
    return _spec("eeg", "eeg_de", steps * window_seconds, 1.0 / window_seconds, channels, params)


def frames_input(modality: str, feature_dim: int, steps: int, step_rate: float, max_gap_seconds: float = 0.5,
                 max_missing_fraction: float = 0.5, gaps: bool = False) -> InputSpec:
    """Per-frame vectors (face embeddings, expression probabilities) held onto ``steps`` steps at ``step_rate``.

    With ``gaps`` the model reads missing steps itself: steps without a frame are NaN rows, any share
    of the window may be missing, and the modality is optional (absent: every step missing). A long
    ``max_gap_seconds`` (a branch's ``hold_seconds``) holds the last frame over a lost face instead."""
    params = {"max_gap_seconds": float(max_gap_seconds),
              "max_missing_fraction": 1.0 if gaps else float(max_missing_fraction)} | ({"gaps": True} if gaps else {})
    return _spec(modality, "frame_features", steps / step_rate, step_rate, params=params, feature_dim=feature_dim,
                 required=not gaps)


def eye_input(steps: int = 1, window_seconds: float = 4.0) -> InputSpec:
    """SEED-V's 33 eye-movement features of ``steps`` non-overlapping windows of ``window_seconds``, from the raw
    eye stream (gaze, pupil, validity: ``EYE_CHANNELS``)."""
    return _spec("eye", "eye_movement", steps * window_seconds, 1.0 / window_seconds, EYE_CHANNELS,
                 {"window_seconds": float(window_seconds)}, feature_dim=N_EYE_FEATURES)


def precomputed_input(modality: str, feature_dim: int, steps: int = 96, step_rate: float = 4.0,
                      gaps: bool = False, hold_seconds: float | None = None) -> InputSpec:
    """Dataset features already at ``step_rate`` (e.g. MAHNOB's eeg_band_feats_full, 128-d); offline only.

    With ``gaps`` NaN rows are missing steps the model reads itself (see ``frames_input``); ``hold_seconds``
    records that lost rows are held (``offline gaps`` holds them; live, frames inputs do)."""
    params: dict[str, Any] = {"gaps": True} if gaps else {}
    if hold_seconds is not None:
        params["hold_seconds"] = float(hold_seconds)
    return _spec(modality, "precomputed", steps / step_rate, step_rate, params=params, feature_dim=feature_dim,
                 required=not gaps)


def sequence_inputs(branches: dict[str, dict[str, Any]], steps: int, step_rate: float,
                    eeg_channels: Sequence[str] = ()) -> dict[str, InputSpec]:
    """The per-step inputs of a sequence model, one per branch ``{modality: {"features": kind, "feature_dim": n}}``.

    kind is band_power | de (EEG, from ``eeg_channels``) | frames (per-frame vectors) | eye_movement (33 features
    per step window from the raw eye stream) | precomputed (dataset rows).
    ``"gaps": true`` marks a frames or precomputed branch whose missing steps the model reads (NaN rows);
    ``"hold_seconds": s`` one that holds its last row over a loss of up to s seconds instead (live: the last
    frame; offline, ``offline gaps`` holds lost rows).
    """
    inputs = {}
    for modality, branch in branches.items():
        kind, dim, gaps = branch["features"], int(branch.get("feature_dim", 0)), bool(branch.get("gaps", False))
        hold = branch.get("hold_seconds")
        if gaps and kind not in ("frames", "precomputed"):
            raise ValueError(f"{modality}: only frames or precomputed branches can have gaps, not {kind}")
        if hold is not None and (gaps or kind not in ("frames", "precomputed") or not float(hold) > 0):
            raise ValueError(f"{modality}: hold_seconds must be positive, on a frames or precomputed branch without "
                             f"gaps (got {hold!r} on a {kind} branch{' with gaps' if gaps else ''})")
        if kind == "band_power":
            inputs[modality] = band_power_input(eeg_channels, steps, step_rate)
        elif kind == "de":
            inputs[modality] = de_input(eeg_channels, steps, window_seconds=1.0 / step_rate)
        elif kind == "frames":
            inputs[modality] = frames_input(modality, dim, steps, step_rate, gaps=gaps,
                                            **({"max_gap_seconds": float(hold)} if hold is not None else {}))
        elif kind == "precomputed":
            inputs[modality] = precomputed_input(modality, dim, steps, step_rate, gaps=gaps,
                                                 hold_seconds=None if hold is None else float(hold))
        elif kind == "eye_movement":
            inputs[modality] = eye_input(steps, window_seconds=1.0 / step_rate)
        else:
            raise ValueError(f"{modality}: unknown feature kind {kind!r}; use band_power, de, frames, eye_movement "
                             "or precomputed")
    return inputs


# ---- normalisation statistics (fitted on training data only) -------------------------------------------------------


def fit_normalisation(features: np.ndarray) -> dict[str, list[float]]:
    """Per-feature mean and std over every leading axis of (..., feature_dim) training features.

    A feature constant up to float32 rounding keeps std 1: dividing by a std of ~1e-6 would blow
    rounding noise up to unit variance, noise a model can fit.
    """
    flat = np.asarray(features, dtype=np.float64).reshape(-1, features.shape[-1])
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    constant = std <= 1e-5 * np.maximum(1.0, np.abs(mean))
    return {"mean": mean.tolist(), "std": np.where(constant, 1.0, std).tolist()}


def normalise(features: np.ndarray, stats: Mapping[str, Sequence[float]] | None) -> np.ndarray:
    """(x - mean) / std per feature; unchanged when ``stats`` is None."""
    if stats is None:
        return features
    mean = np.asarray(stats["mean"], dtype=features.dtype)
    std = np.asarray(stats["std"], dtype=features.dtype)
    if mean.shape != features.shape[-1:]:
        raise ValueError(f"normalisation has {mean.size} features, the input {features.shape[-1]}")
    normalised: np.ndarray = (features - mean) / std
    return normalised
