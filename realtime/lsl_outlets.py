"""LSL outlets of the app: predictions (valence, arousal, availability per modality) and text markers.

Predictions go out as float32 samples at an irregular rate, time-stamped with the end of the
window they were computed on (``Prediction.time``, LSL clock); availability is 1.0 / 0.0.
"""

from __future__ import annotations

import uuid

import pylsl

from realtime.prediction import Prediction


class PredictionOutlet:
    """``<app>-predictions``: channels valence, arousal, available_<modality>..."""

    def __init__(self, app_name: str, modalities: tuple[str, ...]) -> None:
        self.name = f"{app_name}-predictions"
        self.modalities = modalities
        self.labels = ["valence", "arousal", *(f"available_{m}" for m in modalities)]
        info = pylsl.StreamInfo(self.name, "Emotion", len(self.labels), pylsl.IRREGULAR_RATE, pylsl.cf_float32,
                                f"{self.name}-{uuid.uuid4().hex[:8]}")
        info.set_channel_labels(self.labels)
        info.desc().append_child_value("scale", "valence and arousal in -1..1, NaN when not predicted")
        self._outlet = pylsl.StreamOutlet(info)

    def push(self, p: Prediction) -> None:
        sample = [p.valence, p.arousal, *(1.0 if p.available.get(m, False) else 0.0 for m in self.modalities)]
        self._outlet.push_sample(sample, p.time)


class MarkerOutlet:
    """``<app>-markers``: one string channel, each marker time-stamped on the LSL clock."""

    def __init__(self, app_name: str) -> None:
        self.name = f"{app_name}-markers"
        info = pylsl.StreamInfo(self.name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                                f"{self.name}-{uuid.uuid4().hex[:8]}")
        self._outlet = pylsl.StreamOutlet(info)

    def push(self, text: str, time: float) -> None:
        self._outlet.push_sample([text], time)
