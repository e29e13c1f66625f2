"""The Qt dashboard of the live pipeline (PyQt6 + pyqtgraph): ``run_dashboard(pipeline)`` shows it until closed."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from realtime.pipeline import Pipeline


def run_dashboard(pipeline: Pipeline, duration: float | None = None) -> int:
    """Show the dashboard of a started ``pipeline`` until the window is closed, Ctrl-C, or ``duration`` s.

    Closing stops the pipeline (and closes its session file). Returns 0.
    """
    from PyQt6 import QtCore, QtWidgets

    from realtime.dashboard.window import DashboardWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    window = DashboardWindow(pipeline)
    window.show()
    if duration is not None:
        QtCore.QTimer.singleShot(round(duration * 1000), window.close)
    # Python runs signal handlers only between byte codes: a short timer gives it the chance under Qt's loop.
    previous = {s: signal.signal(s, lambda *_: window.close()) for s in (signal.SIGINT, signal.SIGTERM)}
    wake = QtCore.QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(200)
    try:
        app.exec()
    finally:
        wake.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
