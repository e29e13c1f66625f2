"""Causal temporal convolutional network (thesis, MODELS.md section 2) and the unimodal TCN regressors.

Each residual block holds two weight-normalised dilated causal convolutions (left padding of
(k-1)*dilation, the equivalent of padding both ends and chomping the right, so step t sees
inputs up to t only), ReLU and dropout, plus a 1x1 convolution on the residual when widths
differ; dilation doubles per block.
The regressor maps the TCN output at every step to valence (and arousal) in -1..1 (tanh).

Registered: "tcn-eeg" (EEG band power, channels 128, 128) and "tcn-face" (face embedding,
channels 256, 256, 128, 128); 96 steps at 4 Hz (MAHNOB's window). ``branches`` chooses the
input features, e.g. ``{"eeg": {"features": "precomputed", "feature_dim": 128}}`` for MAHNOB's
dataset features.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.base import EmotionModel, register
from models.channels import DEAP_CHANNELS
from models.contracts import InputSpec, ModelSpec
from models.face_backbones import FER_EMBEDDING_DIM
from models.gaps import GapInput
from models.transforms import sequence_inputs

#: Below this many input values per sample PyTorch's CPU convolution avoids oneDNN (see CausalConv.forward).
_SMALL_INPUT = 20480
FALLBACK = "needs every input modality: a missing, stale or too short window raises MissingModality (no prediction)"
GAP_FALLBACK = ("{gaps}: missing steps (or a missing stream) are marked missing and read by the model, trained with "
                "bursts of them; every other modality is needed (a missing one raises MissingModality)")


class CausalConv(nn.Module):
    """Weight-normalised dilated Conv1d that sees only the past: (k-1)*dilation zeros padded on the left.

    Left padding equals the usual "pad both ends, chomp the right end" without computing and
    discarding (k-1)*dilation outputs. Weight normalisation (w = g v / ||v|| per output channel)
    is written out so that, when no gradient is needed, w is computed once and reused until
    g or v change (their version counters move on every in-place update, e.g. optimiser steps).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int) -> None:
        super().__init__()
        conv = nn.Conv1d(c_in, c_out, kernel, dilation=dilation)
        self.left, self.dilation = (kernel - 1) * dilation, dilation
        self.weight_v = nn.Parameter(conv.weight.detach().clone())
        self.weight_g = nn.Parameter(self.weight_v.detach().norm(dim=(1, 2), keepdim=True))
        assert conv.bias is not None  # Conv1d has a bias by default
        self.bias = nn.Parameter(conv.bias.detach().clone())
        self._cached: tuple[tuple[int, ...], torch.Tensor] | None = None

    def weight(self) -> torch.Tensor:
        if torch.is_grad_enabled():
            weight: torch.Tensor = self.weight_g * self.weight_v / self.weight_v.norm(dim=(1, 2), keepdim=True)
            return weight
        key = (self.weight_v._version, self.weight_g._version, self.weight_v.data_ptr(), self.weight_g.data_ptr())
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self.weight_g * self.weight_v / self.weight_v.norm(dim=(1, 2), keepdim=True))
        return self._cached[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.left, 0))
        weight = self.weight()
        if self.dilation == 1 or x.is_cuda or x[0].numel() > _SMALL_INPUT:
            return F.conv1d(x, weight, self.bias, dilation=self.dilation)
        # Small dilated inputs: PyTorch's CPU backend takes a slow generic kernel; im2col + one GEMM is ~2x faster.
        steps = x.shape[-1] - self.left
        cols = torch.cat([x[..., i * self.dilation: i * self.dilation + steps] for i in range(weight.shape[-1])], 1)
        flat = weight.permute(0, 2, 1).reshape(weight.shape[0], -1)  # (c_out, k * c_in), tap-major like cols
        return torch.baddbmm(self.bias[:, None], flat.expand(x.shape[0], -1, -1), cols)


