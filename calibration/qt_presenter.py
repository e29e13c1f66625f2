"""The subject's window: fixation cross, eyes-closed notice, images, videos (through OpenCV) and recall prompts.

It only shows; the session's Qt driver (``calibration.qt_session``) waits with timers, so videos
play and the dashboard stays live while a block runs.
"""

from __future__ import annotations

import cv2
import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QFont, QImage, QPixmap
from PyQt6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from calibration.protocol import Block


def _pixmap(bgr: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    h, w, _ = rgb.shape
    # PyQt6 reads any buffer here; its stubs name only bytes (a copy). The copy() detaches from rgb's memory.
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)  # type: ignore[call-overload]
    return QPixmap.fromImage(image.copy())


class QtPresenter(QWidget):
    """A dark window with one central label that shows the current block."""

    def __init__(self, full_screen: bool = False) -> None:
        self.app = QApplication.instance() or QApplication([])
        super().__init__()
        self.setWindowTitle("Calibration")
        self.setStyleSheet("background: #202124; color: #e8eaed;")
        self.label = QLabel()
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.label.setFont(QFont("Sans", 22))
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        self.resize(1024, 720)
        self._video: cv2.VideoCapture | None = None
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._next_frame)
        self.frames_shown = 0
        self.showFullScreen() if full_screen else self.show()

    def present(self, block: Block, index: int = 1, total: int = 1) -> None:
        """Put ``block`` on screen (the first video frame included) before returning."""
        self.setWindowTitle(f"Calibration {index}/{total}")
        self._stop_video()
        self.label.clear()
        if block.media == "fixation":
            self.label.setText("+")
        elif block.media == "eyes-closed":
            self.label.setText("Close your eyes and rest.")
        elif block.media == "prompt":
            self.label.setText(block.stimulus)
        elif block.media == "image":
            image = cv2.imread(block.stimulus)
            if image is None:  # the protocol checked it when loaded: it has gone or changed since
                raise FileNotFoundError(f"stimulus image {block.stimulus} cannot be read")
            self._set_image(image)
        elif block.media == "video":
            self._video = cv2.VideoCapture(block.stimulus)
            fps = self._video.get(cv2.CAP_PROP_FPS) or 25.0
            self._next_frame()
            self._timer.start(max(1, round(1000 / fps)))
        self.app.processEvents()

    def _set_image(self, bgr: np.ndarray) -> None:
        pixmap = _pixmap(bgr).scaled(self.label.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
        self.label.setPixmap(pixmap)
        self.frames_shown += 1

    def _next_frame(self) -> None:
        if self._video is None:
            return
        ok, frame = self._video.read()
        if ok:
            self._set_image(frame)
        else:
            self._timer.stop()  # the last frame stays up until the block ends

    def _stop_video(self) -> None:
        self._timer.stop()
        if self._video is not None:
            self._video.release()
            self._video = None

    # -- the presenter interface of calibration.session -----------------------------------
    def clear(self) -> None:
        self._stop_video()
        self.label.clear()
        self.app.processEvents()

    def show_rest(self, seconds: float) -> None:
        self.label.setText("Rest")

    def close(self) -> bool:
        self._stop_video()
        return super().close()
