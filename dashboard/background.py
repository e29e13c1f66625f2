"""Runs slow actions (loading a checkpoint, opening or closing a session file) off the Qt thread.

The GUI never waits on the disk or a model: each action runs in a worker thread, and its
outcome comes back to the Qt thread as a queued signal. One action per name at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PyQt6 import QtCore


class Background(QtCore.QObject):
    """``run(name, fn)``: ``fn()`` in a thread; then ``finished(name, result)`` or ``failed(name, message)``."""

    finished = QtCore.pyqtSignal(str, object)
    failed = QtCore.pyqtSignal(str, str)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._threads: dict[str, threading.Thread] = {}

    def busy(self, name: str) -> bool:
        thread = self._threads.get(name)
        return thread is not None and thread.is_alive()

    def run(self, name: str, fn: Callable[[], Any]) -> bool:
        """Start ``fn``; False (nothing started) while the previous ``name`` action is still running."""
        if self.busy(name):
            return False
        thread = threading.Thread(target=self._call, args=(name, fn), name=f"dashboard {name}", daemon=True)
        self._threads[name] = thread
        thread.start()
        return True

    def _call(self, name: str, fn: Callable[[], Any]) -> None:
        try:
            result = fn()
        except Exception as exc:  # shown to the user; whatever was running keeps running
            self.failed.emit(name, f"{type(exc).__name__}: {exc}")
            return
        self.finished.emit(name, result)

    def wait(self, timeout: float = 10.0) -> None:
        """Join every running action (used when the window closes)."""
        for thread in list(self._threads.values()):
            thread.join(timeout)
