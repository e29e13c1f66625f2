"""Face videos -> per-frame face embeddings (a Signal with timestamps), with the live face worker's FaceAnalyzer.

Frames are read with OpenCV from the stimulus onset (``VideoRef.first_frame``), every
``frame_step``-th frame analysed (MTCNN, alignment, backbone embedding); frames without a face
are left out, so the model's hold-last transform sees the same gaps it would see live. Results
are cached by the video's content hash, backbone and step, so a video is analysed once.
"""

from __future__ import annotations

import warnings
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.files import atomic_write, sha256_file
from offline.trials import Signal, Trial, VideoRef

if TYPE_CHECKING:  # the face models load (cv2, torch, MTCNN) only once a video is analysed
    from models.face_features import FaceAnalyzer

BACKBONE_BY_DIM = {128: "fer", 2048: "resnet50"}


def _content_key(path: Path, backbone: str, frame_step: int) -> str:
    return f"{sha256_file(path)[:32]}-{backbone}-{frame_step}"


def analyse_video(video: VideoRef, analyzer: FaceAnalyzer, frame_step: int) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps from stimulus onset (n,), embeddings (n, dim)) of the analysed frames that show a face."""
    import cv2

    capture = cv2.VideoCapture(str(video.path))
    if not capture.isOpened():
        raise ValueError(f"{video.path}: OpenCV cannot open the video")
    try:
        if video.first_frame:
            capture.set(cv2.CAP_PROP_POS_FRAMES, video.first_frame)
        times, embeddings = [], []
        index = video.first_frame
        while video.last_frame is None or index < video.last_frame:
            ok, frame = capture.read()
            if not ok:
                break
            if (index - video.first_frame) % frame_step == 0 and (face := analyzer.analyze(frame)) is not None:
                times.append((index - video.first_frame) / video.fps)
                embeddings.append(face.embedding)
            index += 1
    finally:
        capture.release()
    if index == video.first_frame:
        raise ValueError(f"{video.path}: no frame could be decoded")
    dim = analyzer.embedding_dim
    return np.asarray(times, dtype=np.float64), np.asarray(embeddings, dtype=np.float32).reshape(-1, dim)


def attach_faces(trials: list[Trial], modality: str, feature_dim: int, min_rate: float, cache_dir: Path,
                 device: str = "cpu") -> None:
    """Give each trial with a ``modality`` video a ``modality`` Signal of embeddings (analysed at >= min_rate Hz)."""
    if feature_dim not in BACKBONE_BY_DIM:
        raise ValueError(f"no face backbone gives {feature_dim}-d embeddings (known: {sorted(BACKBONE_BY_DIM)})")
    backbone = BACKBONE_BY_DIM[feature_dim]
    cache_dir.mkdir(parents=True, exist_ok=True)
    analyzer = None
    for trial in trials:
        video = trial.videos.get(modality)
        if video is None or modality in trial.signals:
            continue
        step = max(1, int(video.fps // max(min_rate, 1e-9)))
        cached = cache_dir / f"{_content_key(video.path, backbone, step)}-{video.first_frame}-{video.last_frame}.npz"
        if cached.is_file():
            with np.load(cached, allow_pickle=False) as z:
                times, embeddings = z["times"], z["embeddings"]
        else:
            if analyzer is None:
                from models.face_features import FaceAnalyzer

                analyzer = FaceAnalyzer(backbone, device)
            times, embeddings = analyse_video(video, analyzer, step)
            atomic_write(cached, partial(np.savez, times=times, embeddings=embeddings), keep_suffix=True)
        if not len(times):
            warnings.warn(f"{video.path}: no face found in any analysed frame; trial {trial.key} has no {modality}",
                          stacklevel=2)
            continue
        names = tuple(f"{modality}_{i}" for i in range(embeddings.shape[1]))
        trial.signals[modality] = Signal(embeddings, video.fps / step, names, timestamps=times)
