"""The LSTM baseline of Soleymani et al. (2016) for continuous valence, made to regress at every step.

Two stacked unidirectional LSTM layers of different widths (EEG 64/32, face 19/10, feature-level
fusion 83/42 units), then Linear -> tanh per step; unidirectional, so causal like the TCNs.
Fusion concatenates the modalities' features at each step (in branch order).

Registered as "lstm-eeg" (band power), "lstm-face" (face embedding) and "lstm-fusion" (both).
For MAHNOB's dataset features pass e.g. ``branches={"eeg": {"features": "precomputed",
"feature_dim": 128}, "face": {"features": "precomputed", "feature_dim": 38}}``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from models.channels import DEAP_CHANNELS
from models.face_backbones import FER_EMBEDDING_DIM
from models.registry import register
from models.tcn import SequenceModel, step_outputs


class LSTMBaseline(SequenceModel):
    """Concatenated per-step features -> LSTM(hidden[0]) -> LSTM(hidden[1]) -> Linear -> tanh: {target: (B, T)}."""

    def __init__(
        self,
        branches: dict[str, dict[str, Any]],
        hidden: list[int],
        eeg_channels: list[str] | None = None,
        steps: int = 96,
        step_rate: float = 4.0,
        dropout: float = 0.0,
        targets: list[str] | None = None,
    ) -> None:
        super().__init__(branches, eeg_channels or list(DEAP_CHANNELS), steps, step_rate, targets)
        self.modalities = list(self.inputs)
        in_dim = sum(spec.feature_dim for spec in self.inputs.values())
        self.lstm1 = nn.LSTM(in_dim, hidden[0], batch_first=True)
        self.lstm2 = nn.LSTM(hidden[0], hidden[1], batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden[1], len(self.targets))

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = torch.cat([inputs[m] for m in self.modalities], dim=-1)
        h = self.dropout(self.lstm1(x)[0])
        h = self.dropout(self.lstm2(h)[0])
        return step_outputs(torch.tanh(self.head(h)), self.targets)


_EEG = {"features": "band_power"}
_FACE = {"features": "frames", "feature_dim": FER_EMBEDDING_DIM}
_CH = list(DEAP_CHANNELS)
register("lstm-eeg", {"branches": {"eeg": _EEG}, "hidden": [64, 32], "eeg_channels": _CH},
         "LSTM baseline (Soleymani et al. 2016) on EEG band power, per-step valence")(LSTMBaseline)
register("lstm-face", {"branches": {"face": _FACE}, "hidden": [19, 10]},
         "LSTM baseline (Soleymani et al. 2016) on face embeddings, per-step valence")(LSTMBaseline)
register("lstm-fusion", {"branches": {"eeg": _EEG, "face": _FACE}, "hidden": [83, 42], "eeg_channels": _CH},
         "LSTM baseline (Soleymani et al. 2016), feature-level fusion of EEG and face, per-step valence")(LSTMBaseline)
