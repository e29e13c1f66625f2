"""Why the model said what it said: SATA saliency over the window, per-step modality attention, availability."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from dashboard import theme
from dashboard.series import recent
from realtime.prediction import Prediction


class ExplainPanel(QtWidgets.QWidget):
    """Availability badges, a saliency bar plot over the current window, modality weights over time."""

    def __init__(self, seconds: float = 30.0, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.seconds = seconds
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.available_row = QtWidgets.QHBoxLayout()
        self.available_row.addWidget(QtWidgets.QLabel("inputs:"))
        self.available_row.addStretch(1)
        layout.addLayout(self.available_row)
        self.badges: dict[str, QtWidgets.QLabel] = {}
        self.graphics = pg.GraphicsLayoutWidget()
        layout.addWidget(self.graphics, 1)

        self.saliency_plot = self.graphics.addPlot(row=0, col=0)
        theme.style_plot(self.saliency_plot, "saliency over the window (SATA)")
        self.saliency_plot.setLabel("bottom", "window, oldest → newest (s)", color=theme.MUTED)
        self.saliency_plot.setMouseEnabled(x=False, y=False)
        self.saliency = pg.BarGraphItem(x=[], height=[], width=1.0, brush=theme.VALENCE, pen=None)
        self.saliency_plot.addItem(self.saliency)
        self.uniform = pg.InfiniteLine(angle=0, pen=pg.mkPen(theme.TEXT, width=1, style=QtCore.Qt.PenStyle.DashLine),
                                       label="uniform", labelOpts={"color": theme.MUTED, "position": 0.9})
        self.saliency_plot.addItem(self.uniform, ignoreBounds=True)
        self.saliency_note = pg.TextItem(color=theme.MUTED, anchor=(0.5, 0.5))
        self.saliency_note.setParentItem(self.saliency_plot.vb)

        self.weights_plot = self.graphics.addPlot(row=1, col=0)
        theme.style_plot(self.weights_plot, "modality attention per step")
        self.weights_plot.setLabel("bottom", "seconds before now", color=theme.MUTED)
        self.weights_plot.setYRange(0, 1.02, padding=0)
        self.weights_plot.setMouseEnabled(x=False, y=False)
        self.weights_legend = self.weights_plot.addLegend(offset=(6, 4), labelTextColor=theme.TEXT)
        self.weight_curves: dict[str, pg.PlotDataItem] = {}
        self.weights_note = pg.TextItem(color=theme.MUTED, anchor=(0.5, 0.5))
        self.weights_note.setParentItem(self.weights_plot.vb)
        self.set_seconds(seconds)

    def set_seconds(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.weights_plot.setXRange(-self.seconds, 0, padding=0.01)

    def _note(self, item: pg.TextItem, plot: pg.PlotItem, text: str) -> None:
        item.setText(text)
        rect = plot.vb.boundingRect()
        item.setPos(rect.center())

    def _update_available(self, available: dict[str, bool]) -> None:
        for modality, ok in available.items():
            label = self.badges.get(modality)
            if label is None:
                label = QtWidgets.QLabel()
                self.badges[modality] = label
                self.available_row.insertWidget(self.available_row.count() - 1, label)
            label.setText(f"{modality} {'✔' if ok else '✘ missing'}")
            bg = theme.GOOD if ok else theme.BAD
            theme.set_style(label, f"background:{bg}; color:#111; border-radius:4px; padding:1px 6px; "
                                   "font-weight:bold;")

    def update_from(self, history: Sequence[Prediction], now: float, window_seconds: float | None = None) -> None:
        latest = history[-1] if history else None
        if latest is None:
            self._note(self.saliency_note, self.saliency_plot, "waiting for predictions")
            self._note(self.weights_note, self.weights_plot, "")
            return
        self._update_available(latest.available)

        if latest.saliency is not None and np.size(latest.saliency):
            sal = np.asarray(latest.saliency, dtype=float).ravel()
            step = (window_seconds or len(sal)) / len(sal)
            x = (np.arange(len(sal)) + 0.5) * step
            self.saliency.setOpts(x=x, height=sal, width=step * (0.85 if len(sal) <= 32 else 1.0))
            self.uniform.setPos(1.0 / len(sal))  # attention spread evenly over the window
            self.uniform.setVisible(True)
            self.saliency_plot.setXRange(0, step * len(sal), padding=0)
            top = max(float(np.nanmax(sal)), 1.0 / len(sal), 1e-6) * 1.15
            self.saliency_plot.setYRange(0, top, padding=0)
            self._note(self.saliency_note, self.saliency_plot, "")
        else:
            self.saliency.setOpts(x=[], height=[])
            self.uniform.setVisible(False)
            self._note(self.saliency_note, self.saliency_plot, f"{latest.model_id} gives no saliency")

        shown = recent(history, now - self.seconds)
        x = np.asarray([p.time for p in shown]) - now
        modalities = sorted({m for p in shown for m in p.modality_weights})
        for m in modalities:
            curve = self.weight_curves.get(m)
            if curve is None:
                pen = pg.mkPen(theme.modality_colour(m), width=2)
                curve = pg.PlotDataItem(pen=pen, connect="finite", antialias=True)
                self.weights_plot.addItem(curve)
                self.weights_legend.addItem(curve, m)
                self.weight_curves[m] = curve
        for m, curve in self.weight_curves.items():
            curve.setData(x, np.asarray([p.modality_weights.get(m, np.nan) for p in shown], dtype=float))
        if latest.modality_weights:
            self._note(self.weights_note, self.weights_plot, "")
        else:
            self._note(self.weights_note, self.weights_plot, f"{latest.model_id} gives no modality attention")
