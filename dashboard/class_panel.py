"""A classifier's output: bars of the current class probabilities, and each class's place on the valence-arousal plane.

The places are ``models.classes.circumplex_point``: the angles of Russell's circumplex of affect (1980)
for emotion words (happy, sad, fear, disgust...; neutral at the centre) and the poles of the axes for a
binary valence or arousal target's "low" and "high" (the module documents the mapping and its source).
Each placed class is a dot sized by its probability, the most probable class of each target ringed in
white; a class without a place (e.g. "class3") has its bar only. The panel says when there are no class
probabilities (a regression model, or why the model did not run), and carries the model's state badge
(UNTRAINED, uncalibrated prior) as the traces do. The window hides it while the model running has no
classification target.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from dashboard import theme
from models.classes import circumplex_point
from realtime.prediction import Prediction

#: Bar and dot colour of each target's classes (other targets: ``OTHER_TARGET``).
TARGET_COLOURS = {"valence": theme.VALENCE, "arousal": theme.AROUSAL}
OTHER_TARGET = theme.GOOD
#: Dot diameter in pixels of a class at probability 0 and the growth up to probability 1.
DOT_SIZE, DOT_GROWTH = 6.0, 26.0


class ClassPanel(pg.GraphicsLayoutWidget):  # type: ignore[misc]  # pyqtgraph is not annotated
    """Class probabilities as bars (left), the classes on the valence-arousal plane (right)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.bars_plot = self.addPlot(row=0, col=0)
        theme.style_plot(self.bars_plot, grid=False)
        theme.grid_lines(self.bars_plot, ys=[0.25, 0.5, 0.75])
        self.bars_plot.setYRange(0, 1, padding=0.02)
        self.bars_plot.setMouseEnabled(x=False, y=False)
        self.bars_plot.setLabel("left", "probability", color=theme.MUTED)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, pen=None)
        self.bars_plot.addItem(self.bars)
        self.plane = self.addPlot(row=0, col=1)
        theme.style_plot(self.plane, grid=False)
        self.plane.setXRange(-1, 1, padding=0.08)
        self.plane.setYRange(-1, 1, padding=0.08)
        self.plane.setAspectLocked(True)
        self.plane.setMouseEnabled(x=False, y=False)
        self.plane.setLabel("bottom", "valence", color=theme.VALENCE)
        self.plane.setLabel("left", "arousal", color=theme.AROUSAL)
        axis_pen = pg.mkPen(theme.MUTED, width=1)
        self.plane.addLine(x=0, pen=axis_pen)
        self.plane.addLine(y=0, pen=axis_pen)
        circle = QtWidgets.QGraphicsEllipseItem(-1, -1, 2, 2)
        circle.setPen(pg.mkPen(theme.MUTED, width=1, style=QtCore.Qt.PenStyle.DotLine))
        self.plane.addItem(circle)
        self.dots = pg.ScatterPlotItem(antialias=True)
        self.plane.addItem(self.dots)
        self.names: list[pg.TextItem] = []  # one per placed class, made when the layout changes
        self.ci.layout.setColumnStretchFactor(0, 3)
        self.ci.layout.setColumnStretchFactor(1, 2)
        self.note = pg.TextItem(anchor=(0.5, 0.5), color=theme.MUTED)
        self.note.setParentItem(self.bars_plot.vb)
        self.badge = pg.TextItem(anchor=(1, 0), color="w", fill=pg.mkBrush(theme.BAD))
        self.badge.setParentItem(self.bars_plot.vb)
        self.badge.setVisible(False)
        self.bars_plot.vb.sigResized.connect(self._place_labels)
        self.labels: tuple[str, ...] = ()  # "<target>:<class>" of the bars shown
        self.values = np.zeros(0)  # their probabilities
        self.placed: dict[str, tuple[float, float]] = {}  # label -> its point on the plane

    def _place_labels(self) -> None:
        rect = self.bars_plot.vb.boundingRect()
        self.note.setPos(rect.center())
        self.badge.setPos(rect.right() - 4, rect.top() + 2)

    def _set_layout(self, labels: tuple[str, ...]) -> None:
        """Bar names and class names on the plane for a new class layout."""
        self.labels = labels
        split = [label.partition(":") for label in labels]
        several = len({target for target, _, _ in split}) > 1  # then the names say their target
        shown = [label if several else name for label, (_, _, name) in zip(labels, split, strict=True)]
        self.bars_plot.getAxis("bottom").setTicks([list(enumerate(shown))])
        self.placed = {}
        for item in self.names:
            self.plane.removeItem(item)
        self.names = []
        for label, text_shown, (target, _, name) in zip(labels, shown, split, strict=True):
            point = circumplex_point(target, name)
            if point is None:
                continue
            self.placed[label] = point
            text = pg.TextItem(text_shown, color=theme.TEXT, anchor=(0.5, 1.3))
            text.setPos(*point)
            self.plane.addItem(text)
            self.names.append(text)
        self.bars_plot.setXRange(-0.6, max(len(labels), 1) - 0.4, padding=0)

    def update_from(self, latest: Prediction | None) -> None:
        """Show the class probabilities of ``latest`` (the newest prediction), or why there are none."""
        labels = latest.class_labels() if latest is not None else ()
        if labels and labels != self.labels:
            self._set_layout(labels)
        if latest is None or not labels:
            self.values = np.zeros(0)
            self.bars.setOpts(x=[], height=[])
            self.dots.setData([], [])
            problem = latest.problems.get("model", "") if latest is not None else ""
            self.note.setText("waiting for predictions" if latest is None else problem
                              or f"no classes: {latest.model_id} predicts no class probabilities")
        else:
            self._draw(labels, latest.class_values())
            self.note.setText("")
        theme.show_state_on_plot(self.badge, latest.state if latest is not None else None)
        self._place_labels()

    def _draw(self, labels: tuple[str, ...], values: np.ndarray) -> None:
        self.values = values
        targets = [label.partition(":")[0] for label in labels]
        colours = [TARGET_COLOURS.get(t, OTHER_TARGET) for t in targets]
        self.bars.setOpts(x=np.arange(len(values)), height=values, brushes=[pg.mkBrush(c) for c in colours])
        top = {t: max((v, label) for v, label, tt in zip(values, labels, targets, strict=True) if tt == t)[1]
               for t in set(targets)}
        spots = [{"pos": self.placed[label], "size": DOT_SIZE + DOT_GROWTH * float(v),
                  "brush": pg.mkBrush(theme.colour(colour, 200)),
                  "pen": pg.mkPen("w", width=2) if label in top.values() else pg.mkPen(None)}
                 for label, v, colour in zip(labels, values, colours, strict=True) if label in self.placed]
        self.dots.setData(spots)
