"""Camera frames in the session file: off by default, and with ``--record-frames`` downscaled, rate-capped images
that a plain h5py reader gets back beside the EEG, on the same clock."""

from __future__ import annotations

import subprocess
import uuid

import h5py
import numpy as np

from offline.datasets.sessions import session_blocks
from realtime.session_file import read_session
from tests.support.calibration_sessions import ROOT, calibration_command, write_protocol

SCALE, FPS = 0.25, 4.0


def test_frames_are_not_recorded_unless_asked_for(recorded_session):
    with h5py.File(recorded_session.path, "r") as f:
        assert "frames" not in f and f["face/data"].shape[0] > 0


def test_recorded_frames_read_back_with_plain_h5py(tmp_path):
    config = write_protocol(tmp_path, eyes_open=2.0, eyes_closed=1.0, seconds=2.0, prompts=1)
    cmd = calibration_command(config, tmp_path / "sessions", f"frames-{uuid.uuid4().hex[:8]}", "--cam", "demo",
                              "--record-frames", "--frame-scale", str(SCALE), "--frame-fps", str(FPS))
    run = subprocess.run(cmd, cwd=ROOT, input="6 4\n", capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    (path,) = (tmp_path / "sessions").glob("*.h5")
    with h5py.File(path, "r") as f:  # plain h5py, none of our code
        g = f["frames"]
        images, times, index = g["data"][()], g["timestamps"][()], g["index"][()]
        width, height = (int(n) for n in g.attrs["camera_size"])
        assert g.attrs["color"] == "BGR" and g.attrs["scale"] == SCALE and g.attrs["fps_limit"] == FPS
        eeg_ts = f["eeg/timestamps"][()]
        markers = [m.decode() for m in f["markers/text"][()]]
        marker_times = f["markers/time"][()]
    assert images.dtype == np.uint8 and images.shape[1:] == (round(height * SCALE), round(width * SCALE), 3)
    assert len(images) == len(times) == len(index) > 5
    assert np.all(np.diff(index) > 0) and np.all(np.diff(times) > 0)  # each camera frame once, in order
    span = times[-1] - times[0]
    assert len(images) <= FPS * span + 2  # the rate cap, counted on the frames' own capture times
    assert eeg_ts[0] - 1 <= times[0] and times[-1] <= eeg_ts[-1] + 1  # one clock with the EEG
    start, end = marker_times[markers.index("onset stimulus-01")], marker_times[markers.index("offset stimulus-01")]
    assert ((times >= start) & (times <= end)).sum() >= 2  # the stimulus block has its pictures
    assert all(img.std() > 5 for img in images)  # real pictures (the demo faces), not blank buffers

    # The session's readers are unaffected: frames are not a stream.
    assert set(read_session(path).streams) == {"eeg", "face", "expression"}
    assert [b.kind for b in session_blocks(path)] == ["baseline", "baseline", "stimulus"]


def test_frames_without_a_camera_are_refused_before_anything_opens(tmp_path):
    config = write_protocol(tmp_path)
    cmd = calibration_command(config, tmp_path / "s", "no-cam", "--cam", "none", "--record-frames")
    run = subprocess.run(cmd, cwd=ROOT, input="", capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--record-frames needs a camera; --cam is none" in run.stderr
    bad = subprocess.run(calibration_command(config, tmp_path / "s", "bad", "--record-frames", "--frame-scale", "2"),
                         cwd=ROOT, input="", capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--frame-scale: must be in (0, 1], got 2" in bad.stderr
