"""``run_dashboard``: shows a started pipeline until Ctrl-C (or ``duration``), then stops it and closes the session."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from PyQt6 import QtCore, QtWidgets

from dashboard import display_available, run_dashboard
from dashboard.window import DashboardWindow
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.session_file import read_session


def test_ctrl_c_closes_the_dashboard_and_stops_the_pipeline(qapp, counter_sender, lsl_name, tmp_path):
    session = tmp_path / "s.h5"
    counter_sender.start()
    pipeline = Pipeline(PipelineConfig(eeg="lsl", eeg_stream=lsl_name, camera="none", model="", app_name=lsl_name,
                                       record=str(session)))
    pipeline.start()
    seen = {}

    def interrupt() -> None:
        window = next(w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, DashboardWindow))
        seen["camera"] = window.camera.state
        seen["samples"] = pipeline.streams["eeg"].buffer.total
        os.kill(os.getpid(), signal.SIGINT)

    QtCore.QTimer.singleShot(3000, interrupt)
    before = signal.getsignal(signal.SIGINT)
    t0 = time.monotonic()
    try:
        assert run_dashboard(pipeline, duration=30) == 0
        elapsed = time.monotonic() - t0
    finally:
        pipeline.stop()
    assert elapsed < 20  # closed by Ctrl-C, not by the 30 s duration
    assert signal.getsignal(signal.SIGINT) is before
    assert seen["camera"] == "no camera" and seen["samples"] > 0
    status = pipeline.status()
    assert not status.running and pipeline.recorder is None
    counter = read_session(session).streams["eeg"].data[:, 0]
    assert len(counter) >= seen["samples"] and np.all(np.diff(counter) == 1)


def test_without_a_display_it_says_so_instead_of_aborting(monkeypatch):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert not display_available()
    with pytest.raises(RuntimeError, match=r"no display for the dashboard.*--no-gui"):
        run_dashboard(None)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_available()


def test_the_dashboard_draws_between_steps_at_a_short_hop(qtbot, counter_sender, lsl_name):
    """At hop 0.05 s every instant is within 50 ms of a step: frames must fit in the gaps between steps (the old
    fixed 50 ms guard drew none), and one is drawn after MAX_FRAME_GAP at the latest."""
    counter_sender.start()
    pipeline = Pipeline(PipelineConfig(eeg="lsl", eeg_stream=lsl_name, camera="none", model="", app_name=lsl_name,
                                       hop=0.05))
    pipeline.start()
    window = DashboardWindow(pipeline)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.frames >= 30, timeout=30_000)
        predictions = pipeline.status().predictions
    finally:
        pipeline.stop()
    assert predictions >= 10
    assert window.frames >= predictions / 10  # at most MAX_FRAME_GAP (5 hops) between frames
    assert min(window.drawn.values()) >= 9  # every panel group in turn
