"""The small data contracts shared by the live pipeline, offline training and calibration."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Modality names used everywhere (ring buffers, windows, manifests).
EEG = "eeg"
FACE = "face"  # per-frame face embeddings from the chosen backbone
EXPRESSION = "expression"  # per-frame facial-expression class probabilities (FER, 7 classes)
EYE = "eye"  # eye-tracker samples as the tracker sends them (gaze, pupil, validity; models.eye_features reads them)


@dataclass(frozen=True)
class ModalityWindow:
    """One modality's samples over a window: data (n_samples, n_channels), LSL-clock timestamps."""

    data: np.ndarray
    timestamps: np.ndarray
    rate: float
    channels: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"window data must be 2-D (samples, channels), got shape {self.data.shape}")
        if len(self.timestamps) != self.data.shape[0]:
            raise ValueError(
                f"{len(self.timestamps)} timestamps for {self.data.shape[0]} samples"
            )
        if self.channels and len(self.channels) != self.data.shape[1]:
            raise ValueError(
                f"{len(self.channels)} channel names for {self.data.shape[1]} channels"
            )

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])


# A window of every modality available at one instant, keyed by modality name.
Window = dict[str, ModalityWindow]


@dataclass
class ModelOutput:
    """What a live model returns for one window (before the pipeline stamps time and id).

    valence / arousal are on the -1..1 scale (NaN when the model does not predict that
    dimension); probabilities are per task ("valence", "arousal") over the model's classes;
    saliency is SATA's attention over the window's time steps; modality_weights holds
    per-modality attention (LFAN) or availability weights.
    """

    valence: float
    arousal: float
    probabilities: dict[str, np.ndarray] = field(default_factory=dict)
    saliency: np.ndarray | None = None
    modality_weights: dict[str, float] = field(default_factory=dict)
    confidence: float | None = None
