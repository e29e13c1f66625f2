"""Each dashboard panel, as a real Qt widget offscreen, shows exactly the data it is given."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from skimage import data as skdata

from dashboard import theme
from dashboard.bridge import PredictionBridge
from dashboard.camera_panel import CameraPanel
from dashboard.eeg_panel import MAX_POINTS, MIN_POINTS, EEGPanel, channel_quality, envelope
from dashboard.explain_panel import ExplainPanel
from dashboard.series import task_confidence
from dashboard.traces import TracesPanel
from dashboard.va_plane import VAPlane
from models.live import PRIOR, UNTRAINED
from models.predictor import load_predictor
from realtime.prediction import Prediction

theme.setup_pyqtgraph()


def make_predictions(n: int, t0: float = 100.0, hop: float = 0.25, trained: bool = True, **extra) -> list[Prediction]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        t = t0 + i * hop
        out.append(Prediction(
            time=t, published=t + 0.05, valence=float(np.sin(i / 7)), arousal=float(np.cos(i / 5)) * 0.8,
            model_id="st_alignnet@test", trained=trained, available={"eeg": True, "face": i % 2 == 0},
            probabilities={"valence": np.array([0.3, 0.7]), "arousal": np.array([0.9, 0.1])},
            saliency=rng.dirichlet(np.ones(16)), modality_weights={"eeg": 0.3, "face": 0.7},
            face_valence=0.2, face_arousal=-0.1, band_power=rng.uniform(0.1, 1, (4, 6)), **extra))
    return out


def test_confidence_is_margin_over_chance() -> None:
    p = make_predictions(1)[0]
    assert task_confidence(p, "valence") == pytest.approx(0.4)
    assert task_confidence(p, "arousal") == pytest.approx(0.8)
    p.probabilities = {}
    assert np.isnan(task_confidence(p, "valence"))
    p.confidence = 0.25
    assert task_confidence(p, "valence") == 0.25


def test_traces_show_the_last_n_seconds(qtbot) -> None:
    panel = TracesPanel(seconds=10.0)
    qtbot.addWidget(panel)
    preds = make_predictions(200)  # 50 s of predictions at 4 Hz
    now = preds[-1].time + 0.1
    panel.update_from(preds, now)
    x, y = panel.valence.model.getData()
    assert len(x) == 40  # 10 s at 4 Hz: (now - 10, now]
    assert x[-1] == pytest.approx(-0.1)
    assert y[-1] == pytest.approx(preds[-1].valence)
    assert panel.arousal.model.getData()[1][-1] == pytest.approx(preds[-1].arousal)
    assert panel.valence.face.getData()[1][-1] == pytest.approx(0.2)
    assert panel.valence.band.isVisible()
    up = panel.valence.upper.getData()[1][-1]
    assert up == pytest.approx(min(1.0, preds[-1].valence + 0.6 * 0.5))
    assert panel.valence.readout.textItem.toPlainText() == f"{preds[-1].valence:+.2f}"
    assert not panel.valence.badge.isVisible()
    panel.set_seconds(30)
    panel.update_from(preds, now)
    assert len(panel.valence.model.getData()[0]) == 120


def test_untrained_and_missing_target_are_said(qtbot) -> None:
    panel = TracesPanel(seconds=10.0)
    plane = VAPlane()
    qtbot.addWidget(panel)
    qtbot.addWidget(plane)
    preds = make_predictions(8, trained=False)
    for p in preds:
        p.arousal = float("nan")
    panel.update_from(preds, preds[-1].time)
    plane.update_from(preds, preds[-1].time)
    assert panel.valence.badge.isVisible() and panel.valence.badge.textItem.toPlainText() == "UNTRAINED"
    assert panel.arousal.readout.textItem.toPlainText() == "arousal not predicted by st_alignnet@test"
    assert plane.badge.isVisible()
    assert "does not predict arousal" in plane.status.textItem.toPlainText()
    assert len(plane.current.data) == 0
    preds[-1].valence = float("nan")
    preds[-1].problems = {"model": "not run: eeg unavailable"}
    panel.update_from(preds, preds[-1].time)
    plane.update_from(preds, preds[-1].time)
    assert panel.valence.readout.textItem.toPlainText() == "not run: eeg unavailable"
    assert plane.status.textItem.toPlainText() == "not run: eeg unavailable"


def test_face_prior_is_labelled_an_uncalibrated_prior_in_amber_not_trained(qtbot) -> None:
    prior = load_predictor("face-prior", device="cpu")
    assert not prior.trained and prior.state == PRIOR
    panel = TracesPanel(seconds=10.0)
    plane = VAPlane()
    qtbot.addWidget(panel)
    qtbot.addWidget(plane)
    preds = make_predictions(8, trained=prior.trained, model_state=prior.state)
    panel.update_from(preds, preds[-1].time)
    plane.update_from(preds, preds[-1].time)
    for badge in (panel.valence.badge, panel.arousal.badge, plane.badge):
        assert badge.isVisible() and badge.textItem.toPlainText() == "uncalibrated prior"
        assert badge.fill.color() == theme.colour(theme.WARN)
        assert badge.fill.color() not in (theme.colour(theme.GOOD), theme.colour(theme.BAD))

    untrained = make_predictions(8, trained=False, model_state=UNTRAINED)  # a swap to an untrained network
    panel.update_from(untrained, untrained[-1].time)
    plane.update_from(untrained, untrained[-1].time)
    for badge in (panel.valence.badge, plane.badge):
        assert badge.isVisible() and badge.textItem.toPlainText() == "UNTRAINED"
        assert badge.fill.color() == theme.colour(theme.BAD)

    trained = make_predictions(8)  # a trained bundle: nothing to warn about on the plots
    panel.update_from(trained, trained[-1].time)
    plane.update_from(trained, trained[-1].time)
    assert not panel.valence.badge.isVisible() and not plane.badge.isVisible()


def test_va_plane_current_point_and_fading_trail(qtbot) -> None:
    plane = VAPlane(trail_seconds=5.0)
    qtbot.addWidget(plane)
    preds = make_predictions(60)
    now = preds[-1].time
    plane.update_from(preds, now)
    assert (plane.current.data["x"][0], plane.current.data["y"][0]) == (preds[-1].valence, preds[-1].arousal)
    assert len(plane.trail.data) == 20  # 5 s at 4 Hz
    alphas = [b.color().alpha() for b in plane.trail.data["brush"]]
    assert alphas[0] < alphas[-1]  # older points fade
    assert (plane.face.data["x"][0], plane.face.data["y"][0]) == (0.2, -0.1)


def test_explain_panel_saliency_weights_availability(qtbot) -> None:
    panel = ExplainPanel(seconds=10.0)
    qtbot.addWidget(panel)
    preds = make_predictions(12)
    panel.update_from(preds, preds[-1].time, window_seconds=4.0)
    heights = panel.saliency.opts["height"]
    np.testing.assert_allclose(heights, preds[-1].saliency)
    assert panel.saliency.opts["x"][-1] == pytest.approx(4.0 - 0.125)
    assert set(panel.weight_curves) == {"eeg", "face"}
    assert panel.weight_curves["face"].getData()[1][-1] == pytest.approx(0.7)
    assert "face ✘ missing" in panel.badges["face"].text()  # the last prediction had no face
    assert "eeg ✔" in panel.badges["eeg"].text()
    preds[-1].saliency = None
    panel.update_from(preds, preds[-1].time)
    assert "gives no saliency" in panel.saliency_note.textItem.toPlainText()


def test_eeg_quality_and_envelope() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(0, 10, (500, 5))
    data[:, 1] = 3.0  # flat
    data[:, 2] *= 100  # amplitude outlier
    data[10, 3] = np.nan
    assert channel_quality(data) == ["ok", "flat", "bad", "bad", "ok"]
    x = np.arange(5000.0)
    y = rng.normal(0, 1, (5000, 2))
    y[1234, 0] = 50.0
    xs, ys = envelope(x, y, max_points=500)
    assert len(xs) <= 500 and ys[:, 0].max() == 50.0  # the peak survives
    assert xs[-1] == 4999


def test_eeg_panel_traces_and_band_power(qtbot) -> None:
    names = ["Fp1", "Fp2", "O1", "O2"]
    panel = EEGPanel(names, seconds=4.0)
    qtbot.addWidget(panel)
    rate = 250.0
    ts = 50.0 + np.arange(1000) / rate
    data = np.random.default_rng(2).normal(0, 20, (1000, 4)) + 1000.0
    data[:, 3] = 7.0
    panel.update_signals(data, ts, now=ts[-1])
    assert panel.quality == ["ok", "ok", "ok", "flat"]
    x, y = panel.curves["ok"].getData()  # channels 0, 1, 2, each followed by a NaN
    assert np.isnan(y).sum() == 3 and np.isnan(panel.curves["flat"].getData()[1]).sum() == 1
    row = len(x) // 3  # each channel's points and its NaN
    # at most one min/max pair per two pixels of the plot (fewer points to paint), the newest sample kept
    assert row - 1 <= min(MAX_POINTS, max(MIN_POINTS, int(panel.traces_plot.vb.width())))
    x, y = x[2 * row : 3 * row - 1], y[2 * row : 3 * row - 1]
    assert x[-1] == 0.0 and np.isfinite(y).all()
    assert y.min() >= -2.5 and y.max() <= -1.5  # row 2 stays in its lane
    ticks = dict(panel.traces_plot.getAxis("left")._tickLevels[0])
    assert ticks[-3] == "✘flat O2"
    assert ticks[0].startswith("Fp1 ±") and 40 < float(ticks[0].split("±")[1]) < 70  # 99th pct of |N(0, 20)|
    bp = np.array([[1, 1, 2, 0, 0, 0], [1, 0, 0, 0, 0, 3], [1] * 6, [0] * 6], dtype=float)
    panel.update_band_power(bp)
    img = panel.bands_image.image
    np.testing.assert_allclose(img[0], [0.25, 0.25, 0.5, 0, 0, 0])
    np.testing.assert_allclose(img[3], 0)
    with pytest.raises(ValueError, match="2 channels"):
        panel.update_band_power(bp[:2])


def test_camera_panel_face_and_states(qtbot) -> None:
    panel = CameraPanel()
    qtbot.addWidget(panel)
    panel.resize(320, 240)
    frame = np.ascontiguousarray(skdata.astronaut()[:, :, ::-1])
    panel.show_frame(frame, (150, 40, 320, 230), "happy", 0.83)
    assert panel.state == "face" and not panel.pixmap().isNull()
    img = panel._image
    box_px = img.pixelColor(150, 150)  # on the box's left edge
    assert box_px.green() > 150 and box_px.red() < 150
    panel.show_frame(frame, None, None, None)
    assert panel.state == "no face"
    panel.show_state("camera gone")
    assert panel.text() == "camera gone" and panel.state == "camera gone"


def test_bridge_hands_predictions_to_the_gui_thread(qtbot) -> None:
    bridge = PredictionBridge(history_len=50, max_in_flight=1000)
    preds = make_predictions(80)
    th = threading.Thread(target=lambda: [bridge.on_prediction(p) for p in preds])
    th.start()
    th.join()
    qtbot.waitUntil(lambda: bridge.received == 80, timeout=5000)
    assert len(bridge.history) == 50 and bridge.latest is preds[-1] and bridge.dropped == 0


def test_bridge_bounds_the_queue_when_the_gui_is_behind(qtbot) -> None:
    bridge = PredictionBridge(max_in_flight=10)
    preds = make_predictions(30)
    th = threading.Thread(target=lambda: [bridge.on_prediction(p) for p in preds])
    th.start()
    th.join()  # the GUI thread did not run meanwhile: only 10 could wait
    assert bridge.dropped == 20
    qtbot.waitUntil(lambda: bridge.received == 10, timeout=5000)
    assert bridge.latest is preds[9]
