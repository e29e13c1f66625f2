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
from realtime.worker import WorkerStats


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
    freshness: dict[str, tuple[float, ...]]  # modality -> p50, p95, p99 of published - newest sample (s)
    model_id: str
    trained: bool
    model_problem: str
    latest: Prediction | None
    face_fps: float
    camera_problem: str
    recorder: RecorderStatus | None
    markers: int = 0
    marker_stream: str = ""  # --markers: the stream markers come from, or why none yet
    external_markers: int = 0  # --markers: how many received
    problems: dict[str, str] = field(default_factory=dict)  # of the latest prediction
    swap: str = ""  # hot-swap: the latest verdict on a dropped-in bundle and what is waiting (realtime.hot_swap)
    previous_model_id: str = ""  # what Pipeline.rollback() would bring back; empty when nothing
    model_state: str = ""  # trained | untrained | uncalibrated prior | calibrated (models.live); empty: from trained
    workers: tuple[WorkerStats, ...] = ()  # every background thread: name, alive, uptime, error

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


#: Longest status line before its least important parts are dropped.
STATUS_WIDTH = 160


def format_status(s: PipelineStatus) -> str:
    """One short line (at most about ``STATUS_WIDTH`` characters): streams, predictions, freshness, face, latest
    valence/arousal, model, recorder. Why something is off is in ``status_reasons``, shown when it changes."""
    parts = [f"t={s.uptime:.0f}s"]
    for st in s.streams.values():
        if st.modality in ("eeg", "eye"):
            gaps = f" gaps={st.gaps}" if st.gaps else ""
            bad = f" nan={st.nan_samples}" if st.nan_samples else ""
            lost = "" if st.connected else " LOST"
            parts.append(f"{st.modality} {_num(st.rate, '.0f')}/{st.nominal_rate:g}Hz{lost}{gaps}{bad}")
    parts.append(f"pred {_num(s.prediction_rate, '.1f')}/s")
    fresh = " ".join(f"{m[:4]} {_ms(p50)}/{_ms(p95)}" for m, (p50, p95, _) in s.freshness.items())
    if fresh:
        parts.append(f"fresh p50/p95 ms {fresh}")
    if s.camera_problem:
        parts.append("face off")
    elif "face" in s.streams or "expression" in s.streams:
        parts.append(f"face {_num(s.face_fps, '.0f')}fps")
    p = s.latest
    if p is not None:
        parts.append(f"V={_num(p.valence)} A={_num(p.arousal)}")
    parts.append(f"model {s.model_id}{state_suffix(s.state) if s.model_id != 'none' else ''}")
    if s.recorder is not None:
        r = s.recorder
        parts.append(f"rec {'STOPPED' if r.error else _count(sum(r.samples_written.values()))}"
                     f"{f' LOST {r.samples_lost}' if r.samples_lost else ''}")
    if s.marker_stream:
        parts.append(f"markers {s.external_markers}")
    line = " | ".join(parts)
    return line if len(line) <= STATUS_WIDTH else line.replace(f" | fresh p50/p95 ms {fresh}", "")


def status_reasons(s: PipelineStatus) -> dict[str, str]:
    """Why something is off or what just happened, by topic: shown once, when it changes (not every second)."""
    reasons = {f"[{st.modality}]": st.problem for st in s.streams.values() if st.problem}
    if s.model_problem:
        reasons["[model]"] = f"not running: {s.model_problem}"
    elif "model" in s.problems:
        reasons["[model]"] = s.problems["model"]
    reasons.update({"[camera]": s.camera_problem} if s.camera_problem else {})
    reasons.update({"[hot-swap]": s.swap} if s.swap else {})
    reasons.update({"[markers]": s.marker_stream} if s.marker_stream else {})
    if s.recorder is not None and s.recorder.error:
        reasons["[recording]"] = s.recorder.error
    return reasons


def _count(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e4 else str(n)
