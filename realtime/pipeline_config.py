"""What the live pipeline runs (``PipelineConfig``, the command line of ``app.py`` as data) and its CPU share."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class PipelineConfig:
    """What to run; mirrors the command line of ``app.py``."""

    eeg: str | None = "brainflow:synthetic"  # see realtime.sources.SPEC_HELP; None: no EEG
    eeg_stream: str | None = None  # LSL stream name for eeg="lsl" (default: the first stream of type EEG)
    serial_port: str = ""
    board_args: dict[str, str] = field(default_factory=dict)
    camera: str = "none"  # "none", "demo", a device index, a video file or a URL
    face_redetect: int = 10  # MTCNN on one frame in this many, optical flow between (1: detect every frame)
    model: str = "face-prior"  # registered model name or checkpoint path
    device: str = "auto"
    backend: str = "auto"  # the forward pass: "auto", "torch" or "onnx" (models.onnx_backend)
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
