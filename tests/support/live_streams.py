"""Fixtures of the live tests: unique LSL names, a counter-stream sender in a child process, a BDF file."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


class CounterSender:
    """``python -m realtime.counter_sender`` in a child process (inherits the loopback LSLAPICFG)."""

    def __init__(self, name: str, source_id: str, channels: int = 32, rate: float = 256.0) -> None:
        self.name, self.source_id, self.channels, self.rate = name, source_id, channels, rate
        self.process: subprocess.Popen | None = None

    def start(self, *extra: str) -> CounterSender:
        cmd = [sys.executable, "-m", "realtime.counter_sender", "--name", self.name, "--source-id", self.source_id,
               "--channels", str(self.channels), "--rate", str(self.rate), *extra]
        self.process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline().strip()
        assert line == "ready", f"counter sender did not start (said {line!r})"
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def lsl_name() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def counter_sender(lsl_name: str) -> Iterator[CounterSender]:
    sender = CounterSender(lsl_name, source_id=lsl_name)
    yield sender
    sender.kill()


BDF_CHANNELS = ("Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4")


@pytest.fixture
def bdf_file(tmp_path: Path) -> tuple[Path, np.ndarray, tuple[str, ...]]:
    """A real 8-channel 256 Hz BDF (written by MNE through edfio): 10 Hz alpha plus noise.

    Returns (path, data (n, channels) in microvolts, channel names)."""
    import mne

    rate, seconds = 256.0, 8
    t = np.arange(int(rate * seconds)) / rate
    rng = np.random.default_rng(1)
    volts = 20e-6 * np.sin(2 * np.pi * 10 * t) + rng.normal(0, 5e-6, (len(BDF_CHANNELS), t.size))
    raw = mne.io.RawArray(volts, mne.create_info(list(BDF_CHANNELS), rate, "eeg"), verbose="error")
    path = tmp_path / "recording.bdf"
    mne.export.export_raw(path, raw, fmt="bdf", verbose="error")
    return path, (volts * 1e6).T, BDF_CHANNELS


@pytest.fixture
def eeg_predictor():
    """The registered causal TCN on EEG band power, untrained, with a 1 s (4-step) window so tests stay short."""
    from models import registry
    from models.predictor import NetworkPredictor

    model = registry.build("tcn-eeg", steps=4)
    return NetworkPredictor(model, model.spec(), "tcn-eeg@untrained", trained=False, device="cpu")
