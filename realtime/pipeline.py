"""The live pipeline: EEG source + camera/face worker -> ring buffers -> inference worker -> sinks.

``Pipeline`` owns every thread of the running app and is what ``app.py``, the dashboard, the
benchmarks and the tests drive: ``start()``, ``stop()``, ``status()``, ``subscribe(callback)``
(called from the inference thread with each Prediction), ``start_recording(path)`` /
``stop_recording()``, ``insert_marker(text)``, ``swap_predictor(predictor)`` (takes effect
between two windows) and ``rollback()`` (back to the model before the last swap); it is the
target of the hot-swap policy (``realtime.swap_policy``), and with ``weights_dir`` a
``realtime.hot_swap.BundleWatcher`` swaps in bundles dropped into that folder.
Opening problems are clear errors before any thread starts, except the camera (reported; EEG
keeps running) and a model the streams cannot feed (reported; streams are still acquired,
recorded and shown).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from models.contracts import EEG, EYE, IncompatibleStreams, ModelOutput, Predictor
from models.live import predictor_state
from models.transforms import MissingModality, get_transform
from realtime import clock
from realtime.inference_worker import InferenceWorker
from realtime.live_stream import LiveStream
from realtime.lsl_outlets import ClassesOutlet, MarkerOutlet, PredictionOutlet
from realtime.pipeline_config import PipelineConfig, torch_thread_count
from realtime.prediction import Prediction, spec_class_labels
from realtime.recorder import FrameRecording, Recorder, RecorderStatus
from realtime.ring_buffer import RingBuffer
from realtime.sources import EegSource, make_source
from realtime.sources.eye import LslEyeSource
from realtime.status import PipelineStatus, RateMeter, StreamStatus, percentiles
from realtime.worker import Worker

if TYPE_CHECKING:  # imported when used: OpenCV, the face models, the marker inlet and the watcher load on demand
    from realtime.camera import Camera
    from realtime.face_worker import FaceWorker
    from realtime.hot_swap import BundleWatcher
    from realtime.marker_inlet import MarkerInlet

__all__ = ["Pipeline", "PipelineConfig"]  # the config is defined in realtime.pipeline_config

#: Predictions kept for the freshness percentiles of the status (a minute at the default hop).
FRESHNESS_HISTORY = 240
#: Models kept for rollback after swaps.
ROLLBACK_DEPTH = 5
#: Markers (own and received) kept for the dashboard's traces.
MARKER_HISTORY = 200


def _source_stream(modality: str, source: EegSource) -> LiveStream:
    """The live stream of an opened source."""
    assert source.buffer is not None  # made by open()
    return LiveStream(modality, source.buffer, source.channels, source.rate, stale_after=0.5)


class Pipeline:
    """Builds and runs the live data path described by a PipelineConfig."""

    def __init__(self, config: PipelineConfig, source: EegSource | None = None,
                 predictor: Predictor | None = None) -> None:
        self.config = config
        self.source = source
        self.eye_source: EegSource | None = None  # config.eye: realtime.sources.eye
        self.predictor = predictor
        self.streams: dict[str, LiveStream] = {}
        self.model_problem = ""
        self.camera_problem = ""
        self.camera: Camera | None = None
        self.face_worker: FaceWorker | None = None
        self.recorder: Recorder | None = None
        self.last_recording: RecorderStatus | None = None  # final status of the latest recording stopped
        self.prediction_outlet: PredictionOutlet | None = None
        self.classes_outlet: ClassesOutlet | None = None
        self.marker_outlet: MarkerOutlet | None = None
        self._worker: InferenceWorker | None = None
        self.watcher: BundleWatcher | None = None  # when config.weights_dir is set
        self._previous: list[Predictor] = []  # models swapped out, newest last (for rollback)
        self._swap_lock = threading.Lock()
        self._subscribers: list[Callable[[Prediction], None]] = []
        self._sub_lock = threading.Lock()
        self._latest: Prediction | None = None
        self._n_predictions = 0
        self._n_markers = 0
        self.marker_inlet: MarkerInlet | None = None  # when config.markers is set
        self.recent_markers: collections.deque[tuple[float, str, bool]] = collections.deque(maxlen=MARKER_HISTORY)
        self._freshness: dict[str, collections.deque[float]] = {}
        self._meters: dict[str, RateMeter] = collections.defaultdict(RateMeter)
        self._started_at = 0.0
        self._running = False

    # -- attributes the dashboard reads --------------------------------------------------
    @property
    def buffers(self) -> dict[str, RingBuffer]:
        return {m: s.buffer for m, s in self.streams.items()}

    def workers(self) -> list[Worker]:
        """Every background thread started by this pipeline (of a recording: while it records)."""
        held = (self.source, self.eye_source, self.camera, self.face_worker, self._worker, self.recorder,
                self.recorder.sampler if self.recorder is not None else None, self.marker_inlet, self.watcher)
        return [w for w in held if w is not None and w.started]

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Open everything, then start the threads. Raises SourceError / FileNotFoundError / model errors."""
        c = self.config
        import torch

        torch.set_num_threads(torch_thread_count(c.torch_threads))
        if c.markers:
            from realtime.marker_inlet import MarkerInlet, marker_selection

            self.marker_inlet = MarkerInlet(marker_selection(c.markers), self._external_marker)
        if self.source is None and c.eeg:
            self.source = make_source(c.eeg, c.eeg_stream, c.serial_port, c.board_args, c.replay_loop)
        if self.source is not None:
            self.source.open()
        try:
            if self.predictor is None and c.model:
                from models.predictor import load_predictor

                self.predictor = load_predictor(c.model, c.device, backend=c.backend)
            if self.source is not None:
                self.streams[EEG] = _source_stream(EEG, self.source)
            if c.eye:
                from realtime.sources.eye import make_eye_source

                self.eye_source = make_eye_source(c.eye)
                self.eye_source.open()
                self.streams[EYE] = _source_stream(EYE, self.eye_source)
            self._open_camera()
            if c.record and c.record_frames is not None and self.camera is None:
                raise ValueError("recording frames needs a camera: "
                                 f"{self.camera_problem or 'none was given (--cam none)'}")
            self.model_problem = self.check_predictor(self.predictor)
            self.prediction_outlet = PredictionOutlet(c.app_name, tuple(self.streams))
            self.classes_outlet = ClassesOutlet(c.app_name)
            if self.predictor is not None:  # from the start when the spec names the classes (lsl_outlets)
                self.classes_outlet.use(spec_class_labels(self.predictor.spec))
            self.marker_outlet = MarkerOutlet(c.app_name)
        except BaseException:
            self._close_inputs()
            raise
        self._worker = InferenceWorker(self.streams, self.predictor, c.hop, self._publish, self.model_problem)
        if c.record:
            self.start_recording(c.record, frames=c.record_frames, overwrite=c.overwrite)
        if self.source is not None:
            self.source.start()
        if self.eye_source is not None:
            self.eye_source.start()
        if self.face_worker is not None:
            self.face_worker.start()
        if self.marker_inlet is not None:
            self.marker_inlet.start()
        self._worker.start()
        self._started_at = time.monotonic()
        self._running = True
        if c.weights_dir:
            from realtime.hot_swap import BundleWatcher

            self.watcher = watcher = BundleWatcher(c.weights_dir, self,
                                                   self.predictor.device if self.predictor else "cpu",
                                                   backend=c.backend)
            try:
                watcher.start()
            except BaseException:
                self.stop()
                raise

    def stop(self) -> None:
        """Stop the threads, then close the recording (after it has written everything it holds)."""
        if self.watcher is not None:
            self.watcher.stop()
        if self._worker is not None:
            self._worker.stop()
        self._close_inputs()
        if self.recorder is not None:
            self.stop_recording()
        self.prediction_outlet = self.marker_outlet = None
        self.classes_outlet = None
        self._running = False

    def _close_inputs(self) -> None:
        if self.marker_inlet is not None:
            self.marker_inlet.stop()
        if self.face_worker is not None:
            self.face_worker.stop()
        if self.camera is not None:
            self.camera.stop()
        if self.source is not None:
            self.source.stop()
        if self.eye_source is not None:
            self.eye_source.stop()

    def _open_camera(self) -> None:
        """Camera + face worker into FACE / EXPRESSION buffers; a camera that cannot open is reported, not fatal."""
        if self.config.camera in ("", "none"):
            return
        from models.face_backbones import BackboneUnavailable
        from realtime.camera import CameraError
        from realtime.face_path import open_face_path

        try:
            path = open_face_path(self.config.camera, self.predictor, self.config.face_redetect)
        except (CameraError, BackboneUnavailable) as exc:
            self.camera_problem = str(exc)
            return
        if path is not None:
            self.camera, self.face_worker = path.camera, path.worker
            self.streams.update(path.streams)

    # -- models --------------------------------------------------------------------------
    def check_predictor(self, predictor: Predictor | None) -> str:
        """Empty if the live streams can feed ``predictor``, else what is wrong (names the missing channels);
        nothing is changed."""
        if predictor is None:
            return "no model"
        eye = predictor.spec.inputs.get(EYE)
        if eye is not None and isinstance(self.eye_source, LslEyeSource):
            problem = self.eye_source.unusable_for(eye.channels)
            if problem:
                return f"model {predictor.model_id} needs eye features: {problem}"
        try:
            predictor.check_streams({m: (s.channels, s.rate) for m, s in self.streams.items()})
        except IncompatibleStreams as exc:
            return str(exc)
        return ""

    def try_predictor(self, predictor: Predictor) -> ModelOutput:
        """One forward pass of ``predictor`` on the current windows, not published (hot-swap's trial run).

        Raises MissingModality when a required input has no usable window right now."""
        if self._worker is None:
            raise RuntimeError("the pipeline is not running")
        wanted = {m: get_transform(i.transform).lookback_seconds(i) for m, i in predictor.spec.inputs.items()}
        _, windows, problems = self._worker.cut_windows(wanted)
        missing = [f"{m}: {problems[m]}" for m, i in predictor.spec.inputs.items() if i.required and m not in windows]
        if missing:
            raise MissingModality("; ".join(missing))
        return predictor.predict({m: w for m, w in windows.items() if m in predictor.spec.inputs})

    def swap_predictor(self, predictor: Predictor) -> None:
        """Use ``predictor`` from the next window on; raises IncompatibleStreams (old model kept) if it cannot run."""
        with self._swap_lock:
            problem = self.check_predictor(predictor)
            if problem:
                raise IncompatibleStreams(problem)
            if self.predictor is not None and self.predictor is not predictor:
                self._previous = [*self._previous, self.predictor][-ROLLBACK_DEPTH:]
            self._install(predictor)

    def rollback(self) -> str:
        """Go back to the model that ran before the last swap (from the next window on); returns its id.

        Raises RuntimeError when there is none, IncompatibleStreams (nothing changed) if it cannot run."""
        with self._swap_lock:
            if not self._previous:
                raise RuntimeError("no previous model to roll back to")
            previous = self._previous[-1]
            problem = self.check_predictor(previous)
            if problem:
                raise IncompatibleStreams(f"cannot roll back to {previous.model_id}: {problem}")
            self._previous = self._previous[:-1]
            self._install(previous)
            return previous.model_id

    def _install(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.model_problem = ""
        if self._worker is not None:
            self._worker.swap_predictor(predictor)

    def until_next_step(self) -> float:
        """Seconds until the inference worker's next step (0 while one runs; inf when it is not running)."""
        return self._worker.until_next_step() if self._worker is not None and self._running else float("inf")

    # -- sinks ---------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Prediction], None]) -> None:
        """Call ``callback(prediction)`` from the inference thread for every Prediction (keep it short)."""
        with self._sub_lock:
            self._subscribers = [*self._subscribers, callback]

    def unsubscribe(self, callback: Callable[[Prediction], None]) -> None:
        with self._sub_lock:
            self._subscribers = [s for s in self._subscribers if s != callback]

    def _publish(self, p: Prediction) -> None:
        self._latest = p
        self._n_predictions += 1
        for m, t in p.newest_sample.items():
            self._freshness.setdefault(m, collections.deque(maxlen=FRESHNESS_HISTORY)).append(p.published - t)
        if self.prediction_outlet is not None:
            self.prediction_outlet.push(p)
        if self.classes_outlet is not None:
            self.classes_outlet.push(p)
        for callback in self._subscribers:
            callback(p)

    def start_recording(self, path: str | Path, attrs: dict[str, object] | None = None,
                        tables: dict[str, dict[str, str]] | None = None,
                        frames: tuple[float, float] | None = None, overwrite: bool = False) -> Path:
        """Record every stream from now on, with predictions and markers, to the session file ``path``.

        ``attrs`` are added to the file's attributes; ``tables`` declares event tables (see Recorder);
        ``frames`` (scale, frames per second) also records the camera's frames, downscaled and rate-capped;
        an existing file is FileExistsError unless ``overwrite``."""
        if self.recorder is not None:
            raise RuntimeError(f"already recording to {self.recorder.path}")
        frame_recording = None
        if frames is not None:
            if self.camera is None:
                raise RuntimeError("recording frames needs a camera: "
                                   f"{self.camera_problem or 'none was given (--cam none)'}")
            assert self.camera.frame_size is not None  # known once the camera is open
            frame_recording = FrameRecording(self.camera.frames, self.camera.frame_size, *frames)
        attrs = {"app": self.config.app_name, "eeg_source": self.source.description if self.source else "none",
                 "eye_source": self.eye_source.description if self.eye_source else "none",
                 "camera": self.config.camera, "model": self.config.model, **(attrs or {})}
        self.recorder = Recorder(path, list(self.streams.values()), attrs, tables, frame_recording, overwrite)
        self.recorder.start()
        self.subscribe(self.recorder.add_prediction)
        return self.recorder.path

    def stop_recording(self) -> RecorderStatus | None:
        """Write what is left and close the file; returns the recorder's final status."""
        if self.recorder is None:
            return None
        self.unsubscribe(self.recorder.add_prediction)
        self.recorder.stop()
        status, self.recorder = self.recorder.status(), None
        self.last_recording = status
        return status

    def insert_marker(self, text: str) -> float:
        """Send ``text`` on the marker outlet and into the recording; returns its LSL time."""
        t = clock.now()
        if self.marker_outlet is not None:
            self.marker_outlet.push(text, t)
        if self.recorder is not None:
            self.recorder.add_marker(t, text)
        self._n_markers += 1
        self.recent_markers.append((t, text, False))
        return t

    def _external_marker(self, t: float, text: str) -> None:
        """A marker from the subscribed stimulus stream: recorded and shown, not sent again on our outlet."""
        if self.recorder is not None:
            self.recorder.add_marker(t, text)
        self.recent_markers.append((t, text, True))

    # -- status --------------------------------------------------------------------------
    def _camera_problem(self) -> str:
        """Why there are no faces: the camera did not open, ended or was lost, or the face worker failed."""
        errors = [w.error for w in (self.camera, self.face_worker) if w is not None and w.error]
        return self.camera_problem or (errors[0] if errors else "")

    def status(self) -> PipelineStatus:
        streams = {}
        for m, s in self.streams.items():
            counters = s.buffer.counters()
            source = {EEG: self.source, EYE: self.eye_source}.get(m)
            src = source.status() if source is not None else None
            streams[m] = StreamStatus(
                modality=m, description=src.description if src else m, n_channels=len(s.channels),
                nominal_rate=s.rate, rate=self._meters[m].update(counters.samples_in), samples_in=counters.samples_in,
                gaps=counters.gaps, gap_seconds=counters.gap_seconds, nan_samples=src.nan_samples if src else 0,
                connected=src.connected if src else True, problem=src.problem if src else "",
            )
        face = self.face_worker.counters() if self.face_worker is not None else None
        p = self._latest
        return PipelineStatus(
            running=self._running,
            uptime=time.monotonic() - self._started_at if self._running else 0.0,
            streams=streams,
            predictions=self._n_predictions,
            prediction_rate=self._meters["predictions"].update(self._n_predictions),
            freshness={m: percentiles(list(d)) for m, d in self._freshness.items()},
            model_id=self.predictor.model_id if self.predictor is not None else "none",
            trained=bool(self.predictor.trained) if self.predictor is not None else False,
            model_problem=self.model_problem or (self._worker.error or "" if self._worker is not None else ""),
            latest=p,
            face_fps=face.fps if face is not None else float("nan"),
            camera_problem=self._camera_problem(),
            recorder=self.recorder.status() if self.recorder is not None else None,
            markers=self._n_markers,
            marker_stream=(self.marker_inlet.problem or f"from {self.marker_inlet.description}")
            if self.marker_inlet is not None else "",
            external_markers=self.marker_inlet.received if self.marker_inlet is not None else 0,
            problems=dict(p.problems) if p is not None else {},
            swap=self.watcher.summary() if self.watcher is not None else "",
            previous_model_id=self._previous[-1].model_id if self._previous else "",
            model_state=predictor_state(self.predictor),
            workers=tuple(w.stats() for w in self.workers()),
        )
