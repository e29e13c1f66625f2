"""A short session driven through the Qt windows (offscreen), as ``calibration run`` does without --no-gui."""

from __future__ import annotations

import os
import signal
import uuid

import h5py
import pytest
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QDialogButtonBox

from calibration.protocol import load_protocol
from calibration.qt_presenter import QtPresenter
from calibration.qt_session import run_qt_session
from calibration.rating_dialog import SamDialog
from calibration.session import SessionError
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.session_file import read_session


def test_gui_session_records_the_ratings_given_in_the_dialog(qtbot, tmp_path):
    (tmp_path / "p.toml").write_text('settle_seconds = 0.5\nrest_seconds = 0.2\n[baseline]\neyes_open_seconds = 1\n'
                                     '[stimuli]\nseconds = 1\nprompts = ["Recall a calm moment.", "And a sad one."]\n')
    answers = iter([(6, 3), (2, 7)])
    asked = []

    def answer_open_dialogs() -> None:
        for dialog in QApplication.topLevelWidgets():
            if isinstance(dialog, SamDialog) and dialog.isVisible() and dialog not in asked:
                asked.append(dialog)
                valence, arousal = next(answers)
                dialog.choose("valence", valence)
                dialog.choose("arousal", arousal)
                dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    timer = QTimer()
    timer.timeout.connect(answer_open_dialogs)
    timer.start(100)
    presenter = QtPresenter()
    qtbot.addWidget(presenter)
    name = f"gui-{uuid.uuid4().hex[:8]}"
    pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", camera="none", model="", app_name=name))
    path = run_qt_session(pipeline, load_protocol(tmp_path / "p.toml"), "G1", tmp_path, presenter, log=lambda _: None)
    timer.stop()
    session = read_session(path)
    assert list(session.tables["blocks"]["name"]) == ["baseline-eyes-open", "stimulus-01", "stimulus-02"]
    assert list(zip(session.tables["ratings"]["valence"], session.tables["ratings"]["arousal"], strict=True)) == \
        [(6.0, 3.0), (2.0, 7.0)]
    assert len(session.streams["eeg"].data) >= 3 * 250
    assert not pipeline.status().running


def test_ctrl_c_ends_a_gui_session_and_keeps_what_was_recorded(qtbot, tmp_path):
    (tmp_path / "p.toml").write_text('settle_seconds = 0.5\n[baseline]\neyes_open_seconds = 30\n'
                                     '[stimuli]\nseconds = 1\nprompts = ["Recall a calm moment."]\n')
    presenter = QtPresenter()
    qtbot.addWidget(presenter)
    pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", camera="none", model="",
                                       app_name=f"gui-{uuid.uuid4().hex[:8]}"))
    QTimer.singleShot(2500, lambda: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(SessionError, match=r"interrupted \(Ctrl-C\)"):
        run_qt_session(pipeline, load_protocol(tmp_path / "p.toml"), "G2", tmp_path, presenter, log=lambda _: None)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler and not pipeline.status().running
    (path,) = tmp_path.glob("G2-*.h5")
    with h5py.File(path, "r") as f:  # closed cleanly, about 2 s of EEG kept
        assert f["eeg/data"].shape[0] >= 250
        assert "onset baseline-eyes-open" in [m.decode() for m in f["markers/text"][()]]
