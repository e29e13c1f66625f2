"""The LSTM baseline of Soleymani et al. (2016) for continuous valence, made to regress at every step.

The network follows ``networkSeq`` in the public reference code (github.com/soheilrayatdoost/
ContinuousEmotionDetection, ``ContinousEmotionDetection.py``), per step:

    LSTM(hidden[0]) -> Dropout(0.4) -> LSTM(hidden[1]) -> Dropout(0.4)
    -> Linear(dense = 32), no activation -> Dropout(0.4) -> Linear(n_targets), no activation

with widths EEG 64/32, face 19/10 and feature-level fusion 83/42; the Dense layer has 32 units
in all three (the function's ``denseSize1`` argument is unused there). The output is linear (no
tanh), as in the reference, so it is not bounded to -1..1. Unidirectional, so causal like the
TCNs. Fusion concatenates the modalities' features at each step (in branch order). The reference
trains with MSE and Nadam (lr 0.002, Keras 2's default), batch 20, keeping the epoch of lowest
validation MSE; ``offline.config.paper_defaults`` uses those settings for the "lstm" family.

Differences from the reference code that remain:

- Windows of 96 steps (24 s at 4 Hz, hop 8 s), whose per-step outputs are put back in place over
  the trial (``offline.aggregation``), instead of whole trials zero-padded to the longest one and
  masked (Keras ``Masking`` + temporal sample weights).
- Features are z-scored with statistics of the training windows (global, over all training
  subjects) unless offline's ``--set normalise=subject`` is used (per-subject standardisation
  first, transductive); the reference applies sklearn's ``preprocessing.scale`` to each
  participant's concatenated trials, test participants included.
- Leave-one-subject-out instead of a random 60/30/10 split of trials.
- Early stopping and checkpoint selection on validation CCC (our training loop's score) instead of
  validation MSE (the loss itself is MSE in both).
- The target is the valence trace in -1..1, not twice the trace as in the reference's data.
- PyTorch's default initialisation, not Keras's (Glorot-uniform kernels, orthogonal recurrent
  weights, forget-gate bias 1).
- The README's command trains for 15 epochs with batch 16 (the reference: 100 epochs in its 2025
  TF2 revision, 25 in the 2019 upload; batch 20).

The reference repository's README (as of its 2025 revision) says that code is an implementation of
the paper's method, not the code that produced the paper's results.

Registered as "lstm-eeg" (band power), "lstm-face" (face embedding) and "lstm-fusion" (both).
For MAHNOB's dataset features pass e.g. ``branches={"eeg": {"features": "precomputed",
"feature_dim": 128}, "face": {"features": "precomputed", "feature_dim": 38}}``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from models.base import register
from models.channels import DEAP_CHANNELS
from models.face_backbones import FER_EMBEDDING_DIM
from models.tcn import SequenceModel, step_outputs

#: The reference's dropout rate, after each LSTM and after the Dense(32) layer.
REFERENCE_DROPOUT = 0.4


class LSTMBaseline(SequenceModel):
    """Per-step features -> LSTM -> drop -> LSTM -> drop -> Linear(dense) -> drop -> Linear: {target: (B, T)}.

    No activation after either linear layer, as in the reference; ``dropout`` is applied at the
    reference's three places (its rate is 0.4 there).
    """

    def __init__(
        self,
        branches: dict[str, dict[str, Any]],
        hidden: list[int],
        eeg_channels: list[str] | None = None,
        steps: int = 96,
        step_rate: float = 4.0,
        dropout: float = REFERENCE_DROPOUT,
        targets: list[str] | None = None,
        dense: int = 32,
    ) -> None:
        super().__init__(branches, eeg_channels or list(DEAP_CHANNELS), steps, step_rate, targets)
        self.modalities = list(self.inputs)
        in_dim = sum(spec.feature_dim for spec in self.inputs.values())
        self.lstm1 = nn.LSTM(in_dim, hidden[0], batch_first=True)
        self.lstm2 = nn.LSTM(hidden[0], hidden[1], batch_first=True)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden[1], dense)
        self.dropout3 = nn.Dropout(dropout)
        self.head = nn.Linear(dense, len(self.targets))

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = torch.cat([inputs[m] for m in self.modalities], dim=-1)
        h = self.dropout1(self.lstm1(x)[0])
        h = self.dropout2(self.lstm2(h)[0])
        h = self.dropout3(self.dense(h))
        return step_outputs(self.head(h), self.targets)


_EEG = {"features": "band_power"}
_FACE = {"features": "frames", "feature_dim": FER_EMBEDDING_DIM}
_CH = list(DEAP_CHANNELS)
register("lstm-eeg", {"branches": {"eeg": _EEG}, "hidden": [64, 32], "eeg_channels": _CH},
         "LSTM baseline (Soleymani et al. 2016) on EEG band power, per-step valence")(LSTMBaseline)
register("lstm-face", {"branches": {"face": _FACE}, "hidden": [19, 10]},
         "LSTM baseline (Soleymani et al. 2016) on face embeddings, per-step valence")(LSTMBaseline)
register("lstm-fusion", {"branches": {"eeg": _EEG, "face": _FACE}, "hidden": [83, 42], "eeg_channels": _CH},
         "LSTM baseline (Soleymani et al. 2016), feature-level fusion of EEG and face, per-step valence")(LSTMBaseline)
