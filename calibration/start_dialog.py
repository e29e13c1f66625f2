"""The dashboard's "Calibrate…" dialog: subject id, protocol file, and whether camera frames are recorded."""

from __future__ import annotations

from PyQt6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from calibration.protocol import DEFAULT_CONFIG

#: Frames recorded with "record camera frames": (downscale factor, frames per second), as ``calibration run``.
FRAMES = (0.25, 5.0)


class CalibrationStartDialog(QDialog):
    """``values()`` -> (subject, protocol path, frames or None) once accepted; Start needs a subject id."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Calibration session")
        form = QFormLayout(self)
        self.subject = QLineEdit()
        self.subject.setPlaceholderText("e.g. S01")
        self.subject.textChanged.connect(self._update)
        form.addRow("Subject id", self.subject)
        self.protocol = QLineEdit(str(DEFAULT_CONFIG))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.protocol, 1)
        row.addWidget(browse)
        form.addRow("Protocol", row)
        self.frames = QCheckBox(f"record camera frames (x{FRAMES[0]:g} size, {FRAMES[1]:g} per second)")
        form.addRow("", self.frames)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        start = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert start is not None, "the box was made with an Ok button"
        start.setText("Start")
        self._start = start
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self._update()

    def _update(self, *_: object) -> None:
        self._start.setEnabled(bool(self.subject.text().strip()))

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Calibration protocol", self.protocol.text(),
                                              "Protocol (*.toml);;All files (*)")
        if path:
            self.protocol.setText(path)

    def values(self) -> tuple[str, str, tuple[float, float] | None]:
        return self.subject.text().strip(), self.protocol.text().strip(), FRAMES if self.frames.isChecked() else None
