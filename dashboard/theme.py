"""Colours and pens shared by the dashboard panels, so every panel reads the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyqtgraph as pg
from PyQt6 import QtGui, QtWidgets

from models.live import CALIBRATED, PRIOR, TRAINED, UNTRAINED

BACKGROUND = "#15181d"
PANEL = "#1d2128"
TEXT = "#d8dde6"
MUTED = "#8a93a3"
GRID_ALPHA = 0.25

VALENCE = "#ffb547"
AROUSAL = "#4fc3f7"
FACE_ONLY = "#c792ea"
GOOD = "#66bb6a"
WARN = "#ffca28"
BAD = "#ef5350"

MODALITY_COLOURS = {"eeg": "#4fc3f7", "face": "#c792ea", "expression": "#ffb547", "eye": "#81c784"}


@dataclass(frozen=True)
class StateBadge:
    """How a model state (``models.live``) is shown: text, background and text colours, style sheet name."""

    text: str
    background: str
    foreground: str
    name: str
    on_plots: bool  # also labelled on the plots of its output (the traces, the valence-arousal plane)


STATE_BADGES = {
    TRAINED: StateBadge("trained", GOOD, "#10210f", "trained", False),
    UNTRAINED: StateBadge("UNTRAINED", BAD, "white", "untrained", True),
    # a fixed map never scored on rated data: amber, neither the green of "trained" nor the red alarm
    PRIOR: StateBadge("uncalibrated prior", WARN, "#2b2100", "prior", True),
    CALIBRATED: StateBadge("calibrated", GOOD, "#10210f", "calibrated", False),
}


def state_badge(state: str) -> StateBadge:
    """The badge of a model state; an unknown state is shown as it is, amber."""
    return STATE_BADGES.get(state, StateBadge(state, WARN, "#2b2100", "prior", True))


def show_state_on_plot(item: pg.TextItem, state: str | None) -> None:
    """A plot's badge: visible for the states labelled on plots (UNTRAINED, uncalibrated prior), else hidden."""
    badge = state_badge(state) if state is not None else None
    if badge is None or not badge.on_plots:
        item.setVisible(False)
        return
    if item.textItem.toPlainText() != badge.text:  # restyle on change only
        item.fill = pg.mkBrush(badge.background)
        item.setText(badge.text, color=badge.foreground)
    item.setVisible(True)


def setup_pyqtgraph() -> None:
    """Global pyqtgraph look: dark background; no antialiasing by default (it nearly doubles the painting time,
    mostly on fills and dense EEG traces); the few thin curves that show it best ask for it themselves."""
    pg.setConfigOptions(background=BACKGROUND, foreground=TEXT, antialias=False)


def colour(name: str, alpha: int = 255) -> QtGui.QColor:
    c = QtGui.QColor(name)
    c.setAlpha(alpha)
    return c


def set_style(widget: QtWidgets.QWidget, style: str) -> None:
    """Set ``style`` only when it differs: setting a style sheet re-polishes the widget, even an unchanged one."""
    if widget.styleSheet() != style:
        widget.setStyleSheet(style)


def modality_colour(modality: str) -> str:
    return MODALITY_COLOURS.get(modality, MUTED)


def style_plot(plot: pg.PlotItem, title: str | None = None, grid: bool = True) -> None:
    """Grid, muted axes and a small bold title for one plot.

    Plots redrawn every frame pass ``grid=False`` and use ``grid_lines``: pyqtgraph draws a grid as
    part of the axis, whose picture (with all its text) is then repainted whenever any curve changes.
    """
    if grid:
        plot.showGrid(x=True, y=True, alpha=GRID_ALPHA)
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        # cached as a pixmap: a neighbouring curve's repaint blits it instead of redrawing all its text
        axis.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        axis.setPen(pg.mkPen(MUTED))
        axis.setTextPen(pg.mkPen(MUTED))
    if title:
        plot.setTitle(title, color=TEXT, size="10pt", bold=True)
    plot.setMenuEnabled(False)
    plot.hideButtons()


STYLE_SHEET = f"""
QMainWindow, QWidget {{ background: {BACKGROUND}; color: {TEXT}; font-size: 10pt; }}
QGroupBox {{ border: 1px solid #2c323c; border-radius: 6px; margin-top: 14px; padding: 4px; background: {PANEL}; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; color: {MUTED}; font-weight: bold; }}
QPushButton {{ background: #2a303a; border: 1px solid #3a4250; border-radius: 4px; padding: 4px 10px; }}
QPushButton:hover {{ background: #343c48; }}
QPushButton:checked {{ background: {BAD}; color: white; }}
QLineEdit, QSpinBox {{ background: #11141a; border: 1px solid #3a4250; border-radius: 4px; padding: 2px 4px; }}
QLabel#untrained {{ background: {BAD}; color: white; font-weight: bold; border-radius: 4px; padding: 2px 8px; }}
QLabel#trained {{ background: {GOOD}; color: #10210f; font-weight: bold; border-radius: 4px; padding: 2px 8px; }}
QLabel#calibrated {{ background: {GOOD}; color: #10210f; font-weight: bold; border-radius: 4px; padding: 2px 8px; }}
QLabel#prior {{ background: {WARN}; color: #2b2100; font-weight: bold; border-radius: 4px; padding: 2px 8px; }}
QStatusBar {{ color: {MUTED}; }}
"""


def grid_lines(plot: pg.PlotItem, xs: Sequence[float] = (), ys: Sequence[float] = ()) -> list[pg.InfiniteLine]:
    """Faint fixed grid lines as separate items, so a changing curve does not repaint the axes."""
    pen = pg.mkPen(colour(MUTED, int(255 * GRID_ALPHA)), width=1)
    lines = [pg.InfiniteLine(pos=x, angle=90, pen=pen) for x in xs]
    lines += [pg.InfiniteLine(pos=y, angle=0, pen=pen) for y in ys]
    for line in lines:
        plot.addItem(line, ignoreBounds=True)
    return lines
