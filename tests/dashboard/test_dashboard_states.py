"""The camera panel's states with a real camera and face worker, and the health panel's figures and alarms."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pylsl
import pytest
import torch
from skimage import data as skdata

from dashboard import theme
from dashboard.camera_panel import CameraPanel
from dashboard.health_panel import HealthPanel
from models.face_backbones import FER_CLASSES, FER_EMBEDDING_DIM
from models.face_features import FaceAnalyzer
from models.live import CALIBRATED, PRIOR, TRAINED, predictor_state
from models.predictor import load_predictor
from realtime.camera import Camera, parse_camera_spec
from realtime.face_worker import FaceWorker
from realtime.recorder import RecorderStatus
from realtime.ring_buffer import RingBuffer
from realtime.status import PipelineStatus, StreamStatus, format_status, status_reasons
from tests.support.waiting import wait_for


@pytest.fixture
def one_torch_thread():
    """As the pipeline does on small machines: MTCNN's threads would spin against each other on 2 shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def face_video(path: Path, seconds: float = 4.0, fps: float = 10.0) -> Path:
    """A short MJPG video of a real portrait (skimage's astronaut) drifting slowly, that ends."""
    face = cv2.resize(np.ascontiguousarray(skdata.astronaut()[:, :, ::-1]), (320, 320))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (480, 360))
    for k in range(round(seconds * fps)):
        frame = np.full((360, 480, 3), 60, np.uint8)
        frame[20:340, 40 + 2 * k:360 + 2 * k] = face
        writer.write(frame)
    writer.release()
    return path



