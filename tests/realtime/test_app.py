"""app.py as a user runs it: the help, and a headless run stopped by Ctrl-C that leaves a complete session file."""

from __future__ import annotations

import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from realtime.session_file import read_session

ROOT = Path(__file__).resolve().parents[2]


def test_help_describes_sources_and_options():
    out = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for words in ("--eeg", "brainflow:playback:FILE", "replay:FILE", "--cam", "--model", "--device", "--record",
                  "--no-gui", "--duration", "--lsl-config", "--lsl-loopback", "--hop", "--record-frames", "examples:"):
        assert words in out.stdout


def test_headless_run_prints_status_and_closes_the_session_on_ctrl_c(tmp_path, lsl_name):
    path = tmp_path / "session.h5"
    app = subprocess.Popen(
        [sys.executable, "app.py", "--eeg", "brainflow:synthetic", "--cam", "none", "--no-gui", "--lsl-loopback",
         "--record", str(path), "--name", lsl_name],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [app.stdout.readline() for _ in range(4)]
    app.send_signal(signal.SIGINT)
    _, err = app.communicate(timeout=30)
    assert app.returncode == 0, err
    reasons, status = lines[:1], lines[1:]
    assert all("eeg" in line and "Hz" in line and "model face-prior@fixed" in line for line in status)
    # face-prior needs the camera's expressions: said once at start, and once in the status, on a line of its own
    assert "model 'face-prior' cannot run on these streams" in err and "expression" in err
    assert reasons[0].startswith("  [model] not running: model face-prior@fixed needs an expression stream")
    assert not any("[model]" in line for line in status)
    session = read_session(path)
    assert len(session.streams["eeg"].data) >= 2 * 250 and len(session.predictions["time"]) >= 4


def test_record_refuses_to_overwrite_a_session_file_unless_overwrite_is_given(tmp_path, lsl_name):
    path = tmp_path / "session.h5"
    path.write_bytes(b"yesterday's session")
    args = [sys.executable, "app.py", "--eeg", "brainflow:synthetic", "--cam", "none", "--no-gui", "--lsl-loopback",
            "--record", str(path), "--name", lsl_name, "--duration", "2"]
    refused = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert f"error: session file {path} exists; refusing to overwrite it (give --overwrite" in refused.stderr
    assert path.read_bytes() == b"yesterday's session"
    replaced = subprocess.run([*args, "--overwrite"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert replaced.returncode == 0, replaced.stderr
    assert len(read_session(path).streams["eeg"].data) > 0


def _run_until_valence(args: list[str], lines_with_valence: int, limit: float) -> tuple[int, str, list[str], float]:
    """Run app.py headless until its status lines have shown a valence ``lines_with_valence`` times, then Ctrl-C.

    Waiting on what the app says rather than a fixed duration keeps the test independent of how fast
    the machine is (the face worker's start-up and LFAN's 24 s of face steps vary with load); ``limit`` bounds it.
    Returns (exit code, stderr, status lines, seconds run).
    """
    app = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    t0, lines, shown = time.monotonic(), [], 0
    while shown < lines_with_valence and time.monotonic() - t0 < limit and (line := app.stdout.readline()):
        lines.append(line)
        shown += bool(re.search(r"\bV=[+-]\d", line))
    app.send_signal(signal.SIGINT)
    rest, err = app.communicate(timeout=60)
    return app.returncode, err, lines + rest.splitlines(), time.monotonic() - t0


def test_fusion_models_run_live_untrained_on_the_synthetic_board_and_demo_camera(tmp_path, lsl_name):
    """ST-AlignNet and LFAN (untrained, labelled so) predict from BrainFlow's synthetic board and the demo camera;
    the ST-AlignNet run also records the camera's frames (--record-frames)."""
    for model in ("stalignnet", "lfan"):  # LFAN needs 24 s of 4 Hz face steps (+ 2 s of EEG) before its first value
        path = tmp_path / f"{model}.h5"
        frames = ["--record-frames", "--frame-fps", "4"] if model == "stalignnet" else []
        rc, err, lines, seconds = _run_until_valence(
            ["--eeg", "brainflow:synthetic", "--cam", "demo", "--model", model, "--no-gui", "--lsl-loopback",
             "--record", str(path), "--name", f"{lsl_name}-{model}", *frames], lines_with_valence=3, limit=240)
        assert rc == 0, err
        assert sum(bool(re.search(r"\bV=[+-]\d", line)) for line in lines) >= 3, \
            f"{model} showed no valence within {seconds:.0f} s; last status: {lines[-1:]}"
        assert f"model {model}@untrained (untrained)" in lines[-1]
        predictions = read_session(path).predictions
        valence = predictions["valence"]
        assert set(predictions["model_id"]) == {f"{model}@untrained"}
        assert not predictions["trained"].any()
        assert np.isfinite(valence).sum() >= 4 and np.all(np.abs(valence[np.isfinite(valence)]) <= 1)
        with h5py.File(path, "r") as f:
            if frames:
                n = f["frames/timestamps"].shape[0]
                assert 4 <= n <= 4 * seconds + 2 and f["frames/data"].shape[0] == n
            else:
                assert "frames" not in f


def test_gap_aware_fusion_keeps_predicting_live_without_a_face(tmp_path, lsl_name):
    """lfan-gaps with no camera at all: every face step is missing and the model still predicts from EEG (plain
    LFAN needs the face and gives no value without one)."""
    path = tmp_path / "gaps.h5"
    rc, err, lines, seconds = _run_until_valence(
        ["--eeg", "brainflow:synthetic", "--cam", "none", "--model", "lfan-gaps", "--no-gui", "--lsl-loopback",
         "--record", str(path), "--name", f"{lsl_name}-gaps"], lines_with_valence=3, limit=240)
    assert rc == 0, err
    assert sum(bool(re.search(r"\bV=[+-]\d", line)) for line in lines) >= 3, \
        f"lfan-gaps showed no valence within {seconds:.0f} s without a face; last status: {lines[-1:]}"
    predictions = read_session(path).predictions
    ran = np.isfinite(predictions["valence"])
    assert ran.sum() >= 4 and set(predictions["model_id"]) == {"lfan-gaps@untrained"}
    assert "available_face" not in predictions, "no camera: no face stream recorded"


def _file_size_limit(limit: int) -> Callable[[], None]:
    """preexec_fn: the child may write files up to ``limit`` bytes (a full disk, for that process alone)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead

    return apply


LIMIT = 2_200_000  # bytes the app may write: a disk that fills about 10 s into the run


def test_a_full_disk_stops_the_recording_with_a_message_while_predictions_go_on(tmp_path, lsl_name):
    path = tmp_path / "full.h5"
    app = subprocess.run(
        [sys.executable, "app.py", "--eeg", "brainflow:synthetic", "--cam", "demo", "--no-gui", "--lsl-loopback",
         "--record", str(path), "--name", lsl_name, "--duration", "30"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, preexec_fn=_file_size_limit(LIMIT))
    assert app.returncode == 0, app.stderr[-2000:]
    lines = app.stdout.splitlines()
    failed = [i for i, line in enumerate(lines) if f"recording to {path} stopped:" in line]
    assert len(failed) == 1, f"the recording error must be shown once; last status: {lines[-1:]}"
    assert lines[failed[0]].startswith("  [recording] ")
    assert "MiB of room left for the file" in lines[failed[0]]
    after = lines[failed[0]:]
    assert sum(bool(re.search(r"\bV=[+-]\d", line)) for line in after) >= 3, "predictions stopped with the recording"
    assert f"session saved to {path}; recording to {path} stopped" in app.stderr
    kept = read_session(path)  # what was recorded before the disk filled is readable
    assert len(kept.streams["eeg"].data) > 250 and len(kept.predictions["time"]) > 4
    assert path.stat().st_size <= LIMIT
