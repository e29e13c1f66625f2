"""The class panel as a real Qt widget offscreen: the bars hold the class probabilities, each class sits at its
circumplex point, a regression model gets "no classes" (and the window hides the panel), an untrained one its badge."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6 import QtCore

from dashboard import theme
from dashboard.class_panel import DOT_GROWTH, DOT_SIZE, ClassPanel
from models.classes import SEEDV_EMOTIONS, circumplex_point
from models.live import TRAINED, UNTRAINED
from models.predictor import load_predictor
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.prediction import Prediction

theme.setup_pyqtgraph()

EMOTIONS = np.array([0.05, 0.1, 0.15, 0.2, 0.5])  # disgust, fear, sad, neutral, happy


def prediction(probabilities: dict[str, np.ndarray], classes: dict[str, tuple[str, ...]], state: str = TRAINED,
               model_id: str = "cmt-seedv@test") -> Prediction:
    return Prediction(time=10.0, published=10.01, valence=float("nan"), arousal=float("nan"), model_id=model_id,
                      trained=state == TRAINED, available={"eeg": True, "eye": True}, probabilities=probabilities,
                      classes=classes, model_state=state)


def ticks(panel: ClassPanel) -> list[str]:
    return [name for _, name in panel.bars_plot.getAxis("bottom")._tickLevels[0]]


def test_the_bars_hold_the_probabilities_and_the_classes_sit_on_the_circumplex(qtbot) -> None:
    panel = ClassPanel()
    qtbot.addWidget(panel)
    panel.update_from(prediction({"emotion": EMOTIONS}, {"emotion": SEEDV_EMOTIONS}))
    assert panel.labels == tuple(f"emotion:{e}" for e in SEEDV_EMOTIONS)
    np.testing.assert_array_equal(panel.values, EMOTIONS)
    np.testing.assert_array_equal(panel.bars.opts["height"], EMOTIONS)
    assert ticks(panel) == list(SEEDV_EMOTIONS)  # one target: the class names alone
    assert panel.note.textItem.toPlainText() == "" and not panel.badge.isVisible()
    spots = panel.dots.points()
    assert len(spots) == 5  # every SEED-V emotion has a place
    by_size = {round(s.size(), 6): (s.pos().x(), s.pos().y()) for s in spots}
    happy = by_size[round(DOT_SIZE + DOT_GROWTH * 0.5, 6)]  # the most probable, the largest dot ...
    assert happy == pytest.approx(circumplex_point("emotion", "happy"))
    assert happy[0] > 0 and happy[1] > 0  # pleasant, a little aroused
    ringed = [s for s in spots if s.pen().style() != QtCore.Qt.PenStyle.NoPen]
    assert len(ringed) == 1 and (ringed[0].pos().x(), ringed[0].pos().y()) == pytest.approx(happy)  # ... ringed
    sad, fear = circumplex_point("emotion", "sad"), circumplex_point("emotion", "fear")
    assert sad is not None and sad[0] < 0 and sad[1] < 0 and fear is not None and fear[0] < 0 < fear[1]
    assert circumplex_point("emotion", "neutral") == (0.0, 0.0)
    assert [t.textItem.toPlainText() for t in panel.names] == list(SEEDV_EMOTIONS)


def test_binary_targets_name_their_target_and_sit_at_the_poles(qtbot) -> None:
    panel = ClassPanel()
    qtbot.addWidget(panel)
    p = prediction({"valence": np.array([0.3, 0.7]), "arousal": np.array([0.8, 0.2])}, {}, model_id="stalignnet@t")
    p.classes = {t: load_predictor("stalignnet", device="cpu").spec.class_names(t, 2) for t in p.probabilities}
    panel.update_from(p)
    assert ticks(panel) == ["valence:low", "valence:high", "arousal:low", "arousal:high"]
    np.testing.assert_array_equal(panel.bars.opts["height"], [0.3, 0.7, 0.8, 0.2])
    poles = {"valence:low": (-1, 0), "valence:high": (1, 0), "arousal:low": (0, -1), "arousal:high": (0, 1)}
    assert list(panel.placed) == list(poles)
    for label, point in poles.items():
        assert panel.placed[label] == pytest.approx(point, abs=1e-12)
    unnamed = prediction({"emotion": np.array([0.6, 0.4])}, {})  # classes nobody named: bars, no place
    panel.update_from(unnamed)
    assert ticks(panel) == ["class0", "class1"] and panel.placed == {} and len(panel.dots.points()) == 0


def test_an_untrained_classifier_is_labelled_and_a_regression_model_has_no_classes(qtbot) -> None:
    panel = ClassPanel()
    qtbot.addWidget(panel)
    panel.update_from(None)
    assert panel.note.textItem.toPlainText() == "waiting for predictions"
    panel.update_from(prediction({"emotion": EMOTIONS}, {"emotion": SEEDV_EMOTIONS}, UNTRAINED))
    assert panel.badge.isVisible() and panel.badge.textItem.toPlainText() == "UNTRAINED"
    np.testing.assert_array_equal(panel.values, EMOTIONS)  # shown, labelled as untrained

    failed = prediction({}, {}, UNTRAINED)
    failed.problems = {"model": "not run: eye unavailable"}
    panel.update_from(failed)
    assert panel.note.textItem.toPlainText() == "not run: eye unavailable" and len(panel.values) == 0

    regression = prediction({}, {}, model_id="tcn-eeg@untrained")
    regression.valence = 0.3
    panel.update_from(regression)
    assert panel.note.textItem.toPlainText() == "no classes: tcn-eeg@untrained predicts no class probabilities"
    assert len(panel.bars.opts["height"]) == 0 and len(panel.dots.points()) == 0


def test_the_window_shows_the_panel_for_a_classifier_only(qtbot, lsl_name) -> None:
    from dashboard.window import DashboardWindow

    pipeline = Pipeline(PipelineConfig(eeg=None, camera="none", model="", app_name=lsl_name),
                        predictor=load_predictor("tcn-eeg", device="cpu"))
    window = DashboardWindow(pipeline)
    qtbot.addWidget(window)
    window.redraw()
    assert window.class_box.isHidden()  # a regression model: no panel
    pipeline.predictor = load_predictor("cmt-seedv", device="cpu")  # as a swap does
    window.redraw()
    assert not window.class_box.isHidden()
    window.timer.stop()
