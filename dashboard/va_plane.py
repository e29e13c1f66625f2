"""The valence-arousal plane: the current estimate, a trail that fades with age, and the face-only point."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from dashboard import theme
from dashboard.series import recent, series
from realtime.prediction import Prediction

# Russell's circumplex: words for the four quadrants, placed in the corners.
QUADRANTS = {(1, 1): "excited", (-1, 1): "stressed", (-1, -1): "sad", (1, -1): "calm"}


class VAPlane(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph is not annotated
    """Square -1..1 plane, valence on x and arousal on y."""

    def __init__(self, trail_seconds: float = 10.0, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.trail_seconds = trail_seconds
        plot = self.getPlotItem()
        theme.style_plot(plot)
        plot.setXRange(-1, 1, padding=0.04)
        plot.setYRange(-1, 1, padding=0.04)
        plot.setAspectLocked(True)
        plot.setMouseEnabled(x=False, y=False)
        plot.setLabel("bottom", "valence", color=theme.VALENCE)
        plot.setLabel("left", "arousal", color=theme.AROUSAL)
        axis_pen = pg.mkPen(theme.MUTED, width=1)
        plot.addLine(x=0, pen=axis_pen)
        plot.addLine(y=0, pen=axis_pen)
        circle = pg.QtWidgets.QGraphicsEllipseItem(-1, -1, 2, 2)
        circle.setPen(pg.mkPen(theme.MUTED, width=1, style=QtCore.Qt.PenStyle.DotLine))
        plot.addItem(circle)
        for (sx, sy), word in QUADRANTS.items():
            label = pg.TextItem(word, color=theme.MUTED, anchor=(0.5 + 0.5 * sx, 0.5 - 0.5 * sy))
            label.setPos(0.98 * sx, 0.98 * sy)
            plot.addItem(label)
        self._brushes = [pg.mkBrush(theme.colour(theme.VALENCE, 30 + 10 * i)) for i in range(21)]  # by age
        self.trail = pg.ScatterPlotItem(size=8, pen=None, antialias=True)
        self.trail_line = pg.PlotDataItem(pen=pg.mkPen(theme.colour(theme.TEXT, 70), width=1), connect="finite",
                                          antialias=True)
        self.face = pg.ScatterPlotItem(size=14, pen=pg.mkPen(theme.FACE_ONLY, width=2), brush=None, symbol="s")
        self.current = pg.ScatterPlotItem(size=18, pen=pg.mkPen("w", width=2), brush=pg.mkBrush(theme.VALENCE),
                                          antialias=True)
        for item in (self.trail_line, self.trail, self.face, self.current):
            plot.addItem(item)
        plot.setTitle(f"<span style='color:{theme.VALENCE}'>●</span> model, fading trail of the last "
                      f"{trail_seconds:g} s &nbsp; <span style='color:{theme.FACE_ONLY}'>□</span> face only",
                      color=theme.MUTED, size="9pt")
        self.status = pg.TextItem(anchor=(0.5, 0), color=theme.TEXT, fill=pg.mkBrush(theme.colour(theme.PANEL, 200)))
        self.status.setParentItem(plot.vb)
        self.badge = pg.TextItem("UNTRAINED", anchor=(0.5, 0), color="w", fill=pg.mkBrush(theme.BAD))
        self.badge.setParentItem(plot.vb)
        self.badge.setVisible(False)
        plot.vb.sigResized.connect(self._place_badge)

    def _place_badge(self) -> None:
        rect = self.getPlotItem().vb.boundingRect()
        self.status.setPos(rect.center().x(), rect.top() + 2)
        self.badge.setPos(rect.center().x(), rect.top() + 26)  # just under the values it qualifies

    def update_from(self, history: Sequence[Prediction], now: float) -> None:
        shown = recent(history, now - self.trail_seconds)
        s = series(shown)
        ok = np.isfinite(s.valence) & np.isfinite(s.arousal)
        age = np.clip((now - s.time[ok]) / self.trail_seconds, 0.0, 1.0)
        brushes = [self._brushes[round((1.0 - a) * (len(self._brushes) - 1))] for a in age]
        self.trail.setData(s.valence[ok], s.arousal[ok], brush=brushes)
        self.trail_line.setData(s.valence[ok], s.arousal[ok])
        latest = shown[-1] if shown else None
        if latest is not None and np.isfinite(latest.valence) and np.isfinite(latest.arousal):
            self.current.setData([latest.valence], [latest.arousal])
            self.status.setText(f"V {latest.valence:+.2f}   A {latest.arousal:+.2f}")
        else:
            self.current.setData([], [])
            if latest is None:
                self.status.setText("waiting for predictions")
            elif "model" in latest.problems:
                self.status.setText(latest.problems["model"])
            else:
                values = (("valence", latest.valence), ("arousal", latest.arousal))
                missing = [name for name, v in values if not np.isfinite(v)]
                self.status.setText(f"{latest.model_id} does not predict {' and '.join(missing)}")
        if latest is not None and np.isfinite(latest.face_valence) and np.isfinite(latest.face_arousal):
            self.face.setData([latest.face_valence], [latest.face_arousal])
        else:
            self.face.setData([], [])
        theme.show_state_on_plot(self.badge, latest.state if latest is not None else None)
        self._place_badge()
