"""Bad input gets a clear message and nothing recorded is lost: NaN samples, missing channels, camera, replay file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from models.channels import DEAP_CHANNELS
from realtime.inference_worker import InferenceWorker
from realtime.live_stream import LiveStream
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.ring_buffer import RingBuffer
from realtime.session_file import read_session
from realtime.sources import SourceError, make_source
from realtime.sources.base import EegSource

ROOT = Path(__file__).resolve().parents[2]
NAN_FROM, NAN_COUNT = 512, 64


@pytest.mark.slow
def test_nan_samples_are_counted_recorded_and_kept_from_the_model(counter_sender, lsl_name, tmp_path, eeg_predictor):
    path = tmp_path / "nan.h5"
    counter_sender.start("--wait-consumer", "--nan-from", str(NAN_FROM), "--nan-count", str(NAN_COUNT))
    pipeline = Pipeline(PipelineConfig(eeg="lsl", eeg_stream=lsl_name, camera="none", app_name=lsl_name,
                                       record=str(path)), predictor=eeg_predictor)
    seen = []
    pipeline.subscribe(seen.append)
    pipeline.start()
    time.sleep(6.5)
    status = pipeline.status()
    pipeline.stop()

    assert status.streams["eeg"].nan_samples == NAN_COUNT
    eeg = read_session(path).streams["eeg"]
    counter = eeg.data[:, 0].astype(np.int64)
    np.testing.assert_array_equal(counter, np.arange(len(counter)))  # nothing lost around the NaN run
    nan_rows = np.isnan(eeg.data[:, 3:]).all(axis=1)
    np.testing.assert_array_equal(np.flatnonzero(nan_rows), np.arange(NAN_FROM, NAN_FROM + NAN_COUNT))
    assert np.isfinite(eeg.data[~nan_rows]).all()

    nan_start, nan_end = eeg.timestamps[NAN_FROM], eeg.timestamps[NAN_FROM + NAN_COUNT - 1]
    for p in seen:
        if p.available["eeg"] and np.isfinite(p.valence):  # every window the model saw ended before or began after
            window_start = p.time - eeg_predictor.lookback_seconds()["eeg"]
            assert p.time < nan_start or window_start > nan_end
    skipped = [p for p in seen if "NaN" in p.problems.get("eeg", "")]
    assert skipped and all(np.isnan(p.valence) and not p.available["eeg"] for p in skipped)
    assert "samples with NaN or inf in the window" in skipped[0].problems["eeg"]
    assert np.isfinite(seen[-1].valence)  # and predictions resume once the NaN run has left the window


@pytest.fixture
def trained_deap_bundle(tmp_path):
    """A tcn-eeg checkpoint for DEAP's 32 channels whose weights were fitted (a few Adam steps on random features and
    targets: a fixture, said so in its provenance), so it is channel-bound like any trained checkpoint."""
    from models import registry
    from models.bundle import save_bundle

    torch.manual_seed(0)
    model = registry.build("tcn-eeg", steps=4, eeg_channels=list(DEAP_CHANNELS))
    x = torch.randn(8, 4, model.spec().inputs["eeg"].feature_dim)
    y = torch.rand(8, 4) * 2 - 1
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(5):
        loss = ((model({"eeg": x})["valence"] - y) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return save_bundle(model.eval(), tmp_path / "ckpt", "tcn-deap", trained=True,
                       provenance={"dataset": "random features (test fixture)", "protocol": "fixture, 5 Adam steps"})


def test_stream_missing_model_channels_is_named_and_eeg_still_recorded(trained_deap_bundle, lsl_name, tmp_path):
    path = tmp_path / "missing.h5"
    pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", camera="none", model=str(trained_deap_bundle),
                                       device="cpu", app_name=lsl_name, record=str(path)))
    pipeline.start()
    time.sleep(1.5)
    status = pipeline.status()
    pipeline.stop()
    synthetic = set(pipeline.source.channels)
    missing = [c for c in DEAP_CHANNELS if c not in synthetic]
    assert status.trained and missing
    for name in missing:
        assert name in status.model_problem
    assert "Fz" not in status.model_problem.split("lacks")[1].split("(")[0]  # present channels are not listed missing
    assert all(np.isnan(p) for p in read_session(path).predictions["valence"])
    assert len(read_session(path).streams["eeg"].data) >= 250  # acquisition and recording went on


def test_camera_that_cannot_open_is_reported_and_eeg_keeps_running(tmp_path, lsl_name, eeg_predictor):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video")
    for camera, words in ((str(tmp_path / "absent.mp4"), "not found"), (str(broken), "cannot open")):
        pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", camera=camera, app_name=lsl_name),
                            predictor=eeg_predictor)
        pipeline.start()
        time.sleep(1.5)
        status = pipeline.status()
        pipeline.stop()
        assert words in status.camera_problem and camera in status.camera_problem
        assert "face" not in status.streams and status.streams["eeg"].samples_in >= 250
        assert status.predictions >= 4


def test_replay_file_that_does_not_exist_fails_before_anything_starts(tmp_path):
    absent = tmp_path / "absent.bdf"
    with pytest.raises(FileNotFoundError, match=f"replay file {absent} does not exist"):
        make_source(f"replay:{absent}")
    with pytest.raises(SourceError, match="unknown EEG source"):
        make_source("replay")
    app = subprocess.run([sys.executable, "app.py", "--eeg", f"replay:{absent}", "--cam", "none", "--no-gui",
                          "--duration", "1", "--lsl-loopback", "--record", str(tmp_path / "x.h5")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert app.returncode == 2 and f"replay file {absent} does not exist" in app.stderr
    assert not (tmp_path / "x.h5").exists()
    player = subprocess.run([sys.executable, "-m", "realtime.replay_player", str(absent), "--name", "x"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert player.returncode == 2 and "does not exist" in player.stderr


class _Chunks(EegSource):
    """A source that delivers fixed chunks synchronously (no device)."""

    def __init__(self, chunks: list[np.ndarray]) -> None:
        super().__init__("test chunks")
        self.chunks = chunks

    def _open(self) -> tuple[tuple[str, ...], float]:
        return ("Fz", "Cz"), 100.0

    def _acquire(self) -> None:
        for i, data in enumerate(self.chunks):
            self._deliver(data, i + np.arange(len(data)) / 100.0)

    def _close(self) -> None:
        pass


def test_infinite_samples_are_counted_as_bad_and_kept_from_the_model():
    data = np.zeros((100, 2), np.float32)
    data[10, 0], data[20, 1], data[30] = np.inf, -np.inf, np.nan
    source = _Chunks([data])
    source.open()
    source._acquire()
    assert source.status().nan_samples == 3
    np.testing.assert_array_equal(source.buffer.latest(100)[0], data)  # written as received

    only_inf = data.copy()
    only_inf[30] = 0
    buffer = RingBuffer(2, 1000)
    buffer.write(only_inf, 100 + np.arange(100) / 100.0)
    worker = InferenceWorker({"eeg": LiveStream("eeg", buffer, ("Fz", "Cz"), 100.0)}, None, 0.25, lambda p: None)
    problem = worker._cut(worker.streams["eeg"], 101.0, 1.0, now=101.0)
    assert problem == "2 samples with NaN or inf in the window (not used; recorded as received)"
