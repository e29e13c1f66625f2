"""Killing the worker process of a running fold, as an out-of-memory kill or a lost node would."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path


class FoldKiller(threading.Thread):
    """Waits until attempt ``k`` (1..times) of the fold in ``folder`` has finished an epoch, then SIGKILLs its process.

    The process is the one the fold's ``attempt.json`` names; the fold is then mid-training (its saved state
    has an epoch, its result is not written). ``killed`` lists the pids killed."""

    def __init__(self, folder: Path, times: int = 1, timeout: float = 300.0) -> None:
        super().__init__(daemon=True)
        self.folder, self.times, self.timeout = folder, times, timeout
        self.killed: list[int] = []

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        for k in range(1, self.times + 1):
            while time.monotonic() < deadline:
                started = self._attempt()
                state = self.folder / "state" / "state.json"
                if started and started["attempt"] == k and state.is_file() \
                        and state.stat().st_mtime >= started["started"] and started["pid"] != os.getpid():
                    os.kill(started["pid"], signal.SIGKILL)
                    self.killed.append(started["pid"])
                    break
                time.sleep(0.01)

    def _attempt(self) -> dict | None:
        try:
            return json.loads((self.folder / "attempt.json").read_text())
        except (OSError, ValueError):
            return None
