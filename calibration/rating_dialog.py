"""The SAM self-report as a small Qt dialog: nine choices for valence, nine for arousal, OK once both are set.

The Qt session driver (``calibration.qt_session``) opens it without blocking and takes ``rating()``
when it is accepted.
"""

from __future__ import annotations

import time

from PyQt6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from calibration.ratings import SAM_MAX, SAM_MIN, Rating, RatingError

SCALES = {
    "valence": ("very unpleasant", "very pleasant"),
    "arousal": ("very calm", "very excited"),
}


class SamDialog(QDialog):
    """Modal dialog; ``values()`` gives (valence, arousal) once the subject pressed OK."""

    def __init__(self, block_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.block_name, self._t0 = block_name, time.monotonic()
        self.setWindowTitle(f"How did you feel? ({block_name})")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("How did you feel during this part? Choose one number on each scale."))
        grid = QGridLayout()
        self.groups: dict[str, QButtonGroup] = {}
        for row, (scale, (low, high)) in enumerate(SCALES.items()):
            grid.addWidget(QLabel(f"<b>{scale}</b>"), 2 * row, 0)
            grid.addWidget(QLabel(low), 2 * row + 1, 1)
            grid.addWidget(QLabel(high), 2 * row + 1, SAM_MAX)
            group = QButtonGroup(self)
            for value in range(SAM_MIN, SAM_MAX + 1):
                button = QRadioButton(str(value))
                group.addButton(button, value)
                grid.addWidget(button, 2 * row, value)
            group.idClicked.connect(self._update)
            self.groups[scale] = group
        layout.addLayout(grid)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None, "the box was made with an Ok button"
        self._ok = ok
        self.buttons.accepted.connect(self.accept)
        layout.addWidget(self.buttons)
        self._update()

    def _update(self, *_: object) -> None:
        chosen = all(g.checkedId() >= SAM_MIN for g in self.groups.values())
        self._ok.setEnabled(chosen)

    def choose(self, scale: str, value: int) -> None:
        """Select ``value`` on ``scale`` as a click would."""
        button = self.groups[scale].button(value)
        if button is None:
            raise ValueError(f"{scale} has no value {value} (the scale runs {SAM_MIN} to {SAM_MAX})")
        button.click()

    def values(self) -> tuple[int, int] | None:
        v, a = (self.groups[s].checkedId() for s in SCALES)
        return (v, a) if v >= SAM_MIN and a >= SAM_MIN else None

    def rating(self) -> Rating:
        """The answer, timed from the dialog's creation; RatingError before both scales are set."""
        values = self.values()
        if values is None:
            raise RatingError(f"no rating for {self.block_name}: both scales must be chosen")
        return Rating(*values, time.monotonic() - self._t0)

    def reject(self) -> None:
        """Closing without answering is not allowed: the session needs a rating for every stimulus."""
