"""One base for every background thread of the live app: start, stop within a deadline, the body's error, stats.

Capture, face analysis, inference, the EEG and marker inlets, the recorder and the hot-swap watcher
are all ``Worker``s, so they start, stop and fail alike: ``stop()`` asks the thread to end and joins it
for at most ``stop_timeout`` seconds, logging (and returning False) when it did not end in time; an
exception escaping the thread body is logged (one line; the traceback at DEBUG) and kept in ``error``
(worded by ``_error_message``), where the pipeline's status reads it, instead of ending the thread unnoticed.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

log = logging.getLogger("emolive.worker")


@dataclass(frozen=True)
class WorkerStats:
    """A worker at one instant: its name, whether its thread runs, for how long it has, and its error."""

    name: str
    alive: bool
    uptime: float  # seconds since start(); 0 before
    error: str | None


class Worker(ABC):
    """A named daemon thread running ``_run`` until it returns or ``stop()`` is asked for.

    Subclasses implement ``_run`` (loop while not ``stopping``; sleep with ``_sleep`` so a stop wakes
    them) and may override ``_error_message`` (how an escaping exception reads in the status) and
    ``_finish`` (release what the thread held, run in the thread whatever way the body ended).
    """

    #: Seconds ``stop()`` waits for the thread to end.
    stop_timeout = 5.0

    def __init__(self, name: str) -> None:
        self.name = name
        self.error: str | None = None  # why the worker stopped or cannot work; None while all is well
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (again, after a stop); RuntimeError while it still runs."""
        if self.is_alive():
            raise RuntimeError(f"{self.name} is already running")
        self._stop_event.clear()
        self.error = None
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the thread to end and wait up to ``timeout`` s (``stop_timeout``); False, logged, if it did not."""
        self._stop_event.set()
        wait = self.stop_timeout if timeout is None else timeout
        if self.join(wait):
            return True
        log.warning("%s did not stop within %g s", self.name, wait)
        return False

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (its body returned, failed or was stopped); True once it has or never ran."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.is_alive()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def started(self) -> bool:
        """True once ``start()`` ran (the thread may have ended since)."""
        return self._thread is not None

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for: the body's loop ends."""
        return self._stop_event.is_set()

    def stats(self) -> WorkerStats:
        alive = self.is_alive()
        return WorkerStats(self.name, alive, time.monotonic() - self._started_at if alive else 0.0, self.error)

    # -- for subclasses ------------------------------------------------------------------
    def _sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless a stop comes first; True when stopping."""
        return self._stop_event.wait(seconds)

    @abstractmethod
    def _run(self) -> None:
        """The thread body."""

    def _error_message(self, exc: Exception) -> str:
        """What ``error`` says when ``exc`` escaped the body."""
        return f"{self.name} stopped: {type(exc).__name__}: {exc}"

    def _finish(self) -> None:  # noqa: B027 (an optional hook: nothing to release by default)
        """Run in the thread after the body, however it ended."""

    def _main(self) -> None:
        try:
            self._run()
        except Exception as exc:  # kept for the status; the rest of the app keeps running
            self.error = self._error_message(exc)
            log.error("%s", self.error)  # one line, as the status shows it; the traceback for debugging
            log.debug("%s: traceback", self.name, exc_info=exc)
        finally:
            self._finish()
