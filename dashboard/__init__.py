"""The Qt dashboard of the live pipeline (PyQt6 + pyqtgraph): ``run_dashboard(pipeline)`` shows it until closed."""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from realtime.pipeline import Pipeline


def display_available() -> bool:
    """True when Qt can show a window: an X or Wayland display, or a Qt platform chosen explicitly (offscreen)."""
    return any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def run_dashboard(pipeline: Pipeline, duration: float | None = None, screenshot: str | None = None) -> int:
    """Show the dashboard of a started ``pipeline`` until the window is closed, Ctrl-C, or ``duration`` s.

    Closing stops the pipeline (and closes its session file). ``screenshot``: a PNG of the window
    saved just before ``duration`` closes it. Returns 0. Raises RuntimeError without a display
    (Qt would abort the process instead).
    """
    if not display_available():
        raise RuntimeError("no display for the dashboard (DISPLAY / WAYLAND_DISPLAY unset): run with --no-gui, "
                           "or set QT_QPA_PLATFORM=offscreen")
    from PyQt6 import QtCore, QtWidgets

    from dashboard.window import DashboardWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    assert isinstance(app, QtWidgets.QApplication)  # widgets need one, not a bare QCoreApplication
    window = DashboardWindow(pipeline)
    # a local loop ended by this window, not app.quit(): quitting would leave a shared QApplication (tests,
    # an embedding program) unable to run its timers afterwards
    loop = QtCore.QEventLoop()
    window.closed.connect(loop.quit)
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)
    window.show()

    def finish() -> None:
        if screenshot:
            window.grab().save(screenshot)
        window.close()

    if duration is not None:
        QtCore.QTimer.singleShot(round(duration * 1000), finish)
    # Python runs signal handlers only between byte codes: a short timer gives it the chance under Qt's loop.
    previous = {s: signal.signal(s, lambda *_: window.close()) for s in (signal.SIGINT, signal.SIGTERM)}
    wake = QtCore.QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(200)
    try:
        loop.exec()
    finally:
        app.setQuitOnLastWindowClosed(quit_on_close)
        wake.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
