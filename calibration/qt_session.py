"""The Qt driver of a calibration session: waits are timers and ratings a non-blocking SAM dialog.

Nothing blocks Qt's event loop while a session runs, so the dashboard keeps drawing live data
and the subject's window keeps playing videos; the session itself is ``session_steps``, the same
sequence the headless driver runs. ``QtSession`` serves the dashboard's Calibrate button and
``python -m calibration run`` with windows (``run_qt_session``).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import QEventLoop, QObject, QTimer, pyqtSignal
from PyQt6.QtWidgets import QWidget

from calibration.protocol import Protocol
from calibration.rating_dialog import SamDialog
from calibration.ratings import Rating
from calibration.session import Presenter, Rate, SessionError, Step, session_path, session_steps

if TYPE_CHECKING:  # importing the pipeline loads liblsl, which must wait until the LSL config is chosen
    from realtime.pipeline import Pipeline


class QtSession(QObject):
    """One session on a started pipeline; ``start()``, then ``finished(path)`` or ``failed(message)``.

    ``progress(what, seconds)`` announces each wait; ``rating_requested(dialog)`` each SAM dialog (shown
    over ``presenter`` when it is a widget). ``cancel()`` ends the session early: recording stops, the
    file keeps everything recorded so far, and ``failed`` says it was cancelled.
    """

    progress = pyqtSignal(str, float)
    rating_requested = pyqtSignal(object)
    finished = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, pipeline: Pipeline, protocol: Protocol, subject: str, out_dir: str | Path,
                 presenter: Presenter, frames: tuple[float, float] | None = None,
                 log: Callable[[str], None] = print, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = session_path(out_dir, subject)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.presenter = presenter
        self.error: str | None = None
        self._steps = session_steps(pipeline, protocol, subject, self.path, presenter, log, frames)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self._advance(None))
        self._dialog: SamDialog | None = None
        self.running = False

    def start(self) -> None:
        self.running = True
        self._advance(None)

    def _advance(self, reply: Rating | None) -> None:
        try:
            step: Step = self._steps.send(reply)
        except StopIteration:
            self.running = False
            self.finished.emit(self.path)
            return
        except Exception as exc:  # the steps have stopped recording; the file keeps what was recorded
            self._end(f"{type(exc).__name__}: {exc}" if not isinstance(exc, SessionError) else str(exc))
            return
        if isinstance(step, Rate):
            parent = self.presenter if isinstance(self.presenter, QWidget) else None
            self._dialog = SamDialog(f"{step.block.name}, {step.index}/{step.total}", parent)
            self._dialog.accepted.connect(self._on_rated)
            self.progress.emit(f"rating of {step.block.name} ({step.index}/{step.total})", 0.0)
            self._dialog.open()
            self.rating_requested.emit(self._dialog)
        else:
            self.progress.emit(step.what, step.seconds)
            self._timer.start(max(0, round(1000 * step.seconds)))

    def _on_rated(self) -> None:
        dialog, self._dialog = self._dialog, None
        if dialog is not None:
            self._advance(dialog.rating())
            dialog.deleteLater()

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the session now (a no-op once it has ended)."""
        if not self.running:
            return
        self._timer.stop()
        if self._dialog is not None:
            self._dialog.accepted.disconnect(self._on_rated)
            self._dialog.done(0)
            self._dialog = None
        self._steps.close()  # runs the steps' cleanup: recording stops, the file is closed
        self._end(f"session {reason}; {self.path} keeps what was recorded")

    def _end(self, message: str) -> None:
        self.running = False
        self.error = message
        self.failed.emit(message)


def run_qt_session(pipeline: Pipeline, protocol: Protocol, subject: str, out_dir: str | Path, presenter: Presenter,
                   frames: tuple[float, float] | None = None, log: Callable[[str], None] = print) -> Path:
    """Start ``pipeline``, run the session in a local Qt event loop, stop; returns the file.

    Ctrl-C ends the session early. SessionError when the session failed or was interrupted (the file
    keeps what was recorded). Call it from the main thread (it sets the SIGINT handler)."""
    pipeline.start()
    previous = signal.getsignal(signal.SIGINT)
    wake = QTimer()  # Python runs signal handlers between byte codes only: this gives Ctrl-C its chance
    try:
        session = QtSession(pipeline, protocol, subject, out_dir, presenter, frames, log)
        loop = QEventLoop()
        session.finished.connect(loop.quit)
        session.failed.connect(loop.quit)
        signal.signal(signal.SIGINT, lambda *_: session.cancel("interrupted (Ctrl-C)"))
        wake.timeout.connect(lambda: None)
        wake.start(200)
        QTimer.singleShot(0, session.start)
        loop.exec()
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)
        pipeline.stop()
    if session.error:
        raise SessionError(session.error)
    return session.path