class TemporalBlock(nn.Module):
    """Two causal convolutions with ReLU and dropout, added to the (1x1-projected) input."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            CausalConv(c_in, c_out, kernel, dilation), nn.ReLU(inplace=True), nn.Dropout(dropout),
            CausalConv(c_out, c_out, kernel, dilation), nn.ReLU(inplace=True), nn.Dropout(dropout),
        )
        self.residual = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.net(x) + self.residual(x))


class TCN(nn.Module):
    """(B, T, D) -> (B, T, channels[-1]); block i has dilation 2**i. Output at t depends on inputs <= t."""

    def __init__(self, in_dim: int, channels: list[int], kernel: int = 5, dropout: float = 0.1) -> None:
        super().__init__()
        widths = [in_dim, *channels]
        self.blocks = nn.Sequential(
            *(TemporalBlock(widths[i], widths[i + 1], kernel, 2**i, dropout) for i in range(len(channels)))
        )
        self.out_dim = channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.blocks(x.transpose(1, 2))
        return y.transpose(1, 2)


def step_outputs(y: torch.Tensor, targets: list[str]) -> dict[str, torch.Tensor]:
    """(B, T, n_targets) -> {target: (B, T)}."""
    return {t: y[..., i] for i, t in enumerate(targets)}


class SequenceModel(EmotionModel):
    """Common part of the per-step regressors: inputs from ``branches``, continuous targets, the spec."""

    def __init__(self, branches: dict[str, dict[str, Any]], eeg_channels: list[str], steps: int, step_rate: float,
                 targets: list[str] | None) -> None:
        super().__init__()
        self.targets = list(targets or ["valence"])
        self.inputs: dict[str, InputSpec] = sequence_inputs(branches, steps, step_rate, eeg_channels)

    def gap_inputs(self, dropout: float) -> nn.ModuleDict:
        """A ``GapInput`` per gap-aware modality (``"gaps": true`` in its branch)."""
        return nn.ModuleDict({m: GapInput(dropout) for m, i in self.inputs.items() if i.params.get("gaps")})

    def in_dim(self, modality: str) -> int:
        """The width a branch's network reads: the features, plus the presence channel of a gap-aware input."""
        return self.inputs[modality].feature_dim + int(bool(self.inputs[modality].params.get("gaps")))

    def spec(self) -> ModelSpec:
        gaps = [m for m, i in self.inputs.items() if i.params.get("gaps")]
        return ModelSpec(self.architecture, self.config, {t: "continuous" for t in self.targets}, self.inputs,
                         GAP_FALLBACK.format(gaps=", ".join(gaps)) if gaps else FALLBACK)


class TCNRegressor(SequenceModel):
    """One modality -> TCN -> Linear -> tanh at every step: {target: (B, T)} in -1..1."""

    def __init__(
        self,
        branches: dict[str, dict[str, Any]],
        channels: list[int],
        eeg_channels: list[str] | None = None,
        steps: int = 96,
        step_rate: float = 4.0,
        kernel_size: int = 5,
        dropout: float = 0.1,
        targets: list[str] | None = None,
        gap_dropout: float = 0.0,
    ) -> None:
        super().__init__(branches, eeg_channels or list(DEAP_CHANNELS), steps, step_rate, targets)
        if len(self.inputs) != 1:
            raise ValueError(f"a TCN regressor reads one modality, got {', '.join(self.inputs)}")
        self.modality = next(iter(self.inputs))
        self.gaps = self.gap_inputs(gap_dropout)
        self.tcn = TCN(self.in_dim(self.modality), list(channels), kernel_size, dropout)
        self.head = nn.Linear(self.tcn.out_dim, len(self.targets))

    def encode(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The TCN's per-step features (B, T, channels[-1]): what cross-modal distillation matches."""
        x = inputs[self.modality]
        features: torch.Tensor = self.tcn(self.gaps[self.modality](x) if self.modality in self.gaps else x)
        return features

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return step_outputs(torch.tanh(self.head(self.encode(inputs))), self.targets)


register(
    "tcn-eeg",
    {"branches": {"eeg": {"features": "band_power"}}, "channels": [128, 128], "eeg_channels": list(DEAP_CHANNELS)},
    "causal TCN on EEG band power (thesis), continuous valence per 4 Hz step",
)(TCNRegressor)
register(
    "tcn-face",
    {"branches": {"face": {"features": "frames", "feature_dim": FER_EMBEDDING_DIM}}, "channels": [256, 256, 128, 128]},
    "causal TCN on face embeddings (thesis), continuous valence per 4 Hz step",
)(TCNRegressor)
