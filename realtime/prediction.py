"""The Prediction published by the inference worker to every sink (LSL, recorder, dashboard)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.live import state_or_trained


@dataclass
class Prediction:
    """One output of the inference worker.

    time: end of the window on the LSL clock; published: LSL clock when it was published
    (published - newest sample time is the freshness latency). valence / arousal in -1..1
    (NaN when the model does not predict it). available: per-modality flag (present and
    fresh). face_valence / face_arousal: the face-only prior for comparison (NaN without a face).
    problems: why something is missing, keyed by modality or "model" (e.g. "stale: newest sample
    2.1 s old", "not run: eeg unavailable"); empty when everything was used. trained: the model's
    weights were fitted to labelled data; model_state: trained, untrained, uncalibrated prior or
    calibrated (``models.live``; empty from producers that set none: then ``trained`` alone decides).
    """

    time: float
    published: float
    valence: float
    arousal: float
    model_id: str
    trained: bool
    available: dict[str, bool]
    newest_sample: dict[str, float] = field(default_factory=dict)
    probabilities: dict[str, np.ndarray] = field(default_factory=dict)
    saliency: np.ndarray | None = None
    modality_weights: dict[str, float] = field(default_factory=dict)
    confidence: float | None = None
    face_valence: float = float("nan")
    face_arousal: float = float("nan")
    band_power: np.ndarray | None = None  # (n_channels, n_bands) of the EEG window, for display
    problems: dict[str, str] = field(default_factory=dict)
    model_state: str = ""

    @property
    def state(self) -> str:
        """The model's state, falling back on ``trained`` when none was set."""
        return state_or_trained(self.model_state, self.trained)
