"""Fixtures of the calibration tests: a short protocol, and one real headless session recorded once per test run.

The session is ``python -m calibration run`` in a child process, exactly as a researcher runs it
headless: BrainFlow's synthetic board, the demo camera (real MTCNN + FER on real face photos),
SAM ratings typed on its standard input. It lasts about 30 s, shared by the tests that read it.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBJECT = "S01"
RATINGS = ((7, 6), (5, 2), (2, 4))  # one per stimulus block, valence and arousal


def write_protocol(folder: Path, eyes_open: float = 4.0, eyes_closed: float = 3.0, seconds: float = 4.0,
                   prompts: int = 3) -> Path:
    path = folder / "protocol.toml"
    lines = ["settle_seconds = 1.0", "rest_seconds = 0.5", "[baseline]", f"eyes_open_seconds = {eyes_open}",
             f"eyes_closed_seconds = {eyes_closed}", "[stimuli]", f"seconds = {seconds}",
             "prompts = [" + ", ".join(f'"Recall moment {i}."' for i in range(prompts)) + "]"]
    path.write_text("\n".join(lines) + "\n")
    return path


def calibration_command(config: Path, out: Path, name: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "calibration", "run", "--subject", SUBJECT, "--config", str(config), "--out",
            str(out), "--eeg", "brainflow:synthetic", "--no-gui", "--lsl-loopback", "--name", name, "--publish-subject",
            *extra]


@dataclass(frozen=True)
class RecordedSession:
    path: Path
    stdout: str
    folder: Path


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
