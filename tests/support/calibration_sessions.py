"""Helpers of the calibration tests: a short protocol file, the headless ``calibration run`` command line, and
the record of one session (shared by the calibration conftest and the tests that run their own session)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

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
