"""A calibration session started from the dashboard's Calibrate button, on the running pipeline (offscreen Qt).

The dashboard keeps drawing while the session runs; the session file is read with plain h5py; a
session stopped from the dashboard keeps what it recorded; the pipeline runs on after both; a
session cannot start while another recording is open.
"""

from __future__ import annotations

import uuid

import h5py
import numpy as np
import pylsl
from PyQt6 import QtCore
from PyQt6.QtWidgets import QApplication, QDialogButtonBox

from calibration.pseudonym import lab_key, pseudonym
from calibration.start_dialog import CalibrationStartDialog
from dashboard.window import DashboardWindow
from realtime.pipeline import Pipeline, PipelineConfig

RATINGS = [(8, 2), (3, 7)]


def _protocol(folder, seconds: float = 1.5) -> str:
    path = folder / "protocol.toml"
    path.write_text(f"settle_seconds = 0.5\nrest_seconds = 0.3\n[baseline]\neyes_open_seconds = {seconds}\n"
                    f'[stimuli]\nseconds = {seconds}\nprompts = ["Recall a happy moment.", "Recall a sad one."]\n')
    return str(path)


def test_a_session_from_the_dashboard_records_everything_while_the_dashboard_draws(qtbot, tmp_path):
    name = f"dash-cal-{uuid.uuid4().hex[:8]}"
    pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", camera="none", model="", app_name=name))
    pipeline.start()
    window = DashboardWindow(pipeline, record_dir=tmp_path / "sessions")
    listener = pylsl.StreamInlet(pylsl.resolve_byprop("name", f"{name}-markers", timeout=10)[0])
    listener.open_stream(timeout=5)  # what anyone on the network sees of the session's markers
    qtbot.addWidget(window)
    window.show()
    controls = window.controls
    answers = iter(RATINGS)

    def answer(dialog) -> None:  # the subject clicks the SAM dialog a little later
        def click() -> None:
            valence, arousal = next(answers)
            dialog.choose("valence", valence)
            dialog.choose("arousal", arousal)
            dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

        QtCore.QTimer.singleShot(300, click)

    try:
        qtbot.mouseClick(controls.calibrate, QtCore.Qt.MouseButton.LeftButton)
        start = next(w for w in QApplication.topLevelWidgets() if isinstance(w, CalibrationStartDialog)
                     and w.isVisible())
        assert not start.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled(), "Start needs a subject id"
        start.subject.setText("D1")
        start.protocol.setText(_protocol(tmp_path))
        start.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        session = window.calibration
        assert session is not None and window.calibrating
        session.rating_requested.connect(answer)
        assert controls.calibrate.text().startswith("■") and not controls.record.isEnabled()
        frames = window.frames
        qtbot.waitUntil(lambda: not window.calibrating, timeout=30_000)
        assert "calibration saved" in controls.message.text(), controls.message.text()
        assert window.frames - frames > 20, "the dashboard kept drawing during the session"
        assert pipeline.status().running and pipeline.recorder is None
        assert controls.record.isEnabled() and controls.calibrate.text() == "Calibrate…"
        path = session.path

        assert window.start_calibration("D1", _protocol(tmp_path, seconds=20.0))  # stopped from the dashboard
        second = window.calibration
        qtbot.waitUntil(lambda: "baseline-eyes-open" in controls.message.text(), timeout=10_000)
        qtbot.wait(1000)
        qtbot.mouseClick(controls.calibrate, QtCore.Qt.MouseButton.LeftButton)
        assert not window.calibrating and "stopped from the dashboard" in controls.message.text()
        assert pipeline.status().running and pipeline.recorder is None

        assert not window.start_calibration("bad id/..", _protocol(tmp_path))
        assert "subject id" in controls.message.text()
        pipeline.start_recording(tmp_path / "other.h5")
        assert not window.start_calibration("D1", _protocol(tmp_path))
        assert "stop the recording first" in controls.message.text()
    finally:
        window.close()
    assert not pipeline.status().running

    alias = pseudonym("D1", lab_key())
    published = [sample[0] for sample in iter(lambda: listener.pull_sample(timeout=0.5)[0], None)]
    assert f"session_start {alias}" in published and "rating stimulus-02 valence=3 arousal=7" in published
    assert not any("D1" in m for m in published), "the subject id went out on the network"
    assert path.name.startswith(f"{alias}-")
    with h5py.File(path, "r") as f:  # plain h5py: the file holds the pseudonym, not the id
        assert f.attrs["subject"] == alias and "[stimuli]" in f.attrs["protocol"]
        names = [n.decode() for n in f["tables/blocks/name"][()]]
        ratings = list(zip(f["tables/ratings/valence"][()], f["tables/ratings/arousal"][()], strict=True))
        markers = [m.decode() for m in f["markers/text"][()]]
        eeg_ts = f["eeg/timestamps"][()]
        onset, offset = f["tables/blocks/onset"][()], f["tables/blocks/offset"][()]
    assert names == ["baseline-eyes-open", "stimulus-01", "stimulus-02"]
    assert ratings == [(8.0, 2.0), (3.0, 7.0)]
    assert "rating stimulus-02 valence=3 arousal=7" in markers and markers[-1] == f"session_end {alias}"
    np.testing.assert_allclose(offset - onset, 1.5, atol=0.3)
    for a, b in zip(onset, offset, strict=True):
        assert ((eeg_ts >= a) & (eeg_ts <= b)).sum() >= 0.95 * (b - a) * 250
    with h5py.File(second.path, "r") as f:  # the stopped session: closed cleanly, ~1 s of baseline kept
        assert f["eeg/data"].shape[0] >= 250 and len(f["tables/blocks/name"]) == 0
        assert "onset baseline-eyes-open" in [m.decode() for m in f["markers/text"][()]]
