"""The inference worker: every hop, cut the window of each modality ending at one instant, run the model, publish.

Window end (``t_end``): the newest sample time common to the fresh regular-rate streams (EEG),
i.e. the oldest of their newest samples, so every such stream is complete up to ``t_end`` and
nothing arrives later inside the window; camera streams (irregular frames) contribute their
frames up to ``t_end``. Without a fresh regular stream, ``t_end`` is the newest frame time.
A modality is *unavailable* (reported with its reason, never replaced by zeros) when it has no
stream, its newest sample is older than its ``stale_after``, its window is less than
``MIN_COVERAGE`` full, or its window holds NaN or inf (such a window is not given to the model or to
the band power; the samples are still recorded as received).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from models.contracts import EEG, EXPRESSION, ModalityWindow, Predictor, Window
from models.eeg_features import THESIS_BANDS, band_powers
from models.live import predictor_state
from models.transforms import MissingModality, get_transform
from realtime import clock
from realtime.live_stream import LiveStream
from realtime.prediction import Prediction
from realtime.worker import Worker

#: Share by which a stream's true rate may fall short of its nominal one (amplifier clocks drift; BrainFlow's
#: synthetic board delivers about 249 of its nominal 250 samples per second).
CLOCK_TOLERANCE = 0.02
#: Fraction of a regular stream's expected samples a window must hold to be used.
MIN_COVERAGE = 0.9
#: Seconds of EEG used for the displayed band power, and of expressions averaged for the face prior.
DISPLAY_EEG_SECONDS = 2.0
FACE_PRIOR_SECONDS = 1.0


def _window_end(streams: dict[str, LiveStream], now: float) -> float:
    fresh = {m: s.buffer.newest_time() for m, s in streams.items()}
    fresh = {m: t for m, t in fresh.items() if np.isfinite(t) and now - t <= streams[m].stale_after}
    regular = [t for m, t in fresh.items() if streams[m].rate > 0]
    if regular:
        return min(regular)
    return max(fresh.values(), default=now)


class InferenceWorker(Worker):
    """Runs ``predictor`` every ``hop`` seconds on ``streams`` and hands each Prediction to ``publish``."""

    stop_timeout = 10.0

    def __init__(self, streams: dict[str, LiveStream], predictor: Predictor | None, hop: float,
                 publish: Callable[[Prediction], None], model_problem: str = "") -> None:
        super().__init__("inference")
        self.streams = streams
        self.hop = hop
        self._publish = publish
        self._predictor = predictor
        self._model_problem = model_problem
        self._lock = threading.Lock()
        self.ticks = 0
        self.late_ticks = 0  # hops that started late because the previous one overran
        self._next_step = time.monotonic()  # monotonic time the next step starts (0.0 while one runs)

    def swap_predictor(self, predictor: Predictor, problem: str = "") -> None:
        """Replace the model between two windows (the next tick uses it)."""
        with self._lock:
            self._predictor = predictor
            self._model_problem = problem

    def until_next_step(self) -> float:
        """Seconds until the next step starts, 0 while one runs: the dashboard paints outside that time.

        Qt painting holds the GIL for as long as it runs; a frame painted across the start of a
        step would make that prediction late by the frame's painting time."""
        return max(0.0, self._next_step - time.monotonic())

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self.stopping:
            self._next_step = 0.0
            self.step()
            self.ticks += 1
            next_tick += self.hop
            delay = next_tick - time.monotonic()
            if delay < 0:
                self.late_ticks += 1
                next_tick = time.monotonic()
            self._next_step = next_tick
            if delay >= 0 and self._sleep(delay):
                break

    # -- one hop -------------------------------------------------------------------------
    def _cut(self, stream: LiveStream, t_end: float, seconds: float, now: float) -> ModalityWindow | str:
        """The window of ``stream`` ending at ``t_end``, or the reason it cannot be used."""
        newest = stream.buffer.newest_time()
        if not np.isfinite(newest):
            return "no samples yet"
        if now - newest > stream.stale_after:
            return f"stale: newest sample {now - newest:.1f} s old"
        margin = 2.0 / stream.rate if stream.rate > 0 else 0.0  # so rounding never leaves a window one sample short
        # A device whose clock runs a little slow delivers fewer samples per second than its nominal rate: read a
        # little more than the transform needs (it uses the newest samples only).
        data, ts, first = stream.buffer.read_indexed(t_end, seconds * (1 + CLOCK_TOLERANCE) + margin)
        if len(ts) == 0:
            return f"no samples in the last {seconds:g} s"
        if stream.rate > 0 and len(ts) < MIN_COVERAGE * seconds * stream.rate:
            return f"only {len(ts)} of {round(seconds * stream.rate)} samples in the window"
        bad_rows = int((~np.isfinite(data)).any(axis=1).sum())
        if bad_rows:
            return f"{bad_rows} samples with NaN or inf in the window (not used; recorded as received)"
        return ModalityWindow(data, ts, stream.rate, stream.channels, first_index=first)

    def cut_windows(self, wanted: dict[str, float]) -> tuple[float, Window, dict[str, str]]:
        """The windows ending now (``t_end``) of ``{modality: seconds}``, and why the others cannot be used."""
        now = clock.now()
        t_end = _window_end(self.streams, now)
        windows: Window = {}
        problems: dict[str, str] = {}
        for modality, seconds in wanted.items():
            stream = self.streams.get(modality)
            cut = self._cut(stream, t_end, seconds, now) if stream else "no stream"
            if isinstance(cut, str):
                problems[modality] = cut
            else:
                windows[modality] = cut
        return t_end, windows, problems

    def _available(self, windows: Window, wanted: dict[str, float]) -> dict[str, bool]:
        """Per stream: a usable window was cut, or (for streams this model does not read) its data is fresh."""
        now = clock.now()
        return {m: m in windows or (m not in wanted and now - s.buffer.newest_time() <= s.stale_after)
                for m, s in self.streams.items()}

    def step(self) -> Prediction:
        """Cut windows, run the model, publish and return the Prediction."""
        with self._lock:
            predictor, model_problem = self._predictor, self._model_problem
        needs = dict(predictor.spec.inputs) if predictor is not None else {}
        wanted = {m: get_transform(inp.transform).lookback_seconds(inp) for m, inp in needs.items()}
        if EEG in self.streams:
            wanted[EEG] = max(wanted.get(EEG, 0.0), DISPLAY_EEG_SECONDS)
        if EXPRESSION in self.streams:
            wanted[EXPRESSION] = max(wanted.get(EXPRESSION, 0.0), FACE_PRIOR_SECONDS)
        t_end, windows, problems = self.cut_windows(wanted)
        valence = arousal = float("nan")
        output = None
        if predictor is None or model_problem:
            problems["model"] = model_problem or "no model"
        else:
            missing = [m for m, inp in needs.items() if inp.required and m not in windows]
            if missing:
                problems["model"] = f"not run: {', '.join(missing)} unavailable"
            else:
                try:
                    output = predictor.predict({m: windows[m] for m in needs if m in windows})
                    valence, arousal = output.valence, output.arousal
                except MissingModality as exc:
                    problems["model"] = f"not run: {exc}"
                except Exception as exc:  # a failing model is reported; acquisition and recording go on
                    problems["model"] = f"{predictor.model_id} failed: {exc}"
        face_v, face_a = _face_prior(windows.get(EXPRESSION))
        prediction = Prediction(
            time=t_end,
            published=0.0,
            valence=float(valence),
            arousal=float(arousal),
            model_id=predictor.model_id if predictor is not None else "none",
            trained=bool(predictor.trained) if predictor is not None else False,
            available=self._available(windows, wanted),
            newest_sample={m: float(w.timestamps[-1]) for m, w in windows.items()},
            probabilities=output.probabilities if output else {},
            classes={t: predictor.spec.class_names(t, len(p)) for t, p in output.probabilities.items()}
            if output and predictor is not None else {},
            saliency=output.saliency if output else None,
            modality_weights=output.modality_weights if output else {},
            confidence=output.confidence if output else None,
            face_valence=face_v,
            face_arousal=face_a,
            band_power=_display_band_power(windows.get(EEG)),
            model_state=predictor_state(predictor),
            problems=problems,
        )
        prediction.published = clock.now()
        self._publish(prediction)
        return prediction


def _display_band_power(window: ModalityWindow | None) -> np.ndarray | None:
    """(n_channels, n_bands) absolute power of the last DISPLAY_EEG_SECONDS, thesis bands; None if unavailable."""
    if window is None:
        return None
    n = window.n_samples
    win = min(n, round(DISPLAY_EEG_SECONDS * window.rate))
    bands = [b for b in THESIS_BANDS if b[1] <= window.rate / 2]
    try:
        return np.asarray(band_powers(window.data, window.rate, np.array([n]), win / window.rate, 1.0, bands)[0])
    except ValueError:
        return None


def _face_prior(window: ModalityWindow | None) -> tuple[float, float]:
    """Face-only valence/arousal from the mean expression probabilities of the window; NaN without a face."""
    if window is None:
        return float("nan"), float("nan")
    from models.face_prior import expression_to_valence_arousal

    v, a = expression_to_valence_arousal(window.data)
    return float(v), float(a)
