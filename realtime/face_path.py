"""The camera path of the live app, opened as one piece: camera -> face worker -> FACE and EXPRESSION buffers.

The face backbone follows the model that runs (ResNet-50 embeddings for a 2048-d face input, else
FER's), so the streams carry what the predictor was trained on. A camera or backbone that cannot
open is a ``CameraError`` / ``BackboneUnavailable`` with its message; the pipeline reports it and
keeps EEG running.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.contracts import EXPRESSION, FACE, Predictor
from realtime.camera import Camera, parse_camera_spec
from realtime.face_worker import FaceWorker
from realtime.live_stream import LiveStream
from realtime.ring_buffer import RingBuffer

#: Face / expression ring buffers: seconds held at the highest camera rate we expect.
FACE_BUFFER_SECONDS = 120.0
MAX_CAMERA_FPS = 60.0
#: A face row older than this (s) means no face right now (camera stalled, face left the picture).
FACE_STALE_SECONDS = 1.0


@dataclass(frozen=True)
class FacePath:
    """A started camera, its (not yet started) face worker, and the two live streams the worker fills."""

    camera: Camera
    worker: FaceWorker
    streams: dict[str, LiveStream]


def open_face_path(spec: str, predictor: Predictor | None, redetect_every: int = 1) -> FacePath | None:
    """Open the camera ``spec`` and the face analyser ``predictor`` needs; None when ``spec`` names no camera.
    ``redetect_every``: MTCNN on one frame in that many, the face followed in between (``models.face_tracking``).

    Raises CameraError (the camera cannot open) or BackboneUnavailable (the camera is stopped again)."""
    from models.face_backbones import FER_CLASSES
    from models.face_features import FaceAnalyzer

    source = parse_camera_spec(spec)
    if source is None:
        return None
    camera = Camera(source)
    camera.start()
    try:
        face_input = predictor.spec.inputs.get(FACE) if predictor is not None else None
        backbone = "resnet50" if face_input is not None and face_input.feature_dim == 2048 else "fer"
        analyzer = FaceAnalyzer(backbone=backbone, device=predictor.device if predictor is not None else "cpu",
                                redetect_every=redetect_every)
        capacity = int(FACE_BUFFER_SECONDS * MAX_CAMERA_FPS)
        face = RingBuffer(analyzer.embedding_dim, capacity)
        expression = RingBuffer(len(FER_CLASSES), capacity)
        names = tuple(f"{backbone}{i}" for i in range(analyzer.embedding_dim))
        streams = {FACE: LiveStream(FACE, face, names, 0.0, stale_after=FACE_STALE_SECONDS),
                   EXPRESSION: LiveStream(EXPRESSION, expression, FER_CLASSES, 0.0, stale_after=FACE_STALE_SECONDS)}
        return FacePath(camera, FaceWorker(camera.frames, analyzer, face, expression), streams)
    except BaseException:  # nothing may keep a camera the pipeline does not know of
        camera.stop()
        raise
