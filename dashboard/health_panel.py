"""Health of the live system: per stream rate and losses, prediction rate, freshness, device, model, recording."""

from __future__ import annotations

import html
import math

from PyQt6 import QtCore, QtWidgets

from dashboard import theme
from realtime.status import PipelineStatus, StreamStatus

COLUMNS = ("stream", "rate (Hz)", "samples", "gaps", "NaN")


def _rate(s: StreamStatus) -> str:
    if not math.isfinite(s.rate):
        return "–"
    return f"{s.rate:.1f} / {s.nominal_rate:g}" if s.nominal_rate > 0 else f"{s.rate:.1f}"


def _ms(x: float) -> str:
    return f"{1000 * x:.0f}" if math.isfinite(x) else "–"


class HealthPanel(QtWidgets.QWidget):
    """A table of streams and a grid of figures; losses, stale streams and problems are shown in red."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        top = QtWidgets.QHBoxLayout()
        self.model_label = QtWidgets.QLabel("model: –")
        self.model_label.setWordWrap(True)
        self.trained_badge = QtWidgets.QLabel("")
        top.addWidget(self.model_label, 1)
        top.addWidget(self.trained_badge, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        rows, header = self.table.verticalHeader(), self.table.horizontalHeader()
        assert rows is not None and header is not None  # a QTableWidget has both
        rows.setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.table.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self._header = header
        self.table.setStyleSheet(f"QTableWidget {{ background: #11141a; gridline-color: #2c323c; }}"
                                 f"QHeaderView::section {{ background: #232831; color: {theme.MUTED}; border: none;"
                                 f" padding: 2px 4px; }}")
        layout.addWidget(self.table)
        grid = QtWidgets.QGridLayout()
        grid.setVerticalSpacing(3)
        self.values: dict[str, QtWidgets.QLabel] = {}
        for i, key in enumerate(("predictions", "freshness", "device", "camera", "dashboard", "recording")):
            name = QtWidgets.QLabel(key)
            name.setStyleSheet(f"color: {theme.MUTED};")
            value = QtWidgets.QLabel("–")
            value.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            grid.addWidget(name, i, 0, QtCore.Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, i, 1)
            self.values[key] = value
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        layout.addStretch(1)

    def _cell(self, row: int, col: int, text: str, bad: bool = False, tip: str = "") -> None:
        item = self.table.item(row, col)
        if item is None:
            item = QtWidgets.QTableWidgetItem()
            self.table.setItem(row, col, item)
        item.setText(text)
        item.setToolTip(tip)
        item.setForeground(theme.colour(theme.BAD if bad else theme.TEXT))

    def _value(self, key: str, text: str, bad: bool = False) -> None:
        label = self.values[key]
        label.setText(text)
        theme.set_style(label, f"color: {theme.BAD if bad else theme.TEXT};{' font-weight: bold;' if bad else ''}")

    def update_health(self, s: PipelineStatus, device: str, gui_fps: float, gui_dropped: int) -> None:
        problem = s.model_problem or s.problems.get("model", "")
        text = f"model: <b>{html.escape(s.model_id)}</b>"
        if problem:
            text += f"<br><span style='color:{theme.BAD}'>{html.escape(problem)}</span>"
        if s.swap:
            text += f"<br><span style='color:{theme.MUTED}'>hot-swap: {html.escape(s.swap)}</span>"
        self.model_label.setText(text)
        badge = theme.state_badge(s.state)  # trained, UNTRAINED, uncalibrated prior or calibrated
        self.trained_badge.setText(badge.text)
        if self.trained_badge.objectName() != badge.name:  # re-polish on change only
            self.trained_badge.setObjectName(badge.name)
            style = self.trained_badge.style()
            assert style is not None  # a shown widget has one
            style.unpolish(self.trained_badge)
            style.polish(self.trained_badge)

        self.table.setRowCount(len(s.streams))
        for row, st in enumerate(s.streams.values()):
            slow = st.nominal_rate > 0 and math.isfinite(st.rate) and st.rate < 0.9 * st.nominal_rate
            name = st.modality if st.connected else f"{st.modality} LOST"
            self._cell(row, 0, name, not st.connected or bool(st.problem), f"{st.description}\n{st.problem}".strip())
            self._cell(row, 1, _rate(st), slow or not st.connected)
            self._cell(row, 2, f"{st.samples_in:,}")
            self._cell(row, 3, f"{st.gaps} ({st.gap_seconds:.1f} s)" if st.gaps else "0", st.gaps > 0)
            self._cell(row, 4, f"{st.nan_samples:,}", st.nan_samples > 0)
        rows = self.table.rowCount()
        height = self._header.height() + sum(self.table.rowHeight(i) for i in range(rows)) + 4
        self.table.setFixedHeight(height)

        self._value("predictions", f"{s.predictions:,} · {s.prediction_rate:.2f} /s" if math.isfinite(
            s.prediction_rate) else f"{s.predictions:,}")
        fresh = ", ".join(f"{m} {_ms(p50)} / {_ms(p95)} ms" for m, (p50, p95, _) in s.freshness.items())
        self._value("freshness", f"{fresh} (p50 / p95)" if fresh else "–")
        self._value("device", device or "–")
        if s.camera_problem:
            self._value("camera", s.camera_problem, bad=True)
        else:
            self._value("camera", f"face {s.face_fps:.1f} frames/s" if math.isfinite(s.face_fps) else "none")
        self._value("dashboard", f"{gui_fps:.0f} frames/s · {gui_dropped} predictions not drawn", gui_dropped > 0)
        r = s.recorder
        if r is None:
            self._value("recording", "off")
        else:
            written = sum(r.samples_written.values())
            text = f"● {r.path}\n{written:,} samples, {r.predictions_written:,} predictions"
            lost = r.samples_lost or r.overruns or r.error
            if lost:
                text += f"\nLOST {r.samples_lost} samples, {r.overruns} overruns {r.error}".rstrip()
            self._value("recording", text, bad=bool(lost))
