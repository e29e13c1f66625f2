"""Fixtures of the calibration tests: one real headless session recorded once per test run.

The session is ``python -m calibration run`` in a child process, exactly as a researcher runs it
headless: BrainFlow's synthetic board, the demo camera (real MTCNN + FER on real face photos),
SAM ratings typed on its standard input. It lasts about 30 s, shared by the tests that read it.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from tests.support.calibration_sessions import RATINGS, ROOT, RecordedSession, calibration_command, write_protocol


@pytest.fixture(scope="session")
def recorded_session(tmp_path_factory: pytest.TempPathFactory) -> RecordedSession:
    folder = tmp_path_factory.mktemp("calibration")
    config = write_protocol(folder)
    answers = "".join(f"{v} {a}\n" for v, a in RATINGS)
    cmd = calibration_command(config, folder / "sessions", f"cal-{uuid.uuid4().hex[:8]}", "--cam", "demo")
    run = subprocess.run(cmd, cwd=ROOT, input=answers, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    sessions = sorted((folder / "sessions").glob("*.h5"))
    assert len(sessions) == 1, sessions
    return RecordedSession(sessions[0], run.stdout, folder)
