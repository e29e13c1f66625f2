"""A calibration session: the protocol's blocks run on the live pipeline and recorded to one session file.

Everything goes into the pipeline's session file (HDF5, flushed every 0.5 s, readable while
written): EEG, face embeddings and expression probabilities (with a camera), predictions,
markers, and two event tables declared up front, ``blocks`` (name, kind, media, stimulus,
onset, offset) and ``ratings`` (block, SAM valence, arousal, time, response seconds). Block
onsets and offsets and every rating also go out as markers on the pipeline's LSL marker outlet
(``<app>-markers``: ``onset NAME``, ``offset NAME``, ``rating NAME valence=V arousal=A``).
The file's attributes hold the subject id and the protocol file's text. With ``frames`` (off by
default) the camera's frames are recorded too, downscaled and at a capped rate (``/frames``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Protocol as Interface

from calibration.protocol import Block, Protocol
from calibration.ratings import Rating
from models.contracts import EEG

CALIBRATION_VERSION = 1
TABLES = {
    "blocks": {"name": "text", "kind": "text", "media": "text", "stimulus": "text", "onset": "float",
               "offset": "float"},
    "ratings": {"block": "text", "valence": "float", "arousal": "float", "time": "float",
                "response_seconds": "float"},
}


class SessionError(RuntimeError):
    """The session cannot go on (no EEG arriving, ...); what was recorded is kept."""


class Presenter(Interface):
    def present(self, block: Block, index: int, total: int) -> None: ...
    def wait(self, seconds: float) -> None: ...
    def clear(self) -> None: ...
    def rest(self, seconds: float) -> None: ...


class Rater(Interface):
    def rate(self, block: Block) -> Rating: ...


def session_path(out_dir: str | Path, subject: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(out_dir) / f"{subject}-{stamp}.h5"


def _check_streams(pipeline: object) -> None:
    status = pipeline.status()
    eeg = status.streams.get(EEG)
    if eeg is not None and eeg.samples_in == 0:
        raise SessionError(f"no EEG sample has arrived from {eeg.description} ({eeg.problem or 'no error reported'})")


def run_session(pipeline: object, protocol: Protocol, subject: str, out_dir: str | Path, presenter: Presenter,
                rater: Rater, log=print, frames: tuple[float, float] | None = None) -> Path:
    """Start ``pipeline``, record the protocol to ``<out_dir>/<subject>-<date>.h5``, stop; returns the file.

    ``frames`` (scale, frames per second) also records the camera's frames. The pipeline is stopped
    (and the file closed) whatever happens, so an interrupted session keeps everything recorded until then."""
    path = session_path(out_dir, subject)
    pipeline.start()
    try:
        pipeline.start_recording(path, attrs={"subject": subject, "calibration_version": CALIBRATION_VERSION,
                                              "protocol": protocol.text, "protocol_path": protocol.path},
                                 tables=TABLES, frames=frames)
        log(f"recording {subject} to {path}")
        pipeline.insert_marker(f"session_start {subject}")
        presenter.wait(protocol.settle_seconds)
        _check_streams(pipeline)
        total = len(protocol.blocks)
        for index, block in enumerate(protocol.blocks, 1):
            presenter.present(block, index, total)
            onset = pipeline.insert_marker(f"onset {block.name}")
            presenter.wait(block.seconds)
            offset = pipeline.insert_marker(f"offset {block.name}")
            presenter.clear()
            pipeline.recorder.add_row("blocks", {"name": block.name, "kind": block.kind, "media": block.media,
                                                 "stimulus": block.stimulus, "onset": onset, "offset": offset})
            if block.rated:
                rating = rater.rate(block)
                t = pipeline.insert_marker(f"rating {block.name} valence={rating.valence} arousal={rating.arousal}")
                pipeline.recorder.add_row("ratings", {"block": block.name, "valence": rating.valence,
                                                      "arousal": rating.arousal, "time": t,
                                                      "response_seconds": rating.response_seconds})
                log(f"  {block.name}: valence {rating.valence}, arousal {rating.arousal}")
                if index < total:
                    presenter.rest(protocol.rest_seconds)
        pipeline.insert_marker(f"session_end {subject}")
    finally:
        status = pipeline.stop_recording() if pipeline.recorder is not None else None
        pipeline.stop()
    if status is not None and (status.samples_lost or status.error):
        log(f"warning: {status.samples_lost} samples lost while recording {path}; {status.error}")
    return path
