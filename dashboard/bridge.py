"""Hand-off of predictions from the inference thread to the Qt thread, without ever blocking the producer.

The pipeline calls ``on_prediction`` from its inference thread; it emits a Qt signal that Qt
delivers as a queued event into the GUI thread, where the prediction lands in a bounded deque
the redraw timer reads. If the GUI thread stalls, at most ``max_in_flight`` events wait in Qt's
queue; further predictions are counted as dropped for display (the pipeline and its recorder
never see the GUI).
"""

from __future__ import annotations

import threading
from collections import deque

from PyQt6 import QtCore

from realtime.prediction import Prediction


class PredictionBridge(QtCore.QObject):
    """Queued signal from the inference thread into ``history`` (a bounded deque owned by the GUI thread)."""

    arrived = QtCore.pyqtSignal(object)

    def __init__(self, history_len: int = 4096, max_in_flight: int = 256, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.history: deque[Prediction] = deque(maxlen=history_len)
        self.received = 0  # predictions that reached the GUI thread
        self.dropped = 0  # predictions not shown because the GUI thread was behind
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._lock = threading.Lock()
        # PyQt6's stubs leave out connect's connection type
        self.arrived.connect(self._store, QtCore.Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]

    def on_prediction(self, prediction: Prediction) -> None:
        """Called from the inference thread: queue the prediction for the GUI thread and return at once."""
        with self._lock:
            if self._in_flight >= self._max_in_flight:
                self.dropped += 1
                return
            self._in_flight += 1
        self.arrived.emit(prediction)

    def _store(self, prediction: Prediction) -> None:
        with self._lock:
            self._in_flight -= 1
        self.history.append(prediction)
        self.received += 1

    @property
    def latest(self) -> Prediction | None:
        return self.history[-1] if self.history else None
