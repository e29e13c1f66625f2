"""Valence and arousal over the last N seconds: the model's trace, its confidence band, the face-only estimate,
and the markers (inserted here, or received from a stimulus stream) as labelled vertical lines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from dashboard import theme
from dashboard.series import recent, series
from realtime.prediction import Prediction

# Half-width of the band at zero confidence: the band spans value +/- (1 - confidence) * BAND_SCALE.
BAND_SCALE = 0.5
#: Most marker lines drawn at once (the newest); lines are reused, not recreated, as the axis scrolls.
MAX_MARKER_LINES = 40
MARKER_LABEL_CHARS = 24


def readout(latest: Prediction | None, target: str) -> str:
    """The current value of ``target``, or why there is none (the model's problem, or it does not predict it)."""
    if latest is None:
        return "waiting for predictions"
    value = getattr(latest, target)
    if np.isfinite(value):
        return f"{value:+.2f}"
    if "model" in latest.problems:
        return latest.problems["model"]
    return f"{target} not predicted by {latest.model_id}"


class TargetPlot:
    """One target (valence or arousal): model curve, confidence band, face-only curve, current read-out."""

    def __init__(self, plot: pg.PlotItem, name: str, colour: str, legend: bool) -> None:
        self.plot = plot
        self.name = name
        theme.style_plot(plot, grid=False)
        theme.grid_lines(plot, ys=[-1.0, -0.5, 0.5, 1.0])
        self.time_lines: list[pg.InfiniteLine] = []
        plot.setYRange(-1.1, 1.1, padding=0)
        plot.setLabel("left", name, color=colour)
        plot.addLine(y=0, pen=pg.mkPen(theme.MUTED, width=1, style=QtCore.Qt.PenStyle.DotLine))
        self.upper = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.lower = pg.PlotCurveItem(pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.upper, self.lower, brush=pg.mkBrush(theme.colour(colour, 60)))
        plot.addItem(self.upper)
        plot.addItem(self.lower)
        plot.addItem(self.band)
        self.model = pg.PlotDataItem(pen=pg.mkPen(colour, width=2.5), connect="finite", antialias=True)
        self.face = pg.PlotDataItem(
            pen=pg.mkPen(theme.FACE_ONLY, width=1.5, style=QtCore.Qt.PenStyle.DashLine), connect="finite",
            antialias=True,
        )
        plot.addItem(self.model)
        plot.addItem(self.face)
        if legend:
            key = plot.addLegend(offset=(6, 2), labelTextColor=theme.TEXT, colCount=3,
                                 brush=pg.mkBrush(theme.colour(theme.PANEL, 150)))
            key.addItem(self.model, "model")
            key.addItem(self.face, "face only")
            band_key = pg.PlotDataItem(pen=pg.mkPen(theme.colour(colour, 90), width=8))  # swatch for the band
            key.addItem(band_key, "band: 1 − confidence")
        self.readout = pg.TextItem(anchor=(1, 0), color=colour)
        self.readout.setParentItem(plot.vb)
        self.badge = pg.TextItem(anchor=(1, 1), color="w", fill=pg.mkBrush(theme.BAD))
        self.badge.setParentItem(plot.vb)
        plot.vb.sigResized.connect(self._place_labels)

    def _place_labels(self) -> None:
        rect = self.plot.vb.boundingRect()
        self.readout.setPos(rect.right() - 6, rect.top() + 2)
        self.badge.setPos(rect.right() - 6, rect.bottom() - 4)

    def update(self, x: np.ndarray, value: np.ndarray, confidence: np.ndarray, face: np.ndarray,
               latest: Prediction | None) -> None:
        self.model.setData(x, value)
        self.face.setData(x, face)
        has_band = np.isfinite(confidence) & np.isfinite(value)
        if has_band.any():
            half = (1.0 - confidence[has_band]) * BAND_SCALE
            self.upper.setData(x[has_band], np.clip(value[has_band] + half, -1, 1))
            self.lower.setData(x[has_band], np.clip(value[has_band] - half, -1, 1))
            self.band.setVisible(True)
        else:
            self.band.setVisible(False)
        self.readout.setText(readout(latest, self.name))
        theme.show_state_on_plot(self.badge, latest.state if latest is not None else None)
        self._place_labels()


class TracesPanel(pg.GraphicsLayoutWidget):  # type: ignore[misc]  # pyqtgraph is not annotated
    """Two stacked plots sharing a time axis in seconds before now (each point at its prediction time)."""

    def __init__(self, seconds: float = 30.0, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.seconds = seconds
        self.valence = TargetPlot(self.addPlot(row=0, col=0), "valence", theme.VALENCE, legend=True)
        self.arousal = TargetPlot(self.addPlot(row=1, col=0), "arousal", theme.AROUSAL, legend=False)
        self.arousal.plot.setXLink(self.valence.plot)
        self.arousal.plot.setLabel("bottom", "seconds before now", color=theme.MUTED)
        self.valence.plot.getAxis("bottom").setStyle(showValues=False)
        self.marker_lines: list[tuple[pg.InfiniteLine, pg.InfiniteLine]] = []
        self.markers_shown = 0
        self.set_seconds(seconds)

    def show_markers(self, markers: Sequence[tuple[float, str, bool]], now: float) -> None:
        """Markers of the last ``seconds`` as lines on both plots, labelled on valence (received: dashed)."""
        shown = [m for m in markers if now - self.seconds <= m[0] <= now][-MAX_MARKER_LINES:]
        while len(self.marker_lines) < len(shown):
            pair = (pg.InfiniteLine(angle=90, movable=False, label="", labelOpts={
                        "position": 0.95, "color": theme.TEXT, "anchors": [(0, 0), (0, 0)]}),
                    pg.InfiniteLine(angle=90, movable=False))
            self.valence.plot.addItem(pair[0], ignoreBounds=True)
            self.arousal.plot.addItem(pair[1], ignoreBounds=True)
            self.marker_lines.append(pair)
        for i, (top, bottom) in enumerate(self.marker_lines):
            visible = i < len(shown)
            top.setVisible(visible)
            bottom.setVisible(visible)
            if visible:
                t, text, received = shown[i]
                pen = pg.mkPen(theme.WARN if received else theme.MUTED, width=1,
                               style=QtCore.Qt.PenStyle.DashLine if received else QtCore.Qt.PenStyle.SolidLine)
                for line in (top, bottom):
                    line.setPen(pen)
                    line.setValue(t - now)
                top.label.setFormat(text[:MARKER_LABEL_CHARS])
        self.markers_shown = len(shown)

    def set_seconds(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.valence.plot.setXRange(-self.seconds, 0, padding=0.01)
        step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120) if self.seconds / s <= 8)
        for target in (self.valence, self.arousal):
            for line in target.time_lines:
                target.plot.removeItem(line)
            target.time_lines = theme.grid_lines(target.plot, xs=list(-np.arange(step, self.seconds, step)))

    def update_from(self, history: Sequence[Prediction], now: float,
                    markers: Sequence[tuple[float, str, bool]] = ()) -> None:
        self.show_markers(markers, now)
        shown = recent(history, now - self.seconds)
        s = series(shown)
        x = s.time - now
        latest = shown[-1] if shown else None
        self.valence.update(x, s.valence, s.valence_confidence, s.face_valence, latest)
        self.arousal.update(x, s.arousal, s.arousal_confidence, s.face_arousal, latest)
