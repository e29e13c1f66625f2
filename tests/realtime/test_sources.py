"""BrainFlow's synthetic board and a replayed BDF file through the same path: buffers, model, LSL outlet, recorder."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.pipeline import Pipeline, PipelineConfig
from realtime.replay_player import load_recording
from realtime.session_file import read_session
from realtime.status import PipelineStatus

ROOT = Path(__file__).resolve().parents[2]

CONSUMER = """
import json, sys, pylsl
info = pylsl.resolve_byprop("name", sys.argv[1], timeout=20)[0]
inlet = pylsl.StreamInlet(info)
labels = inlet.info().get_channel_labels()
rows = [inlet.pull_sample(timeout=10)[0] for _ in range(6)]
print(json.dumps({"labels": labels, "rows": rows, "rate": info.nominal_srate()}))
"""


def run_pipeline(config: PipelineConfig, predictor, seconds: float) -> PipelineStatus:
    pipeline = Pipeline(config, predictor=predictor)
    pipeline.start()
    try:
        time.sleep(seconds)
        status = pipeline.status()
    finally:
        pipeline.stop()
    assert status.streams["eeg"].connected and status.streams["eeg"].gaps == 0
    assert status.recorder.samples_lost == 0 and not status.recorder.error
    # every thread the pipeline started is in the status, running, without an error
    assert {"inference", "recorder"} <= {w.name for w in status.workers}
    assert all(w.alive and w.error is None and w.uptime > 0 for w in status.workers), status.workers
    assert not any(w.alive for w in pipeline.status().workers)
    return status


def check_predictions(path, model_id: str, n_channels: int, status: PipelineStatus) -> None:
    preds = read_session(path).predictions
    assert len(preds["time"]) >= 8
    assert set(preds["model_id"]) == {model_id} and not preds["trained"].any()
    ran = np.isfinite(preds["valence"])
    assert ran[-4:].all() and preds["available_eeg"][ran].all()  # the model ran once its 2.75 s lookback was there
    assert np.all(np.abs(preds["valence"][ran]) <= 1)
    assert np.all(np.diff(preds["time"]) > 0)
    latest = status.latest
    assert latest.band_power.shape == (n_channels, 6) and np.all(latest.band_power > 0)
    assert latest.problems == {}


@pytest.mark.slow
def test_brainflow_synthetic_board_records_and_predicts(tmp_path, lsl_name, eeg_predictor):
    path = tmp_path / "synthetic.h5"
    consumer = subprocess.Popen([sys.executable, "-c", CONSUMER, f"{lsl_name}-predictions"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    config = PipelineConfig(eeg="brainflow:synthetic", camera="none", app_name=lsl_name, record=str(path))
    status = run_pipeline(config, eeg_predictor, seconds=5.0)
    out, _ = consumer.communicate(timeout=30)

    eeg = read_session(path).streams["eeg"]
    assert eeg.channels == ("Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8", "F5", "F7", "F3", "F1", "F2", "F4",
                            "F6", "F8")
    assert eeg.rate == 250 and 4 * 250 <= len(eeg.data) <= 6 * 250
    assert np.all(np.diff(eeg.timestamps) > 0)
    assert np.ptp(eeg.data) > 10  # microvolts, not volts
    check_predictions(path, "tcn-eeg@untrained", 16, status)
    # a consumer in another process reads the predictions outlet
    got = json.loads(out)
    assert got["labels"] == ["valence", "arousal", "available_eeg"] and got["rate"] == 0
    assert all(row[2] in (0.0, 1.0) for row in got["rows"])


@pytest.mark.slow
def test_replayed_bdf_goes_through_the_same_path(tmp_path, lsl_name, bdf_file, eeg_predictor):
    bdf, microvolts, channels = bdf_file
    path = tmp_path / "replay.h5"
    config = PipelineConfig(eeg=f"replay:{bdf}", camera="none", app_name=lsl_name, record=str(path))
    status = run_pipeline(config, eeg_predictor, seconds=5.0)

    eeg = read_session(path).streams["eeg"]
    assert eeg.channels == channels and eeg.rate == 256
    n = len(eeg.data)
    assert n >= 4 * 256
    # the recording holds the file's samples, in order, from some starting sample on (BDF: 24-bit resolution)
    start = int(np.argmin(np.abs(microvolts[:, 0] - eeg.data[0, 0])))
    expected = microvolts[np.arange(start, start + n) % len(microvolts)]
    np.testing.assert_allclose(eeg.data, expected, atol=0.05)
    np.testing.assert_allclose(np.diff(eeg.timestamps), 1 / 256, atol=1e-4)
    check_predictions(path, "tcn-eeg@untrained", len(channels), status)
    # our own session files replay too: the player loads exactly what was recorded
    data, names, rate = load_recording(path)
    assert names == channels and rate == 256
    np.testing.assert_array_equal(data, eeg.data)


@pytest.mark.slow
def test_demo_camera_feeds_the_face_prior_beside_the_eeg(tmp_path, lsl_name):
    path = tmp_path / "face.h5"
    config = PipelineConfig(eeg="brainflow:synthetic", camera="demo", model="face-prior", device="cpu",
                            app_name=lsl_name, record=str(path))
    status = run_pipeline(config, None, seconds=8.0)

    assert status.model_id == "face-prior@fixed" and not status.model_problem
    assert not status.trained and status.state == "uncalibrated prior"  # a fixed map, never scored on ratings
    assert status.face_fps > 0 and not status.camera_problem
    session = read_session(path)
    assert len(session.streams["expression"].data) > 0 and session.streams["face"].data.shape[1] == 128
    preds = session.predictions
    used_face = preds["available_expression"]
    assert used_face.any() and np.isfinite(preds["valence"][used_face]).any()
    assert np.isfinite(preds["face_valence"][used_face]).all()
    assert not np.isfinite(preds["face_valence"][~used_face]).any()  # no face, no estimate: never a silent zero
    assert not preds["trained"].any() and set(preds["model_state"]) == {"uncalibrated prior"}
