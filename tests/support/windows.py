"""Live-like windows for the model tests (EEG samples, irregular face frames) for any model's spec."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from models.contracts import EEG, ModalityWindow, ModelSpec, Window
from models.onnx_backend import input_shapes
from models.predictor import NetworkPredictor

MakeWindow = Callable[..., Window]


def feature_batch(spec: ModelSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Ready feature windows of batch 1 for ``spec``: standard normal, probabilities for expression inputs."""
    return {m: (rng.dirichlet(np.ones(s[2]), s[:2]) if m == "expression" else rng.standard_normal(s))
            .astype(np.float32) for m, s in input_shapes(spec).items()}


def make_window(predictor: NetworkPredictor, t_end: float = 1000.0, eeg_rate: float = 250.0, fps: float = 30.0,
                seed: int = 0, eeg_channels: tuple[str, ...] | None = None) -> Window:
    """A window holding what ``predictor`` needs: EEG at ``eeg_rate`` (alpha + noise, microvolt scale), an eye
    tracker's samples, and per-frame vectors at about ``fps`` with jittered times, all ending at ``t_end``."""
    rng = np.random.default_rng(seed)
    window: Window = {}
    for modality, seconds in predictor.lookback_seconds().items():
        inp = predictor.spec.inputs[modality]
        if modality == EEG:
            channels = eeg_channels or inp.channels
            n = int((seconds + 0.5) * eeg_rate)
            ts = t_end - np.arange(n)[::-1] / eeg_rate
            alpha = 20 * np.sin(2 * np.pi * 10 * ts)[:, None] * rng.uniform(0.5, 1.5, len(channels))
            window[modality] = ModalityWindow(alpha + 10 * rng.standard_normal((n, len(channels))), ts, eeg_rate,
                                              tuple(channels))
        elif inp.transform == "eye_movement":  # an eye tracker at 120 Hz: fixations, one saccade a second, tracked
            rate = 120.0
            n = int((seconds + 0.5) * rate)
            ts = t_end - np.arange(n)[::-1] / rate
            gaze = np.repeat(rng.uniform(-10, 10, (n // int(rate) + 1, 2)), int(rate), axis=0)[:n]
            pupil = 3.5 + 0.2 * np.sin(2 * np.pi * 0.3 * ts)[:, None] + rng.normal(0, 0.02, (n, 2))
            rows = np.column_stack([gaze + rng.normal(0, 0.03, (n, 2)), pupil, np.ones(n)])
            window[modality] = ModalityWindow(rows, ts, rate, inp.channels)
        else:
            n = int((seconds + 0.5) * fps)
            ts = np.sort(t_end - np.arange(n)[::-1] / fps + rng.uniform(-0.01, 0.0, n))
            ts[-1] = t_end
            rows = rng.dirichlet(np.ones(inp.feature_dim), n) if modality == "expression" else \
                rng.standard_normal((n, inp.feature_dim))
            window[modality] = ModalityWindow(rows, ts, fps, ())
    return window



def stream_windows(predictor: NetworkPredictor, count: int, hop: float = 0.05, eeg_rate: float = 250.0,
                   seed: int = 0) -> Iterator[Window]:
    """``count`` windows as the inference worker cuts them every ``hop`` s (+- 4 ms of timer jitter) from one
    continuous EEG stream, each EEG window carrying its samples' stream index (so stepped features reuse steps);
    the other modalities as ``make_window`` makes them."""
    rng = np.random.default_rng(seed)
    ends = 1000.0 + np.cumsum(np.full(count, hop) + rng.normal(0.0, 0.004, count))
    first = make_window(predictor, float(ends[0]), eeg_rate, seed=seed)
    eeg = first.get(EEG)
    if eeg is not None:
        n_window = eeg.n_samples
        n = n_window + int((ends[-1] - ends[0]) * eeg_rate) + 2
        ts = ends[0] - n_window / eeg_rate + np.arange(n) / eeg_rate
        alpha = 20 * np.sin(2 * np.pi * 10 * ts)[:, None] * rng.uniform(0.5, 1.5, len(eeg.channels))
        data = alpha + 10 * rng.standard_normal((n, len(eeg.channels)))
    for i, t_end in enumerate(ends):
        window = first if i == 0 else make_window(predictor, float(t_end), eeg_rate, seed=seed + i)
        if eeg is not None:
            stop = int(np.searchsorted(ts, t_end, side="right"))
            window[EEG] = ModalityWindow(data[stop - n_window:stop], ts[stop - n_window:stop], eeg_rate,
                                         eeg.channels, first_index=stop - n_window)
        yield window
