"""A calibration session: the protocol's blocks run on the live pipeline and recorded to one session file.

Everything goes into the pipeline's session file (HDF5, flushed every 0.5 s, readable while
written): EEG, face embeddings and expression probabilities (with a camera), predictions,
markers, and two event tables declared up front, ``blocks`` (name, kind, media, stimulus,
onset, offset) and ``ratings`` (block, SAM valence, arousal, time, response seconds). Block
onsets and offsets and every rating also go out as markers on the pipeline's LSL marker outlet
(``<app>-markers``: ``onset NAME``, ``offset NAME``, ``rating NAME valence=V arousal=A``).
The file's attributes hold the subject id and the protocol file's text. With ``frames`` (off by
default) the camera's frames are recorded too, downscaled and at a capped rate (``/frames``).
A session ended early keeps its file; a block cut short has its onset marker but no ``blocks`` row.
The steps are a generator (``session_steps``) driven by ``run_session`` (headless: sleeps and text
ratings) or by ``calibration.qt_session`` (Qt timers and the SAM dialog).
"""

from __future__ import annotations

import datetime as dt
import time
import typing
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from calibration.protocol import Block, Protocol
from calibration.ratings import Rating
from models.contracts import EEG

if TYPE_CHECKING:  # importing the pipeline loads liblsl, which must wait until the LSL config is chosen
    from realtime.pipeline import Pipeline

CALIBRATION_VERSION = 1
TABLES = {
    "blocks": {"name": "text", "kind": "text", "media": "text", "stimulus": "text", "onset": "float",
               "offset": "float"},
    "ratings": {"block": "text", "valence": "float", "arousal": "float", "time": "float",
                "response_seconds": "float"},
}


class SessionError(RuntimeError):
    """The session cannot go on (no EEG arriving, ...); what was recorded is kept."""


class Presenter(typing.Protocol):
    def present(self, block: Block, index: int, total: int) -> None: ...
    def clear(self) -> None: ...
    def show_rest(self, seconds: float) -> None: ...


class Rater(typing.Protocol):
    def rate(self, block: Block) -> Rating: ...


@dataclass(frozen=True)
class Wait:
    """The session waits ``seconds`` (settling, a block running, a rest); ``what`` says which, for progress displays."""

    seconds: float
    what: str


@dataclass(frozen=True)
class Rate:
    """The session needs the subject's SAM rating of ``block``: send a ``Rating`` back into the steps."""

    block: Block
    index: int
    total: int


Step = Wait | Rate


def session_path(out_dir: str | Path, subject: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(out_dir) / f"{subject}-{stamp}.h5"


def _check_streams(pipeline: Pipeline) -> None:
    status = pipeline.status()
    eeg = status.streams.get(EEG)
    if eeg is not None and eeg.samples_in == 0:
        raise SessionError(f"no EEG sample has arrived from {eeg.description} ({eeg.problem or 'no error reported'})")


def _add_row(pipeline: Pipeline, table: str, row: dict[str, float | str]) -> None:
    """Add ``row`` to the session file's event ``table``."""
    if pipeline.recorder is None:
        raise SessionError(f"the recording stopped before the session ended; its {table} row is lost")
    pipeline.recorder.add_row(table, row)


def session_steps(pipeline: Pipeline, protocol: Protocol, subject: str, path: Path, presenter: Presenter,
                  log: Callable[[str], None] = print, frames: tuple[float, float] | None = None
                  ) -> Generator[Step, Rating | None, Path]:
    """Record the protocol on a started ``pipeline`` to ``path``; yields each ``Wait`` and ``Rate`` to its driver.

    The driver waits (sleeping, or a Qt timer) or sends the subject's ``Rating`` back, so one sequence of
    steps serves the headless session and the Qt ones (``calibration.qt_session``, the dashboard).
    Recording stops however the steps end (finished, an error, or ``close()`` from the driver), so an
    interrupted session keeps everything recorded until then. ``frames`` (scale, frames per second)
    also records the camera's frames. Returns ``path``.
    """
    pipeline.start_recording(path, attrs={"subject": subject, "calibration_version": CALIBRATION_VERSION,
                                          "protocol": protocol.text, "protocol_path": protocol.path},
                             tables=TABLES, frames=frames)
    status = None
    try:
        log(f"recording {subject} to {path}")
        pipeline.insert_marker(f"session_start {subject}")
        yield Wait(protocol.settle_seconds, "the streams settle")
        _check_streams(pipeline)
        total = len(protocol.blocks)
        for index, block in enumerate(protocol.blocks, 1):
            presenter.present(block, index, total)
            onset = pipeline.insert_marker(f"onset {block.name}")
            yield Wait(block.seconds, f"{block.name} ({index}/{total})")
            offset = pipeline.insert_marker(f"offset {block.name}")
            presenter.clear()
            _add_row(pipeline, "blocks", {"name": block.name, "kind": block.kind, "media": block.media,
                                          "stimulus": block.stimulus, "onset": onset, "offset": offset})
            if block.rated:
                rating = yield Rate(block, index, total)
                assert rating is not None, "the driver sends a Rating back for each Rate"
                t = pipeline.insert_marker(f"rating {block.name} valence={rating.valence} arousal={rating.arousal}")
                _add_row(pipeline, "ratings", {"block": block.name, "valence": rating.valence,
                                               "arousal": rating.arousal, "time": t,
                                               "response_seconds": rating.response_seconds})
                log(f"  {block.name}: valence {rating.valence}, arousal {rating.arousal}")
                if index < total and protocol.rest_seconds > 0:
                    presenter.show_rest(protocol.rest_seconds)
                    yield Wait(protocol.rest_seconds, f"rest after {block.name}")
        pipeline.insert_marker(f"session_end {subject}")
    finally:
        if pipeline.recorder is not None:
            status = pipeline.stop_recording()
    if status is not None and (status.samples_lost or status.error):
        log(f"warning: {status.samples_lost} samples lost while recording {path}; {status.error}")
    return path


def run_session(pipeline: Pipeline, protocol: Protocol, subject: str, out_dir: str | Path, presenter: Presenter,
                rater: Rater, wait: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print,
                frames: tuple[float, float] | None = None) -> Path:
    """Start ``pipeline``, record the protocol to ``<out_dir>/<subject>-<date>.h5``, stop; returns the file.

    The plain driver of ``session_steps``: ``wait(seconds)`` for each wait, ``rater`` for each rating.
    The pipeline is stopped (and the file closed) whatever happens."""
    pipeline.start()
    path = session_path(out_dir, subject)
    steps = session_steps(pipeline, protocol, subject, path, presenter, log, frames)
    try:
        reply: Rating | None = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration:
                return path
            if isinstance(step, Rate):
                reply = rater.rate(step.block)
            else:
                wait(step.seconds)
                reply = None
    finally:
        steps.close()
        pipeline.stop()
