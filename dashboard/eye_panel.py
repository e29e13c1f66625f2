"""The eye tracker over the last seconds: gaze x and y, pupil diameter, and blinks (untracked samples) marked.

A tracker that sends gaze only (Pupil Labs Neon through lsl-relay, ``realtime.sources.eye``) has its gaze drawn,
every sample counted as tracked where its gaze is finite, and the pupil plot says there is no pupil diameter."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from dashboard import theme
from models.eye_features import EYE_CHANNELS

EYE_SECONDS = 10.0
MAX_POINTS = 600  # per curve; longer windows are decimated


class EyePanel(pg.GraphicsLayoutWidget):  # type: ignore[misc]  # pyqtgraph is not annotated
    """Two plots sharing a time axis in seconds before now: gaze (x, y) and pupil, blinks as shaded spans."""

    def __init__(self, seconds: float = EYE_SECONDS, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.seconds = seconds
        self.gaze_plot, self.pupil_plot = self.addPlot(row=0, col=0), self.addPlot(row=1, col=0)
        for plot, name in ((self.gaze_plot, "gaze"), (self.pupil_plot, "pupil")):
            theme.style_plot(plot, grid=False)
            plot.setLabel("left", name, color=theme.MUTED)
            plot.setXRange(-seconds, 0, padding=0.01)
        self.pupil_plot.setXLink(self.gaze_plot)
        self.pupil_plot.setLabel("bottom", "seconds before now", color=theme.MUTED)
        colour = theme.MODALITY_COLOURS["eye"]
        self.gaze_x = self.gaze_plot.plot(pen=pg.mkPen(colour, width=1.5), connect="finite")
        self.gaze_y = self.gaze_plot.plot(pen=pg.mkPen(theme.MUTED, width=1.5), connect="finite")
        self.pupil = self.pupil_plot.plot(pen=pg.mkPen(colour, width=1.5), connect="finite")
        self.blinks = pg.ScatterPlotItem(symbol="s", size=4, pen=None, brush=pg.mkBrush(theme.BAD))
        self.pupil_plot.addItem(self.blinks)
        self.message = pg.TextItem(anchor=(0.5, 0.5), color=theme.MUTED)
        self.gaze_plot.addItem(self.message)
        self.pupil_message = pg.TextItem(anchor=(0.5, 0.5), color=theme.MUTED)
        self.pupil_message.setParentItem(self.pupil_plot.vb)
        self.samples_shown = 0
        self.untracked_shown = 0

    def update_from(self, data: np.ndarray, ts: np.ndarray, channels: tuple[str, ...], now: float) -> None:
        """Draw the eye stream's samples ``data`` (n, channels) at ``ts``; say so when its layout is unknown."""
        full = channels[: len(EYE_CHANNELS)] == EYE_CHANNELS
        if not full and channels[:2] != EYE_CHANNELS[:2]:
            self.message.setText("eye stream of an unknown layout: recorded, not drawn")
            return
        self.message.setText("" if len(ts) else "no eye samples")
        self.pupil_message.setText("" if full else "this tracker sends no pupil diameter: gaze only")
        self.pupil_message.setPos(self.pupil_plot.vb.boundingRect().center())
        step = max(1, len(ts) // MAX_POINTS)
        x, rows = ts[::step] - now, data[::step]
        if not full:  # gaze only: no pupil, and a sample is tracked where its gaze is
            rows = np.column_stack([rows[:, :2], np.full((len(rows), 2), np.nan), np.isfinite(rows[:, :2]).all(1)])
        tracked = rows[:, 4] > 0.5
        self.gaze_x.setData(x, np.where(tracked, rows[:, 0], np.nan))
        self.gaze_y.setData(x, np.where(tracked, rows[:, 1], np.nan))
        pupil = np.where(tracked, rows[:, 2], np.nan)
        self.pupil.setData(x, pupil)
        low = np.nanmin(pupil) if np.isfinite(pupil).any() else 0.0
        self.blinks.setData(x[~tracked], np.full(int((~tracked).sum()), low))
        self.samples_shown, self.untracked_shown = len(x), int((~tracked).sum())
        self.gaze_plot.setXRange(-self.seconds, 0, padding=0.01)
        self.message.setPos(-self.seconds / 2, 0)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(300, 160)
