"""The camera's current frame with the face box, the expression label and its probability, or a clear state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from dashboard import theme

if TYPE_CHECKING:
    from realtime.camera import Camera
    from realtime.face_worker import FaceWorker

#: A face-worker snapshot older than this (s) means the camera has stopped delivering.
CAMERA_STALE_SECONDS = 2.0


def bgr_to_qimage(frame: np.ndarray) -> QtGui.QImage:
    """Copy an (h, w, 3) uint8 BGR frame into an RGB QImage."""
    rgb = np.ascontiguousarray(frame[:, :, ::-1])
    h, w, _ = rgb.shape
    rgb888 = QtGui.QImage.Format.Format_RGB888
    view: QtGui.QImage = QtGui.QImage(rgb.data, w, h, 3 * w, rgb888)  # type: ignore[call-overload]  # any buffer
    return view.copy()


class CameraPanel(QtWidgets.QLabel):
    """Draws the newest frame scaled to fit; the state line says 'no face' or 'camera gone' when so."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(200, 150)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        self.state = ""
        self._image: QtGui.QImage | None = None
        self._frame_index = -1
        self._note = ""
        self.show_state("waiting for the camera")

    def update_from(self, camera: Camera | None, face_worker: FaceWorker | None, camera_problem: str,
                    now: float) -> None:
        """Show the face worker's newest snapshot, or why there is none (no camera, camera gone, stalled).

        The camera's own newest frame tells whether it still delivers; the snapshot shown is the newest
        one analysed (its box belongs to it), marked when the analysis lags the camera by over a second.
        """
        if camera is None or face_worker is None:
            self._state_once(f"no camera{': ' + camera_problem if camera_problem else ''}")
            return
        if camera.error and camera.state != "running":
            self._state_once(f"camera gone: {camera.error}")
            return
        newest = camera.frames.peek()
        if newest is None:
            self._state_once("waiting for the camera")
            return
        if now - newest.timestamp > CAMERA_STALE_SECONDS:
            self._state_once(f"camera gone: no frame for {now - newest.timestamp:.0f} s")
            return
        snap = face_worker.latest
        if snap is None:
            self._state_once("analysing the first frame…")
            return
        lag = round(newest.timestamp - snap.time)
        note = f"face analysis {lag} s behind the camera" if lag >= 1 else ""
        if (snap.frame_index, note) != (self._frame_index, self._note) or self._image is None:
            self._frame_index, self._note = snap.frame_index, note
            self.show_frame(snap.thumbnail, snap.box, snap.label, snap.probability, note)

    def _state_once(self, text: str) -> None:
        if text != self.state:
            self.show_state(text)

    def show_state(self, text: str) -> None:
        """No frame to show: a dark box with the reason in the middle."""
        self.state = text
        self._image = None
        theme.set_style(self, f"background:#0d0f12; color:{theme.WARN}; font-size:14pt; border-radius:6px;")
        self.setPixmap(QtGui.QPixmap())
        self.setText(text)

    def show_frame(self, frame: np.ndarray, box: tuple[float, float, float, float] | None, label: str | None,
                   probability: float | None, note: str = "") -> None:
        """Frame (BGR), face box (x1, y1, x2, y2) in the frame's pixels or None, expression label and probability."""
        image = bgr_to_qimage(frame)
        painter = QtGui.QPainter(image)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        scale = max(image.width(), image.height()) / 320.0
        font = painter.font()
        font.setPixelSize(max(10, int(14 * scale)))
        font.setBold(True)
        painter.setFont(font)
        if box is not None:
            x1, y1, x2, y2 = box
            painter.setPen(QtGui.QPen(theme.colour(theme.GOOD), max(2.0, 2.5 * scale)))
            painter.drawRect(QtCore.QRectF(x1, y1, x2 - x1, y2 - y1))
            if label:
                text = f"{label} {probability:.0%}" if probability is not None else label
                metrics = QtGui.QFontMetrics(font)
                w, h = metrics.horizontalAdvance(text) + 8, metrics.height() + 2
                top = y1 - h if y1 - h >= 0 else y2
                painter.fillRect(QtCore.QRectF(x1, top, w, h), theme.colour(theme.GOOD, 220))
                painter.setPen(QtGui.QColor("#10210f"))
                painter.drawText(QtCore.QRectF(x1 + 4, top, w, h), QtCore.Qt.AlignmentFlag.AlignVCenter, text)
            self.state = "face"
        else:
            self.state = "no face"
        banner = " · ".join(t for t in ("" if box is not None else "no face found", note) if t)
        if banner:
            metrics = QtGui.QFontMetrics(font)
            h = metrics.height() + 6
            painter.fillRect(QtCore.QRectF(0, image.height() - h, image.width(), h), theme.colour("#000000", 160))
            painter.setPen(theme.colour(theme.WARN))
            painter.drawText(QtCore.QRectF(0, image.height() - h, image.width(), h),
                             QtCore.Qt.AlignmentFlag.AlignCenter, banner)
        painter.end()
        self._image = image
        self.setText("")
        theme.set_style(self, "background:#0d0f12; border-radius:6px;")
        self._rescale()

    def _rescale(self) -> None:
        if self._image is not None:
            pix = QtGui.QPixmap.fromImage(self._image).scaled(
                self.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                QtCore.Qt.TransformationMode.SmoothTransformation)
            self.setPixmap(pix)

    def resizeEvent(self, event: QtGui.QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self._rescale()
