"""LSL outlets of the app: predictions (valence, arousal, availability per modality), class probabilities and
text markers.

Predictions go out as float32 samples at an irregular rate, time-stamped with the end of the
window they were computed on (``Prediction.time``, LSL clock); availability is 1.0 / 0.0.

``<app>-classes`` (type EmotionClasses) carries a classifier's class probabilities, one float32 channel
per class labelled ``<target>:<class>`` (``emotion:happy``; binary targets ``valence:low``,
``valence:high``), with the same time stamps as the predictions. Its description holds each channel's
target and class (``channels/channel/{label,target,class,unit}``) and the class names per target
(``classes/target/{name,class...}``). Its layout is that of one model, so across hot-swaps:
- the outlet follows the layout of the predictions: when a prediction brings other class labels (a
  swap to a model with other classes), the outlet is closed and re-created with the new layout under
  the same name and a new source id, ``<name>-<session>-<digest of the labels>``. liblsl finds a lost
  stream again by a query on its name, type, channel count, format and source id, so a recording
  inlet (LabRecorder's) never reconnects to a layout it was not opened on; a swap back to a layout of
  this session brings back its source id, and the inlet resumes. A recording started before the
  change holds the old layout up to the swap; the new one is a new stream (the session file records
  every layout, ``realtime.session_layout``);
- a prediction without classes (a regression model swapped in, or a window the model could not run on)
  is a sample of NaN in the current layout;
- the outlet exists from the start when the starting model's spec gives its class names
  (``spec_class_labels``), else from the first prediction with classes; a session whose models never
  have classes has no classes outlet.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

import numpy as np
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


class ClassesOutlet:
    """``<app>-classes``: one channel per class probability; re-created when the class layout changes (module doc)."""

    def __init__(self, app_name: str) -> None:
        self.name = f"{app_name}-classes"
        self._session = uuid.uuid4().hex[:8]
        self.labels: tuple[str, ...] = ()
        self.source_id = ""
        self._outlet: pylsl.StreamOutlet | None = None

    def use(self, labels: Sequence[str]) -> None:
        """Publish ``labels`` from now on (``<target>:<class>`` each): a new outlet when they differ from the
        current ones; none given changes nothing. Called from one thread at a time (the inference thread)."""
        labels = tuple(labels)
        if not labels or labels == self.labels:
            return
        digest = hashlib.sha256("\n".join(labels).encode()).hexdigest()[:8]
        source_id = f"{self.name}-{self._session}-{digest}"
        info = pylsl.StreamInfo(self.name, "EmotionClasses", len(labels), pylsl.IRREGULAR_RATE, pylsl.cf_float32,
                                source_id)
        channels = info.desc().append_child("channels")
        by_target: dict[str, list[str]] = {}
        for label in labels:
            target, _, name = label.partition(":")
            by_target.setdefault(target, []).append(name)
            channel = channels.append_child("channel")
            for key, value in (("label", label), ("target", target), ("class", name), ("unit", "probability")):
                channel.append_child_value(key, value)
        classes = info.desc().append_child("classes")
        for target, names in by_target.items():
            element = classes.append_child("target")
            element.append_child_value("name", target)
            for name in names:
                element.append_child_value("class", name)
        info.desc().append_child_value("scale", "class probabilities in 0..1, summing to 1 per target; NaN when "
                                                "the model running has no classes or could not run")
        self._outlet = None  # the old layout's stream goes before the new one appears
        self._outlet = pylsl.StreamOutlet(info)
        self.labels, self.source_id = labels, source_id

    def push(self, p: Prediction) -> None:
        """The prediction's class probabilities (the outlet follows its layout), or NaN when it has none."""
        labels = p.class_labels()
        self.use(labels)
        if self._outlet is None:
            return
        values = p.class_values() if labels else np.full(len(self.labels), np.nan)
        self._outlet.push_sample(values.tolist(), p.time)


class MarkerOutlet:
    """``<app>-markers``: one string channel, each marker time-stamped on the LSL clock."""

    def __init__(self, app_name: str) -> None:
        self.name = f"{app_name}-markers"
        info = pylsl.StreamInfo(self.name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                                f"{self.name}-{uuid.uuid4().hex[:8]}")
        self._outlet = pylsl.StreamOutlet(info)

    def push(self, text: str, time: float) -> None:
        self._outlet.push_sample([text], time)
