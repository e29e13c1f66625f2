"""The control bar: start/stop recording, a calibration session, insert a marker, load a checkpoint, the time span."""

from __future__ import annotations

from PyQt6 import QtCore, QtWidgets

from dashboard import theme


class ControlsBar(QtWidgets.QWidget):
    """Widgets only: it emits what the user asked for; the window decides what to do with it."""

    record_toggled = QtCore.pyqtSignal(bool)
    calibrate_clicked = QtCore.pyqtSignal()
    marker_requested = QtCore.pyqtSignal(str)
    load_requested = QtCore.pyqtSignal(str)
    seconds_changed = QtCore.pyqtSignal(float)

    def __init__(self, seconds: float = 30.0, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.record = QtWidgets.QPushButton("● Record")
        self.record.setCheckable(True)
        self.record.toggled.connect(self._on_record)
        layout.addWidget(self.record)
        self.calibrate = QtWidgets.QPushButton("Calibrate…")
        self.calibrate.setToolTip("run a calibration session for a subject (baseline, stimuli, SAM ratings)")
        self.calibrate.clicked.connect(self.calibrate_clicked)
        layout.addWidget(self.calibrate)
        self.marker_text = QtWidgets.QLineEdit()
        self.marker_text.setPlaceholderText("marker text")
        self.marker_text.setMaximumWidth(220)
        self.marker_text.returnPressed.connect(self._on_marker)
        layout.addWidget(self.marker_text)
        self.marker = QtWidgets.QPushButton("Insert marker")
        self.marker.clicked.connect(self._on_marker)
        layout.addWidget(self.marker)
        self.load = QtWidgets.QPushButton("Load checkpoint…")
        self.load.clicked.connect(self._on_load)
        layout.addWidget(self.load)
        self.rollback = QtWidgets.QPushButton("Roll back")
        self.rollback.setEnabled(False)
        layout.addWidget(self.rollback)
        layout.addSpacing(12)
        layout.addWidget(QtWidgets.QLabel("show last"))
        self.seconds = QtWidgets.QSpinBox()
        self.seconds.setRange(5, 600)
        self.seconds.setSuffix(" s")
        self.seconds.setValue(int(seconds))
        self.seconds.valueChanged.connect(lambda v: self.seconds_changed.emit(float(v)))
        layout.addWidget(self.seconds)
        layout.addSpacing(12)
        self.message = QtWidgets.QLabel("")
        self.message.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message, 1)

    def _on_record(self, on: bool) -> None:
        self.record.setText("■ Stop recording" if on else "● Record")
        self.record_toggled.emit(on)

    def set_recording(self, on: bool) -> None:
        """Reflect the pipeline's recording state without emitting ``record_toggled``."""
        self.record.blockSignals(True)
        self.record.setChecked(on)
        self.record.setText("■ Stop recording" if on else "● Record")
        self.record.blockSignals(False)

    def set_calibrating(self, on: bool) -> None:
        """During a calibration session the button stops it, and Record is off (the session records)."""
        self.calibrate.setText("■ Stop calibration" if on else "Calibrate…")
        self.record.setEnabled(not on)

    def _on_marker(self) -> None:
        text = self.marker_text.text().strip() or "marker"
        self.marker_requested.emit(text)
        self.marker_text.clear()

    def _on_load(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Load checkpoint", "", "Checkpoint manifest (*.json);;All files (*)")
        if path:
            self.load_requested.emit(path)

    def say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(f"color: {theme.BAD if error else theme.TEXT};")
        self.message.setText(text)
        self.message.setToolTip(text)
