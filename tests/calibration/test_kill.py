"""SIGKILL during a calibration session: the session file still opens and holds data up to at most 1 s before."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import h5py
import pylsl
import pytest

from tests.support.calibration_sessions import ROOT, calibration_command, write_protocol


@pytest.mark.slow
def test_a_killed_session_leaves_a_readable_file_with_everything_up_to_a_second_before(tmp_path):
    config = write_protocol(tmp_path, eyes_open=60.0)
    child = subprocess.Popen(calibration_command(config, tmp_path / "sessions", f"kill-{uuid.uuid4().hex[:8]}",
                                                 "--cam", "none"),
                             cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
    try:
        for line in child.stdout:  # wait until the first block runs
            if line.startswith("[1/"):
                break
        time.sleep(4.0)
        killed_at = pylsl.local_clock()  # one monotonic clock for every process on this machine
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    (path,) = (tmp_path / "sessions").glob("*.h5")
    with h5py.File(path, "r", swmr=True) as f:  # plain h5py; SWMR read of a file whose writer died
        eeg_ts = f["eeg/timestamps"][()]
        assert f["eeg/data"].shape == (eeg_ts.size, 16)
        predictions = f["predictions/time"][()]
        markers = [m.decode() for m in f["markers/text"][()]]
    assert killed_at - eeg_ts[-1] <= 1.0, f"last EEG sample {killed_at - eeg_ts[-1]:.2f} s before the kill"
    assert eeg_ts.size >= 4 * 250
    assert killed_at - predictions[-1] <= 1.0
    assert markers[:2] == ["session_start S01", "onset baseline-eyes-open"]
