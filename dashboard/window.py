"""The dashboard's main window: lays out the panels, redraws them on a timer, and drives the pipeline's controls.

Predictions reach the Qt thread through ``PredictionBridge`` (queued signal, bounded deque);
the redraw timer (at most ``fps`` per second) reads that deque and non-blocking copies of the
ring buffers, so the pipeline never waits on drawing. Qt painting called from Python keeps the
GIL for as long as it runs (PyQt does not release it), so while a frame is painted the
acquisition and inference threads cannot run, however short the switch interval; that is what
made predictions older with the dashboard (bench/latency.py --gui). Hence each tick draws one
group of panels in turn (``ROTATION``), so one frame holds the GIL for one group's painting, not
the sum of all, and no frame starts just before or during an inference step: the timer polls often and
draws in the gaps between steps (at any hop), and after ``MAX_FRAME_GAP`` without a frame it draws anyway. Slow actions
(checkpoint, session file) run in ``Background`` threads. "Calibrate…" runs a calibration session on
the running pipeline (``calibration.qt_session``: timers and a non-blocking SAM dialog, so drawing goes
on); the subject's window opens beside the dashboard. Closing the window ends a session, stops the
pipeline and closes the session file.
"""

from __future__ import annotations

import html
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6 import QtCore, QtGui, QtWidgets

from dashboard import theme
from dashboard.background import Background
from dashboard.bridge import PredictionBridge
from dashboard.camera_panel import CameraPanel
from dashboard.class_panel import ClassPanel
from dashboard.controls import ControlsBar
from dashboard.eeg_panel import EEGPanel
from dashboard.explain_panel import ExplainPanel
from dashboard.eye_panel import EyePanel
from dashboard.health_panel import HealthPanel
from dashboard.traces import TracesPanel
from dashboard.va_plane import VAPlane
from models.contracts import EEG, EYE
from models.eeg_features import THESIS_BANDS
from realtime import clock
from realtime.recorder import RecorderStatus
from realtime.swap_policy import HotSwapPolicy

if TYPE_CHECKING:
    from calibration.qt_presenter import QtPresenter
    from calibration.qt_session import QtSession
    from models.contracts import Predictor
    from realtime.pipeline import Pipeline
    from realtime.status import PipelineStatus

#: ``load_predictor(path, device)``: how "Load checkpoint…" loads a model (models.predictor's by default).
LoadPredictor = Callable[[str, str], "Predictor"]

MAX_EEG_ROWS = 32  # more channels than this are not readable as traces
EEG_SECONDS = 5.0
HEALTH_INTERVAL = 0.5  # seconds between status() snapshots
GIL_SWITCH_SECONDS = 0.001  # while the dashboard runs (CPython default 0.005)
#: Panel groups drawn on successive frames; each group is redrawn at fps / len(ROTATION).
ROTATION = ("eeg", "traces", "rest")
#: No frame starts this long (s) before an inference step, nor while one runs: a frame's painting (p95 ~35 ms from
#: slot to last pixel on a busy 2-core machine) must not hold the GIL across the step. At short hops the guard is
#: GUARD_SHARE of the hop, so frames still fit between steps.
STEP_GUARD_SECONDS = 0.05
GUARD_SHARE = 0.5
#: The timer polls this often (s); frames are drawn at most ``fps`` per second, in the gaps between steps.
POLL_SECONDS = 0.005
#: After this long (s) without a frame one is drawn even across a step: the dashboard never starves.
MAX_FRAME_GAP = 0.25
BAND_LABELS = tuple(f"{lo:g}–{hi:g}" for lo, hi in THESIS_BANDS)


def _box(title: str, widget: QtWidgets.QWidget) -> QtWidgets.QGroupBox:
    box = QtWidgets.QGroupBox(title)
    layout = QtWidgets.QVBoxLayout(box)
    layout.setContentsMargins(4, 6, 4, 4)
    layout.addWidget(widget)
    return box


