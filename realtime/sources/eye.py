"""Eye trackers as a live source, like EEG: an LSL gaze stream, or a built-in demo that needs no hardware.

``--eye lsl[:name=...,type=...,source_id=...,host=...]`` reads the one gaze stream matching the
selection (type ``Gaze`` by default: Pupil Labs' and Tobii's LSL apps use it) through the same
inlet as EEG (clock correction, bounds, loss and recovery). ``EYE_LAYOUTS`` maps the channel
labels of known trackers onto what the eye features read (``EYE_CHANNELS``: gaze x / y, pupil
diameter of two channels, validity); ``eye_layout`` finds the layout of a stream from its labels.
The columns a tracker has come first in the eye stream, then every channel as sent, all recorded.

Pupil Labs Neon through Pupil Labs' lsl-relay (github.com/pupil-labs/lsl-relay, ``outlets.py`` and
``channels.py``) sends a gaze stream ``pupil_labs_Gaze`` (type Gaze, double64, no nominal rate:
irregular, about 66 Hz for Pupil Invisible and up to 200 Hz for Neon) of two channels, ``x`` and
``y``: the gaze of both eyes in scene-camera pixels (1600 x 1200 for Neon). It carries no pupil
diameter and no validity: the relay copies only x and y of each gaze datum, not its ``worn`` flag.
So the eye stream of such a tracker is ``gaze_x``, ``gaze_y`` and the channels as sent: it is recorded
and its gaze drawn, but a model reading eye features (SEED-V's 33 need the pupil and validity, and a
regular rate) is refused when the streams are checked, with a message naming what the tracker does
not send (``LslEyeSource.unusable_for``); nothing is invented in their place. An irregular gaze stream
is buffered for up to ``IRREGULAR_GAZE_RATE`` samples a second.
``--eye demo`` is synthetic: fixations, saccades on the main sequence,
blinks (validity 0, pupil 0) and a slowly varying pupil, at 120 Hz, written straight into the ring
buffer.
"""

from __future__ import annotations

import time

import numpy as np

from models.eye_features import EYE_CHANNELS
from realtime import clock
from realtime.errors import SourceError
from realtime.lsl_select import StreamInfo
from realtime.sources.base import EegSource
from realtime.sources.lsl_inlet import LslInletSource

DEMO_RATE = 120.0
DEMO_CHANNELS = EYE_CHANNELS
#: Samples per second an irregular gaze stream is bounded and buffered for (Neon's real-time gaze peaks at 200 Hz).
IRREGULAR_GAZE_RATE = 250.0
#: Known label sets -> (gaze x, gaze y, pupil 1, pupil 2, validity); validity may be a confidence in 0..1; "" where the
#: tracker sends no such channel. The first layout whose labels are all in a stream is its layout.
EYE_LAYOUTS: dict[str, tuple[str, str, str, str, str]] = {
    "emolive demo": DEMO_CHANNELS,
    # pupil_capture_lsl_relay's 22 channels; the 3d diameters are in mm (the 2d ones in image pixels)
    "Pupil Labs Core": ("norm_pos_x", "norm_pos_y", "diameter0_3d", "diameter1_3d", "confidence"),
    # relays that name channels after tobii_research's gaze_data keys; Tobii relays differ, add yours here
    "Tobii Pro": ("left_gaze_point_on_display_area_x", "left_gaze_point_on_display_area_y",
                  "left_pupil_diameter", "right_pupil_diameter", "left_gaze_point_validity"),
    # Pupil Labs' lsl-relay for Neon (and Invisible): gaze x, y in scene-camera pixels only (module docstring); last,
    # since its two labels are the most generic
    "Pupil Labs Neon (lsl-relay)": ("x", "y", "", "", ""),
}


def eye_layout(channels: tuple[str, ...]) -> tuple[str, tuple[int, ...]]:
    """(tracker name, indices of the ``EYE_CHANNELS`` it sends, in their order: gaze x, gaze y, pupil 1, pupil 2,
    validity) for a stream's labels; ValueError naming the labels when no known layout fits."""
    for name, labels in EYE_LAYOUTS.items():
        if all(label in channels for label in labels if label):
            return name, tuple(channels.index(label) for label in labels if label)
    raise ValueError(f"eye stream channels {', '.join(channels[:12])}{'...' if len(channels) > 12 else ''} fit no "
                     f"known tracker layout ({', '.join(EYE_LAYOUTS)})")


