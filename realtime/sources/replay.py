"""EEG replayed from a file: the replay player runs in a child process and is read back like any LSL stream.

This keeps replay on exactly the path a live headset takes (LSL, clock correction, gaps).
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import IO

from realtime.errors import SourceError
from realtime.lsl_select import StreamInfo
from realtime.replay_player import check_replay_file
from realtime.sources.lsl_inlet import LslInletSource

STARTUP_SECONDS = 30.0


class ReplaySource(LslInletSource):
    """Starts ``python -m realtime.replay_player FILE`` under a unique stream name, then reads it."""

    def __init__(self, path: str | Path, loop: bool = True) -> None:
        self.path = check_replay_file(path)  # a missing file fails here, before anything starts
        self.stream = f"replay-{self.path.stem}-{uuid.uuid4().hex[:8]}"
        super().__init__({"name": self.stream, "source_id": self.stream}, resolve_timeout=STARTUP_SECONDS)
        self.description = f"replay of {self.path.name}"
        self.loop = loop
        self._child: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def _open(self) -> tuple[tuple[str, ...], float]:
        cmd = [sys.executable, "-m", "realtime.replay_player", str(self.path), "--name", self.stream,
               "--source-id", self.stream]
        if self.loop:
            cmd.append("--loop")
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        self._log = log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (lives as long as the child; closed in _close)
        self._child = child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        assert child.stdout is not None  # stdout=PIPE
        ready, _, _ = select.select([child.stdout], [], [], STARTUP_SECONDS)
        line = child.stdout.readline() if ready else ""  # "ready" once the outlet exists
        try:
            if line.strip() != "ready":
                child.kill()
                child.wait()
                log.seek(0)
                errors = [x for x in log.read().splitlines() if x.startswith("error")]
                raise SourceError(f"replay player for {self.path} failed: {errors[-1] if errors else 'no outlet'}")
            return super()._open()
        except Exception:
            self._close()
            raise

    def _describe(self, info: StreamInfo) -> str:
        return f"replay of {self.path.name}"

    def _close(self) -> None:
        super()._close()
        if self._child is not None:
            self._child.terminate()
            try:
                self._child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
            self._child = None
        if self._log is not None:
            self._log.close()
            self._log = None
