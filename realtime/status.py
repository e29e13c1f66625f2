"""The pipeline's status snapshot (what the dashboard and the headless status line show) and its one-line form."""

from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass, field

import numpy as np

from models.live import TRAINED, state_or_trained
from realtime.prediction import Prediction
from realtime.recorder import RecorderStatus


class RateMeter:
    """Events per second over the last ``span`` seconds, from a growing total sampled at each ``update``."""

    def __init__(self, span: float = 2.0) -> None:
        self.span = span
        self._history: collections.deque[tuple[float, int]] = collections.deque()

    def update(self, total: int) -> float:
        now = time.monotonic()
        self._history.append((now, total))
        while len(self._history) > 2 and now - self._history[1][0] >= self.span:
            self._history.popleft()
        t0, n0 = self._history[0]
        return (total - n0) / (now - t0) if now - t0 > 0.2 else float("nan")


def percentiles(values: list[float] | np.ndarray, qs: tuple[float, ...] = (50, 95, 99)) -> tuple[float, ...]:
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return tuple(float("nan") for _ in qs)
    return tuple(float(v) for v in np.percentile(values, qs))


@dataclass(frozen=True)
class StreamStatus:
    """One input stream: measured rate, counters from its ring buffer, source state."""

    modality: str
    description: str
    n_channels: int
    nominal_rate: float  # 0 for irregular streams
    rate: float  # measured over the last seconds
    samples_in: int
    gaps: int
    gap_seconds: float
    nan_samples: int
    connected: bool
    problem: str


@dataclass(frozen=True)
class PipelineStatus:
    """A snapshot of the whole pipeline, safe to read from any thread."""

    running: bool
    uptime: float
    streams: dict[str, StreamStatus]
    predictions: int
    prediction_rate: float
    freshness: dict[str, tuple[float, float, float]]  # modality -> p50, p95, p99 of published - newest sample (s)
    model_id: str
    trained: bool
    model_problem: str
    latest: Prediction | None
    face_fps: float
    camera_problem: str
    recorder: RecorderStatus | None
    markers: int = 0
    marker_stream: str = ""  # --markers: how many received from which stream, or why none yet
    problems: dict[str, str] = field(default_factory=dict)  # of the latest prediction
    swap: str = ""  # hot-swap: the latest verdict on a dropped-in bundle and what is waiting (realtime.hot_swap)
    previous_model_id: str = ""  # what Pipeline.rollback() would bring back; empty when nothing
    model_state: str = ""  # trained | untrained | uncalibrated prior | calibrated (models.live); empty: from trained

    @property
    def state(self) -> str:
        """The running model's state, falling back on ``trained`` when none was set."""
        return state_or_trained(self.model_state, self.trained)


def state_suffix(state: str) -> str:
    """What follows a model id in one-line messages: nothing for a trained model, else " (<state>)"."""
    return "" if state == TRAINED else f" ({state})"


def _ms(x: float) -> str:
    return "-" if math.isnan(x) else f"{1000 * x:.0f}"


def _num(x: float, fmt: str = "+.2f") -> str:
    return "-" if math.isnan(x) else format(x, fmt)


def format_status(s: PipelineStatus) -> str:
    """One line: streams, losses, predictions, freshness, face, latest valence/arousal, model, recorder."""
    parts = [f"t={s.uptime:5.0f}s"]
    for st in s.streams.values():
        if st.modality != "eeg":
            continue
        state = "" if st.connected else " LOST"
        parts.append(
            f"eeg {_num(st.rate, '.0f')}/{st.nominal_rate:g}Hz{state} n={st.samples_in} gaps={st.gaps}"
            f"({st.gap_seconds:.1f}s) nan={st.nan_samples}"
        )
    parts.append(f"pred {_num(s.prediction_rate, '.1f')}/s")
    for m, (p50, p95, _) in s.freshness.items():
        parts.append(f"fresh[{m}] p50/p95={_ms(p50)}/{_ms(p95)}ms")
    if s.camera_problem:
        parts.append("face: off")
    elif "face" in s.streams or "expression" in s.streams:
        parts.append(f"face {_num(s.face_fps, '.1f')}fps")
    p = s.latest
    if p is not None:
        parts.append(f"V={_num(p.valence)} A={_num(p.arousal)}")
        if not math.isnan(p.face_valence):
            parts.append(f"faceV/A={_num(p.face_valence)}/{_num(p.face_arousal)}")
    parts.append(f"model {s.model_id}{state_suffix(s.state) if s.model_id != 'none' else ''}")
    if s.model_problem:
        parts.append(f"[model not running: {s.model_problem}]")
    elif "model" in s.problems:
        parts.append(f"[{s.problems['model']}]")
    if s.swap:
        parts.append(f"[hot-swap: {s.swap}]")
    if s.marker_stream:
        parts.append(f"markers: {s.marker_stream}")
    if s.recorder is not None:
        r = s.recorder
        lost = f" LOST {r.samples_lost}" if r.samples_lost else ""
        parts.append(f"rec {sum(r.samples_written.values())} samples{lost}{' ' + r.error if r.error else ''}")
    for st in s.streams.values():
        if st.problem:
            parts.append(f"[{st.problem}]")
    return " | ".join(parts)