def test_camera_panel_states_no_camera_face_then_gone(qtbot, tmp_path: Path, one_torch_thread) -> None:
    panel = CameraPanel()
    qtbot.addWidget(panel)
    panel.resize(480, 360)
    panel.update_from(None, None, "cannot open camera device 7", pylsl.local_clock())
    assert panel.state == panel.text() == "no camera: cannot open camera device 7"

    camera = Camera(parse_camera_spec(str(face_video(tmp_path / "face.avi"))))
    worker = FaceWorker(camera.frames, FaceAnalyzer("fer"), RingBuffer(FER_EMBEDDING_DIM, 256),
                        RingBuffer(len(FER_CLASSES), 256))
    camera.start()
    worker.start()
    try:
        wait_for(lambda: worker.latest is not None and worker.latest.box is not None, timeout=20)
        worker.stop()  # keep this snapshot the newest; the camera goes on
        snap = worker.latest
        panel.update_from(camera, worker, "", pylsl.local_clock())
        assert panel.state == "face" and panel._frame_index == snap.frame_index
        x1, y1, _, y2 = snap.box
        edge = panel._image.pixelColor(x1, (y1 + y2) // 2)  # the box is drawn on the frame it was found in
        assert edge.green() > 150 and edge.red() < 150
        wait_for(lambda: camera.state == "ended", timeout=20)
        panel.update_from(camera, worker, "", pylsl.local_clock())
        assert panel.state.startswith("camera gone: video file") and panel.state.endswith("reached its end")
    finally:
        worker.stop()
        camera.stop()


def status(**changes) -> PipelineStatus:
    eeg = StreamStatus("eeg", "LSL stream 'x'", 32, 256.0, 255.8, 51_200, 0, 0.0, 0, True, "")
    face = StreamStatus("face", "face", 128, 0.0, 14.2, 2_840, 0, 0.0, 0, True, "")
    base = dict(running=True, uptime=200.0, streams={"eeg": eeg, "face": face}, predictions=800, prediction_rate=4.0,
                freshness={"eeg": (0.031, 0.048, 0.06)}, model_id="lfan@1a2b3c4d", trained=True, model_problem="",
                latest=None, face_fps=14.2, camera_problem="",
                recorder=RecorderStatus("/data/s.h5", {"eeg": 51_000}, 790, 0, 0, ""))
    base.update(changes)
    return PipelineStatus(**base)


def test_health_panel_figures_and_alarms(qtbot) -> None:
    panel = HealthPanel()
    qtbot.addWidget(panel)
    panel.update_health(status(), "cuda", 29.7, 0)
    t = panel.table
    assert [t.item(0, c).text() for c in range(5)] == ["eeg", "255.8 / 256", "51,200", "0", "0"]
    assert t.item(1, 1).text() == "14.2" and t.item(0, 3).foreground().color() == theme.colour(theme.TEXT)
    assert panel.values["freshness"].text() == "eeg 31 / 48 ms (p50 / p95)"
    assert panel.values["device"].text() == "cuda" and panel.values["predictions"].text() == "800 · 4.00 /s"
    assert "/data/s.h5" in panel.values["recording"].text() and "LOST" not in panel.values["recording"].text()
    assert panel.trained_badge.text() == "trained"

    lost = StreamStatus("eeg", "LSL stream 'x'", 32, 256.0, 120.0, 51_300, 2, 1.5, 40, False, "stream lost 1.5 s")
    panel.update_health(status(streams={"eeg": lost}, trained=False, model_id="stalignnet@untrained",
                               model_problem="model needs a face stream", camera_problem="camera gone",
                               recorder=RecorderStatus("/data/s.h5", {"eeg": 51_000}, 790, 12, 1, "")), "cpu", 12.0, 3)
    assert t.rowCount() == 1 and t.item(0, 0).text() == "eeg LOST" and t.item(0, 3).text() == "2 (1.5 s)"
    for col in (0, 1, 3, 4):
        assert t.item(0, col).foreground().color() == theme.colour(theme.BAD)
    assert panel.trained_badge.text() == "UNTRAINED" and "model needs a face stream" in panel.model_label.text()
    assert panel.values["camera"].text() == "camera gone"
    assert "LOST 12 samples, 1 overruns" in panel.values["recording"].text()
    assert panel.values["dashboard"].text() == "12 frames/s · 3 predictions not drawn"
    panel.update_health(status(recorder=None), "cpu", 30.0, 0)
    assert panel.values["recording"].text() == "off"


def test_face_prior_is_an_uncalibrated_prior_not_trained(qtbot) -> None:
    """The face prior has never been scored on labelled valence: an amber "uncalibrated prior", not the green
    "trained" (nor the red UNTRAINED), in the health panel and in the headless status line."""
    prior = load_predictor("face-prior", device="cpu")
    s = status(model_id=prior.model_id, trained=prior.trained, model_state=predictor_state(prior))
    assert not s.trained and s.state == PRIOR

    panel = HealthPanel()
    qtbot.addWidget(panel)
    panel.setStyleSheet(theme.STYLE_SHEET)
    panel.update_health(s, "cpu", 30.0, 0)
    badge = panel.trained_badge
    assert badge.text() == "uncalibrated prior" and badge.objectName() == "prior"
    badge.adjustSize()
    fill = badge.grab().toImage().pixelColor(badge.width() // 2, 2)  # above the text, inside the rounded box
    assert fill == theme.colour(theme.WARN) and fill != theme.colour(theme.GOOD)

    line = format_status(s)
    assert "model face-prior@fixed (uncalibrated prior)" in line and "(untrained)" not in line

    panel.update_health(status(), "cpu", 30.0, 0)  # a trained bundle
    assert badge.text() == "trained" and badge.objectName() == "trained"
    assert badge.grab().toImage().pixelColor(badge.width() // 2, 2) == theme.colour(theme.GOOD)
    assert "model lfan@1a2b3c4d |" in format_status(status()) + " |"


def test_a_prior_becomes_calibrated_only_once_its_bundle_says_it_was_scored(tmp_path) -> None:
    from models import registry
    from models.bundle import save_bundle

    prior = registry.build("face-prior")
    plain = save_bundle(prior, tmp_path, "plain", trained=True, provenance={"dataset": "none", "metrics": {}})
    assert load_predictor(str(plain), device="cpu").state == PRIOR  # "trained" in the manifest is not enough
    scored = save_bundle(prior, tmp_path, "scored", trained=False,
                         provenance={"scored_on": {"dataset": "calibration", "sessions": ["s1.h5"]},
                                     "metrics": {"valence_ccc": 0.21}})
    p = load_predictor(str(scored), device="cpu")
    assert p.state == CALIBRATED and not p.trained
    s = status(model_id=p.model_id, trained=p.trained, model_state=predictor_state(p))
    assert f"model {p.model_id} (calibrated)" in format_status(s)
    assert predictor_state(load_predictor("tcn-eeg", device="cpu")) == "untrained" != TRAINED


def test_the_status_line_stays_short_and_the_reasons_are_apart() -> None:
    long = "x" * 300
    lost = StreamStatus("eeg", "LSL stream 'x'", 32, 256.0, 120.0, 51_300, 2, 1.5, 40, False, f"gap: {long}")
    s = status(streams={"eeg": lost}, model_problem=f"model needs an expression stream {long}",
               camera_problem=f"camera gone {long}", swap=f"refused {long}", marker_stream=long, external_markers=7,
               freshness={"eeg": (0.031, 0.048, 0.06), "expression": (0.12, 0.3, 0.4), "face": (0.12, 0.3, 0.4)},
               recorder=RecorderStatus("/data/s.h5", {"eeg": 51_000}, 790, 12, 1, f"recording stopped: {long}"))
    line = format_status(s)
    assert len(line) <= 160, line
    assert "eeg 120/256Hz LOST gaps=2 nan=40" in line and "rec STOPPED LOST 12" in line and "markers 7" in line
    reasons = status_reasons(s)
    assert set(reasons) == {"[eeg]", "[model]", "[camera]", "[hot-swap]", "[markers]", "[recording]"}
    assert reasons["[model]"].startswith("not running: model needs an expression stream")
    assert len(format_status(status())) <= 160 and status_reasons(status()) == {}
