"""The live pipeline: EEG source + camera/face worker -> ring buffers -> inference worker -> sinks.

``Pipeline`` owns every thread of the running app and is what ``app.py``, the dashboard, the
benchmarks and the tests drive: ``start()``, ``stop()``, ``status()``, ``subscribe(callback)``
(called from the inference thread with each Prediction), ``start_recording(path)`` /
``stop_recording()``, ``insert_marker(text)``, ``swap_predictor(predictor)`` (takes effect
between two windows) and ``rollback()`` (back to the model before the last swap); with
``weights_dir`` a ``realtime.hot_swap.BundleWatcher`` swaps in bundles dropped into that folder.
Opening problems are clear errors before any thread starts, except the camera (reported; EEG
keeps running) and a model the streams cannot feed (reported; streams are still acquired,
recorded and shown).
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pylsl

from models.contracts import EEG, EXPRESSION, EYE, FACE, ModelOutput
from models.live import IncompatibleStreams, Predictor, predictor_state
from models.transforms import MissingModality, get_transform
from realtime.inference_worker import InferenceWorker
from realtime.live_stream import LiveStream
from realtime.lsl_outlets import MarkerOutlet, PredictionOutlet
from realtime.prediction import Prediction
from realtime.recorder import FrameRecording, Recorder, RecorderStatus
from realtime.ring_buffer import RingBuffer
from realtime.sources import EegSource, make_source
from realtime.status import PipelineStatus, RateMeter, StreamStatus, percentiles

#: Predictions kept for the freshness percentiles of the status (a minute at the default hop).
FRESHNESS_HISTORY = 240
#: Face / expression ring buffers: seconds held at the highest camera rate we expect.
FACE_BUFFER_SECONDS = 120.0
MAX_CAMERA_FPS = 60.0
#: A face row older than this (s) means no face right now (camera stalled, face left the picture).
FACE_STALE_SECONDS = 1.0
#: Models kept for rollback after swaps.
ROLLBACK_DEPTH = 5


#: Markers (own and received) kept for the dashboard's traces.
MARKER_HISTORY = 200


@dataclass
class PipelineConfig:
    """What to run; mirrors the command line of ``app.py``."""

    eeg: str | None = "brainflow:synthetic"  # see realtime.sources.SPEC_HELP; None: no EEG
    eeg_stream: str | None = None  # LSL stream name for eeg="lsl" (default: the first stream of type EEG)
    serial_port: str = ""
    board_args: dict[str, str] = field(default_factory=dict)
    camera: str = "none"  # "none", "demo", a device index, a video file or a URL
    model: str = "face-prior"  # registered model name or checkpoint path
    device: str = "auto"
    hop: float = 0.25
    app_name: str = "emolive"
    replay_loop: bool = True
    record: str | None = None  # session file recorded from the very first sample
    record_frames: tuple[float, float] | None = None  # with record: camera frames too (scale, frames per second)
    overwrite: bool = False  # with record: replace an existing session file (else FileExistsError)
    publish_subject: bool = False  # calibration sessions publish and record the subject id, not its pseudonym
    markers: str | None = None  # "lsl[:name=...,type=...]": a stimulus-marker stream, recorded and shown
    eye: str | None = None  # "demo" | "lsl[:name=...,type=...]": an eye tracker, recorded as the "eye" stream
    weights_dir: str | None = None  # folder watched for new checkpoint bundles (hot-swap)
    torch_threads: int | None = None  # intra-op threads for the models; None: 1 on machines of <= 4 cores


def torch_thread_count(requested: int | None) -> int:
    """Intra-op threads for torch: the face worker and the inference worker share the CPU with acquisition.

    On small machines one thread each keeps torch from starving the EEG and recorder threads
    (measured on 2 cores: with torch's default of 2 threads a loaded machine ran the face
    worker 20x slower); on larger ones half the cores.
    """
    if requested:
        return requested
    cores = os.cpu_count() or 1
    return 1 if cores <= 4 else cores // 2


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
        self.camera = None
        self.face_worker = None
        self.recorder: Recorder | None = None
        self.last_recording: RecorderStatus | None = None  # final status of the latest recording stopped
        self.prediction_outlet: PredictionOutlet | None = None
        self.marker_outlet: MarkerOutlet | None = None
        self._worker: InferenceWorker | None = None
        self.watcher = None  # realtime.hot_swap.BundleWatcher when config.weights_dir is set
        self._previous: list[Predictor] = []  # models swapped out, newest last (for rollback)
        self._swap_lock = threading.Lock()
        self._subscribers: list[Callable[[Prediction], None]] = []
        self._sub_lock = threading.Lock()
        self._latest: Prediction | None = None
        self._n_predictions = 0
        self._n_markers = 0
        self.marker_inlet = None  # realtime.marker_inlet.MarkerInlet when config.markers is set
        self.recent_markers: collections.deque[tuple[float, str, bool]] = collections.deque(maxlen=MARKER_HISTORY)
        self._freshness: dict[str, collections.deque[float]] = {}
        self._meters: dict[str, RateMeter] = collections.defaultdict(RateMeter)
        self._started_at = 0.0
        self._running = False

    # -- attributes the dashboard reads --------------------------------------------------
    @property
    def buffers(self) -> dict:
        return {m: s.buffer for m, s in self.streams.items()}

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

                self.predictor = load_predictor(c.model, c.device)
            if self.source is not None:
                self.streams[EEG] = LiveStream(EEG, self.source.buffer, self.source.channels, self.source.rate,
                                               stale_after=0.5)
            if c.eye:
                from realtime.sources.eye import make_eye_source

                self.eye_source = make_eye_source(c.eye)
                self.eye_source.open()
                self.streams[EYE] = LiveStream(EYE, self.eye_source.buffer, self.eye_source.channels,
                                               self.eye_source.rate, stale_after=0.5)
            self._open_camera()
            if c.record and c.record_frames is not None and self.camera is None:
                raise ValueError("recording frames needs a camera: "
                                 f"{self.camera_problem or 'none was given (--cam none)'}")
            self.model_problem = self._check(self.predictor)
            self.prediction_outlet = PredictionOutlet(c.app_name, tuple(self.streams))
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

            self.watcher = BundleWatcher(c.weights_dir, self, self.predictor.device if self.predictor else "cpu")
            try:
                self.watcher.start()
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
        from models.face_backbones import FER_CLASSES, BackboneUnavailable
        from models.face_features import FaceAnalyzer
        from realtime.camera import Camera, CameraError, parse_camera_spec
        from realtime.face_worker import FaceWorker

        try:
            camera = Camera(parse_camera_spec(self.config.camera))
            camera.start()
        except CameraError as exc:
            self.camera_problem = str(exc)
            return
        self.camera = camera
        face_input = self.predictor.spec.inputs.get(FACE) if self.predictor is not None else None
        backbone = "resnet50" if face_input is not None and face_input.feature_dim == 2048 else "fer"
        device = self.predictor.device if self.predictor is not None else "cpu"
        try:
            analyzer = FaceAnalyzer(backbone=backbone, device=device)
        except BackboneUnavailable as exc:
            camera.stop()
            self.camera, self.camera_problem = None, str(exc)
            return
        capacity = int(FACE_BUFFER_SECONDS * MAX_CAMERA_FPS)
        face = RingBuffer(analyzer.embedding_dim, capacity)
        expression = RingBuffer(len(FER_CLASSES), capacity)
        self.face_worker = FaceWorker(camera.frames, analyzer, face, expression)
        names = tuple(f"{backbone}{i}" for i in range(analyzer.embedding_dim))
        self.streams[FACE] = LiveStream(FACE, face, names, 0.0, stale_after=FACE_STALE_SECONDS)
        self.streams[EXPRESSION] = LiveStream(EXPRESSION, expression, FER_CLASSES, 0.0,
                                              stale_after=FACE_STALE_SECONDS)

    # -- models --------------------------------------------------------------------------
    def _check(self, predictor: Predictor | None) -> str:
        """Empty if the live streams can feed ``predictor``, else what is wrong (names the missing channels)."""
        if predictor is None:
            return "no model"
        try:
            predictor.check_streams({m: (s.channels, s.rate) for m, s in self.streams.items()})
        except IncompatibleStreams as exc:
            return str(exc)
        return ""

    def check_predictor(self, predictor: Predictor) -> str:
        """Empty if the live streams can feed ``predictor``, else what is missing (nothing is changed)."""
        return self._check(predictor)

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
            problem = self._check(predictor)
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
            problem = self._check(previous)
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
        for callback in self._subscribers:
            callback(p)

    def start_recording(self, path: str | Path, attrs: dict[str, str] | None = None,
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
        t = pylsl.local_clock()
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
            model_problem=self.model_problem,
            latest=p,
            face_fps=face.fps if face is not None else float("nan"),
            camera_problem=self.camera_problem or (self.camera.error or "" if self.camera is not None else ""),
            recorder=self.recorder.status() if self.recorder is not None else None,
            markers=self._n_markers,
            marker_stream=(self.marker_inlet.problem or f"from {self.marker_inlet.description}")
            if self.marker_inlet is not None else "",
            external_markers=self.marker_inlet.received if self.marker_inlet is not None else 0,
            problems=dict(p.problems) if p is not None else {},
            swap=self.watcher.summary() if self.watcher is not None else "",
            previous_model_id=self._previous[-1].model_id if self._previous else "",
            model_state=predictor_state(self.predictor),
        )