class DemoEyeSource(EegSource):
    """Synthetic gaze (degrees) and pupil (mm): fixations of 150-600 ms, saccades whose duration grows with their
    amplitude (2.2 ms per degree + 21 ms), a blink every 2-6 s, pupil drifting around 3.5 mm."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__("demo eye tracker (synthetic)")
        self._rng = np.random.default_rng(seed)
        self._rewind()

    def _rewind(self) -> None:
        """Back to the start of the synthetic recording: gaze centred, a saccade next, a blink in 3 s."""
        self._gaze: np.ndarray = np.zeros(2)
        self._saccade: tuple[np.ndarray, np.ndarray, int] = (self._gaze, self._gaze, 1)  # start, target, samples
        self._step = 0  # samples into the current saccade
        self._left = 0  # samples left of the current saccade and fixation
        self._t = 0.0
        self._blink_in = 3.0

    def _open(self) -> tuple[tuple[str, ...], float]:
        return DEMO_CHANNELS, DEMO_RATE

    def _plan(self, n: int) -> np.ndarray:
        """The next ``n`` samples of an endless synthetic recording."""
        rng, out = self._rng, np.empty((n, len(DEMO_CHANNELS)), np.float32)
        for i in range(n):
            if self._left <= 0:  # next event: a saccade to a new point, then a fixation
                target = rng.uniform(-10, 10, 2)
                amplitude = float(np.linalg.norm(target - self._gaze))
                self._saccade = (self._gaze.copy(), target, max(1, round((0.021 + 0.0022 * amplitude) * DEMO_RATE)))
                self._step, self._left = 0, self._saccade[2] + round(rng.uniform(0.15, 0.6) * DEMO_RATE)
            start, target, length = self._saccade
            if self._step < length:
                self._gaze = start + (target - start) * (self._step + 1) / length
            self._step += 1
            self._left -= 1
            self._t += 1 / DEMO_RATE
            self._blink_in -= 1 / DEMO_RATE
            blinking = -0.15 < self._blink_in <= 0
            if self._blink_in <= -0.15:
                self._blink_in = rng.uniform(2, 6)
            pupil = 3.5 + 0.3 * np.sin(2 * np.pi * 0.1 * self._t) + rng.normal(0, 0.02)
            noise = rng.normal(0, 0.03, 2)
            # during a blink the gaze holds and the pupil reads 0, with validity 0, as trackers report it
            out[i] = (*(self._gaze + noise), 0.0 if blinking else pupil, 0.0 if blinking else pupil - 0.1,
                      0.0 if blinking else 1.0)
        return out

    def _acquire(self) -> None:
        self._rewind()
        sent, t0 = 0, clock.now()
        while not self.stopping:
            due = int((clock.now() - t0) * DEMO_RATE)
            if due > sent:
                self._deliver(self._plan(due - sent), t0 + np.arange(sent, due) / DEMO_RATE)
                sent = due
            time.sleep(0.02)

    def _close(self) -> None:
        pass


class LslEyeSource(LslInletSource):
    """An LSL gaze stream whose known layout (``EYE_LAYOUTS``) is mapped onto the ``EYE_CHANNELS`` it has, written
    first, then every channel as sent; a stream of unknown layout is kept as sent (a model that needs the eye then
    names the channels it misses). Irregular streams are taken (``IRREGULAR_GAZE_RATE``)."""

    irregular_rate = IRREGULAR_GAZE_RATE

    def __init__(self, selection: dict[str, str]) -> None:
        super().__init__(selection)
        self.layout = ""
        self.lacks: tuple[str, ...] = ()  # EYE_CHANNELS the tracker of a known layout does not send
        self._columns: tuple[int, ...] = ()

    def _connect(self, info: StreamInfo) -> tuple[tuple[str, ...], float]:
        channels, rate = super()._connect(info)
        try:
            self.layout, self._columns = eye_layout(channels)
        except ValueError:
            return channels, rate
        sent = tuple(c for c, label in zip(EYE_CHANNELS, EYE_LAYOUTS[self.layout], strict=True) if label)
        self.lacks = tuple(c for c in EYE_CHANNELS if c not in sent)
        return (*sent, *channels), rate

    def unusable_for(self, channels: tuple[str, ...]) -> str:
        """Why this stream cannot give a model the eye channels ``channels`` (its tracker does not send some, or it
        has no regular rate, which eye-movement features need); empty when it can."""
        missing = [c for c in channels if c in self.lacks]
        if missing:
            return (f"the eye tracker ({self.layout}) sends no {', '.join(missing)}: its stream has "
                    f"{', '.join(c for c in EYE_CHANNELS if c not in self.lacks)} only, so eye features cannot be "
                    "computed (it is recorded and shown)")
        if channels and self.rate <= 0:
            return (f"the eye stream ({self.description}) declares no sampling rate (irregular); eye features need a "
                    "regular one (it is recorded and shown)")
        return ""

    def _deliver(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        if self._columns:
            data = np.concatenate([data[:, self._columns], data], axis=1)
        super()._deliver(data, timestamps)


def make_eye_source(spec: str) -> EegSource:
    """The eye source ``--eye`` names: ``demo`` or ``lsl[:selection]``; anything else is SourceError."""
    kind, _, rest = spec.partition(":")
    if spec == "demo":
        return DemoEyeSource()
    if kind == "lsl":
        from realtime.lsl_select import parse_selection, with_default_type

        return LslEyeSource(with_default_type(parse_selection(rest), "Gaze"))
    raise SourceError(f"unknown eye source {spec!r}; expected demo, lsl[:name=...,type=...,source_id=...,host=...] "
                      "or none")