class DashboardWindow(QtWidgets.QMainWindow):
    """Everything on one screen: traces, V-A plane, class probabilities (classifiers), EEG, camera, explanation,
    health, controls."""

    closed = QtCore.pyqtSignal()

    def __init__(self, pipeline: Pipeline, seconds: float = 30.0, fps: float = 30.0,
                 record_dir: str | Path = "sessions", load_predictor: LoadPredictor | None = None) -> None:
        super().__init__()
        # A shorter switch interval than CPython's 5 ms lets the acquisition and inference threads in sooner
        # while the Python parts of a frame run (Qt's own painting keeps the GIL regardless: see above).
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        theme.setup_pyqtgraph()
        self.setStyleSheet(theme.STYLE_SHEET)
        self.setWindowTitle(f"EmoLive — {pipeline.config.app_name}")
        self.pipeline = pipeline
        self.record_dir = Path(record_dir)
        self._load_predictor = load_predictor
        self.bridge = PredictionBridge(parent=self)
        self.background = Background(self)
        self.background.finished.connect(self._on_done)
        self.background.failed.connect(self._on_failed)

        self.controls = ControlsBar(seconds)
        self.header = QtWidgets.QLabel()
        self.header.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.traces = TracesPanel(seconds)
        self.plane = VAPlane()
        self.class_panel = ClassPanel()
        self.class_box = _box("Classes", self.class_panel)
        self.eeg = EEGPanel(seconds=EEG_SECONDS)
        self.camera = CameraPanel()
        self.eye = EyePanel() if EYE in pipeline.streams else None
        self.explain = ExplainPanel(seconds)
        self.health = HealthPanel()
        self._build_layout()
        self.controls.record_toggled.connect(self._on_record)
        self.controls.calibrate_clicked.connect(self._on_calibrate)
        self.calibration: QtSession | None = None  # the running calibration session, if any
        self._presenter: QtPresenter | None = None  # its subject window
        self.controls.marker_requested.connect(self._on_marker)
        self.controls.load_requested.connect(self.load_checkpoint)
        self.controls.rollback.clicked.connect(self._on_rollback)
        self.controls.seconds_changed.connect(self._on_seconds)

        self._eeg_rows: list[int] = []
        self._model_id: str | None = None
        self._shown_band_power: object = None
        self._last_health = 0.0
        self._drawn = -1  # bridge.received when the plane and explanation were last drawn
        self.frames = 0  # frames drawn
        self.drawn = dict.fromkeys(ROTATION, 0)  # times each panel group was drawn
        self._frame_times: deque[float] = deque(maxlen=120)
        self.status: PipelineStatus | None = None
        pipeline.subscribe(self.bridge.on_prediction)
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.setInterval(round(1000 * POLL_SECONDS))
        self._frame_interval = 1.0 / min(fps, 60.0)
        self._guard = min(STEP_GUARD_SECONDS, GUARD_SHARE * pipeline.config.hop)
        self._last_frame = 0.0
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self.resize(1600, 950)

    def _build_layout(self) -> None:
        central = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(central)
        grid.setContentsMargins(8, 4, 8, 8)
        grid.setSpacing(6)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.header)
        top.addWidget(self.controls, 1)
        grid.addLayout(top, 0, 0, 1, 3)
        grid.addWidget(_box("Valence and arousal", self.traces), 1, 0)
        if self.eye is None:
            grid.addWidget(_box("Camera", self.camera), 1, 1)
        else:
            split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
            split.addWidget(_box("Camera", self.camera))
            split.addWidget(_box("Eye tracker", self.eye))
            grid.addWidget(split, 1, 1)
        plane_and_classes = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        plane_and_classes.addWidget(_box("Valence–arousal plane", self.plane))
        plane_and_classes.addWidget(self.class_box)
        grid.addWidget(plane_and_classes, 1, 2)
        grid.addWidget(_box("EEG", self.eeg), 2, 0)
        grid.addWidget(_box("Why the model said it", self.explain), 2, 1)
        grid.addWidget(_box("Health", self.health), 2, 2)
        grid.setColumnStretch(0, 5)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(2, 3)
        grid.setRowStretch(1, 1)
        grid.setRowStretch(2, 1)
        self.setCentralWidget(central)

    # -- drawing -------------------------------------------------------------------------
    @property
    def frame_rate(self) -> float:
        """Redraws per second over the last ~2 s."""
        times = [t for t in self._frame_times if t >= self._frame_times[-1] - 2.0] if self._frame_times else []
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def redraw(self) -> None:
        """Every panel now, from the prediction deque and copies of the ring buffers (the timer draws in turn)."""
        for group in ROTATION:
            self._draw(group)

    def _tick(self) -> None:
        """One timer poll: when a frame is due and the next inference step is far enough off (or the last frame is
        MAX_FRAME_GAP old), the next panel group of ROTATION, so one frame paints one group only."""
        if self.isMinimized():  # nothing to see: leave the CPU to the pipeline
            return
        now = time.monotonic()
        if now - self._last_frame < self._frame_interval:
            return
        if now - self._last_frame < MAX_FRAME_GAP and self.pipeline.until_next_step() < self._guard:
            return  # this frame waits for the gap after the step
        self._last_frame = now
        self._draw(ROTATION[self.frames % len(ROTATION)])
        self.frames += 1
        self._frame_times.append(now)

    def _draw(self, group: str) -> None:
        now = clock.now()
        history = self.bridge.history
        predictor = self.pipeline.predictor
        if (predictor.model_id if predictor is not None else "") != self._model_id:
            self._on_model_changed(predictor)
        if group == "eeg":
            self._draw_eeg(now)
        elif group == "traces":
            self.traces.update_from(history, now, list(self.pipeline.recent_markers))  # the time axis scrolls
        else:
            if self.bridge.received != self._drawn:  # these change only with a new prediction
                self._drawn = self.bridge.received
                self.plane.update_from(history, now)
                self.class_panel.update_from(self.bridge.latest)
                self.explain.update_from(history, now, self._saliency_seconds())
            self.camera.update_from(self.pipeline.camera, self.pipeline.face_worker, self.pipeline.camera_problem,
                                    now)
            if self.eye is not None:
                stream = self.pipeline.streams[EYE]
                self.eye.update_from(*stream.buffer.read(now, self.eye.seconds), stream.channels, now)
            if time.monotonic() - self._last_health >= HEALTH_INTERVAL:
                self._last_health = time.monotonic()
                self._draw_health()
        self.drawn[group] += 1

    def _on_model_changed(self, predictor: Predictor | None) -> None:
        """Show the class panel for a classifier only, and the EEG channels the model uses (all of the stream's when
        it names none)."""
        self._model_id = predictor.model_id if predictor is not None else ""
        self.class_box.setVisible(predictor is not None and any(kind != "continuous"
                                                                for kind in predictor.spec.targets.values()))
        stream = self.pipeline.streams.get(EEG)
        if stream is None:
            return
        spec = predictor.spec.inputs.get(EEG) if predictor is not None else None
        wanted = [c for c in spec.channels if c in stream.channels] if spec is not None else []
        names = wanted or list(stream.channels)
        self._eeg_rows = [stream.channels.index(c) for c in names][:MAX_EEG_ROWS]
        self.eeg.set_channels([stream.channels[i] for i in self._eeg_rows])

    def _saliency_seconds(self) -> float | None:
        predictor = self.pipeline.predictor
        spec = predictor.spec.inputs.get(EEG) if predictor is not None else None
        return spec.window_seconds if spec is not None else None

    def _draw_eeg(self, now: float) -> None:
        stream = self.pipeline.streams.get(EEG)
        if stream is None or not self._eeg_rows:
            return
        data, ts = stream.buffer.read(now, EEG_SECONDS)
        self.eeg.update_signals(data[:, self._eeg_rows], ts, now)
        latest = self.bridge.latest
        if latest is not None and latest.band_power is not None and latest.band_power is not self._shown_band_power:
            self._shown_band_power = latest.band_power
            bp = latest.band_power
            if bp.shape[0] == len(stream.channels):
                self.eeg.update_band_power(bp[self._eeg_rows], BAND_LABELS[: bp.shape[1]])

    def _draw_health(self) -> None:
        s = self.pipeline.status()
        self.status = s
        device = getattr(self.pipeline.predictor, "device", "") if self.pipeline.predictor is not None else ""
        self.health.update_health(s, device, self.frame_rate, self.bridge.dropped)
        state = theme.state_badge(s.state)
        badge = (f" <span style='background:{state.background}; color:{state.foreground}'>"
                 f"&nbsp;{state.text}&nbsp;</span>" if state.on_plots else "")
        rec = f" <span style='color:{theme.BAD}'>● REC</span>" if s.recorder is not None else ""
        self.header.setText(f"<span style='font-size:13pt; font-weight:bold'>EmoLive</span>&nbsp;&nbsp;"
                            f"<b>{html.escape(s.model_id)}</b>{badge}"
                            f"&nbsp;<span style='color:{theme.MUTED}'>{device}</span>{rec}")
        if not self.calibrating:
            self.controls.set_recording(s.recorder is not None or self.background.busy("record"))
        self.controls.rollback.setEnabled(bool(s.previous_model_id))
        self.controls.rollback.setToolTip(f"back to {s.previous_model_id}" if s.previous_model_id else "")

    # -- controls ------------------------------------------------------------------------
    def _on_seconds(self, seconds: float) -> None:
        self.traces.set_seconds(seconds)
        self.explain.set_seconds(seconds)

    def _on_record(self, on: bool) -> None:
        if on:
            path = self.record_dir / time.strftime("session-%Y%m%d-%H%M%S.h5")
            path.parent.mkdir(parents=True, exist_ok=True)
            started = self.background.run("record", lambda: self.pipeline.start_recording(path))
        else:
            started = self.background.run("stop recording", self.pipeline.stop_recording)
        if not started:
            self.controls.say("the previous recording action is still running", error=True)

    # -- calibration ---------------------------------------------------------------------
    @property
    def calibrating(self) -> bool:
        return self.calibration is not None and self.calibration.running

    def _on_calibrate(self) -> None:
        """Stop the running session, or ask for subject and protocol and start one."""
        if self.calibration is not None and self.calibration.running:
            self.calibration.cancel("stopped from the dashboard")
            return
        from calibration.start_dialog import CalibrationStartDialog

        dialog = CalibrationStartDialog(self)
        dialog.accepted.connect(lambda: self.start_calibration(*dialog.values()))
        dialog.open()

    def start_calibration(self, subject: str, protocol: str | Path | None = None,
                          frames: tuple[float, float] | None = None) -> bool:
        """Record a calibration session of ``subject`` into the recording folder; False (reason shown) if it cannot."""
        from calibration.profiles import ProfileError
        from calibration.protocol import ProtocolError, load_protocol
        from calibration.pseudonym import recorded_id
        from calibration.qt_presenter import QtPresenter
        from calibration.qt_session import QtSession

        if self.calibrating:
            self.controls.say("a calibration session is already running", error=True)
            return False
        if self.pipeline.recorder is not None or self.background.busy("record"):
            self.controls.say("stop the recording first: a calibration session records to its own file", error=True)
            return False
        try:
            recorded = recorded_id(subject, self.pipeline.config.publish_subject)
            plan = load_protocol(protocol or None)
        except (ProfileError, ProtocolError, ValueError, OSError) as exc:
            self.controls.say(f"calibration not started: {exc}", error=True)
            return False
        self._presenter = presenter = QtPresenter()
        self.calibration = session = QtSession(self.pipeline, plan, recorded, self.record_dir, presenter, frames,
                                               log=lambda _: None, parent=self)
        session.progress.connect(
            lambda what, seconds: self.controls.say(f"calibration {subject}: {what}" +
                                                    (f", {seconds:g} s" if seconds else "")))
        session.finished.connect(self._on_calibration_done)
        session.failed.connect(self._on_calibration_failed)
        self.controls.set_calibrating(True)
        session.start()
        return True

    def _end_calibration(self) -> None:
        self.controls.set_calibrating(False)
        self.controls.set_recording(self.pipeline.recorder is not None)
        if self._presenter is not None:
            self._presenter.close()
            self._presenter = None

    def _on_calibration_done(self, path: Path) -> None:
        self._end_calibration()
        self.controls.say(f"calibration saved to {path}")

    def _on_calibration_failed(self, message: str) -> None:
        self._end_calibration()
        self.controls.say(f"calibration ended: {message}", error=True)

    def _on_marker(self, text: str) -> None:
        t = self.pipeline.insert_marker(text)
        where = " and into the session file" if self.pipeline.recorder is not None else ""
        self.controls.say(f"marker {text!r} at {t:.3f} sent on LSL{where}")

    def load_checkpoint(self, path: str) -> None:
        """Load ``path`` and swap it in, in the background; the old model keeps running until it succeeds."""
        from models.predictor import load_predictor

        load: LoadPredictor = self._load_predictor or load_predictor
        device = self.pipeline.predictor.device if self.pipeline.predictor is not None else "cpu"
        policy = HotSwapPolicy(self.pipeline)

        def load_and_swap() -> str:  # the hot-swap watcher's rule: load, then the policy checks, tries and swaps
            predictor = load(path, device)
            verdict = policy.swap_in(predictor)
            if not verdict.accepted:  # the reason is the message; the watcher would retry, a person loads again
                raise ValueError(verdict.reason + ("; load it again in a few seconds" if verdict.retry else ""))
            return predictor.model_id

        if self.background.run("load", load_and_swap):
            self.controls.say(f"loading {path} …")
        else:
            self.controls.say("a checkpoint is still loading", error=True)

    def _on_rollback(self) -> None:
        if not self.background.run("roll back", self.pipeline.rollback):
            self.controls.say("a roll back is still running", error=True)

    def _on_done(self, name: str, result: object) -> None:
        if name in ("record", "stop recording"):  # the button shows the new state now, not at the next health draw
            self.controls.set_recording(self.pipeline.recorder is not None)
        if name in ("load", "roll back"):
            self.controls.say(f"now running {result}")
        elif name == "record":
            self.controls.say(f"recording to {result}")
        elif name == "stop recording" and isinstance(result, RecorderStatus):
            lost = f", {result.samples_lost} samples LOST" if result.samples_lost else ", nothing lost"
            self.controls.say(f"saved {result.path}: {sum(result.samples_written.values()):,} samples{lost}",
                              error=bool(result.samples_lost))

    def _on_failed(self, name: str, message: str) -> None:
        if name in ("record", "stop recording"):
            self.controls.set_recording(self.pipeline.recorder is not None)
        what = {"load": "checkpoint not loaded (the old model keeps running)", "record": "recording not started",
                "stop recording": "recording not closed cleanly", "roll back": "no roll back"}[name]
        self.controls.say(f"{what}: {message}", error=True)

    # -- closing -------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent | None) -> None:
        """Stop drawing and any calibration session, then the pipeline (which closes the session file)."""
        self.timer.stop()
        if self.calibration is not None and self.calibration.running:
            self.calibration.cancel("stopped: the dashboard was closed")
        self.pipeline.unsubscribe(self.bridge.on_prediction)
        self.background.wait()
        self.pipeline.stop()
        self.closed.emit()
        super().closeEvent(event)
