"""LFAN, the leader-follower attentive network (thesis chapter 6, MODELS.md section 2): M TCNs + co-attention fusion.

Per modality m a causal TCN gives X_m (B, T, D_m); linear Q, K, V maps (D_m -> d_k = 32) give
per-step tokens; at every step the M queries attend over the M keys (an M x M map per step),
and the result, plus V as a residual and LayerNorm (as the public code does; ``residual``),
is the follower A (B, T, M * d_k). The output is Linear(concat(X_leader, A)) -> tanh per step.
Everything is per step after the causal TCNs, so the model stays causal. The attention each
modality receives (averaged over the M queries) is returned as ``modality_weights`` (B, T, M),
ordered as ``spec().inputs`` (leader first).

``follower_dropout`` is our addition, not part of the thesis's LFAN: modality dropout in the style
of Neverova et al.'s ModDrop. While training, each window's follower encodings are zeroed with
this probability, so the head cannot come to depend on a weak follower and the fusion degrades to
the leader rather than below it. Off (0) by default, which is the thesis's network; nothing is
dropped at inference.

Branch pretraining is also our design, not the thesis's procedure; it is motivated by the thesis's
sentence about learning the per-modality long-term dependencies first and combining them
afterwards. ``branch_regressors()`` gives, per modality, a unimodal regressor that shares that
branch's TCN, and ``start_from(regressors)`` sets the fusion head so that the LFAN's output
equals the leader's regressor exactly (follower columns zero). Trained that way (``offline``'s
``pretrain_epochs``, off by default), the fusion starts where the leader alone stands and moves
only where the followers help on validation data.

Registered as "lfan": face embedding (leader, TCN 256, 256, 128, 128) + EEG band power
(TCN 128, 128), 96 steps at 4 Hz; and "lfan-gaps", the same with a gap-aware face branch
(``models.gaps``, ``gap_dropout`` 0.5; our design), which keeps predicting when the face is lost.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import torch
import torch.nn as nn

from models.base import EmotionModel, register
from models.channels import DEAP_CHANNELS
from models.contracts import ModelSpec
from models.face_backbones import FER_EMBEDDING_DIM
from models.tcn import TCN, SequenceModel, step_outputs


class LeaderFollowerFusion(nn.Module):
    """Per-step co-attention across M modality encodings; returns (leader ++ follower, weights (B, T, M))."""

    def __init__(self, dims: list[int], d_k: int, residual: bool) -> None:
        super().__init__()
        self.q = nn.ModuleList(nn.Linear(d, d_k) for d in dims)
        self.k = nn.ModuleList(nn.Linear(d, d_k) for d in dims)
        self.v = nn.ModuleList(nn.Linear(d, d_k) for d in dims)
        self.norm = nn.LayerNorm(d_k) if residual else None
        self.scale = d_k**-0.5

    def forward(self, encodings: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        q = torch.stack([f(x) for f, x in zip(self.q, encodings, strict=True)], dim=2)  # (B, T, M, d_k)
        k = torch.stack([f(x) for f, x in zip(self.k, encodings, strict=True)], dim=2)
        v = torch.stack([f(x) for f, x in zip(self.v, encodings, strict=True)], dim=2)
        attn = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)  # (B, T, M, M)
        follower = attn @ v
        if self.norm is not None:
            follower = self.norm(follower + v)
        return torch.cat([encodings[0], follower.flatten(2)], dim=-1), attn.mean(dim=2)


class LFAN(SequenceModel):
    """M modalities -> M causal TCNs -> leader-follower fusion -> Linear -> tanh: {target: (B, T)}, modality_weights."""

    def __init__(
        self,
        branches: dict[str, dict[str, Any]],
        leader: str,
        eeg_channels: list[str] | None = None,
        steps: int = 96,
        step_rate: float = 4.0,
        kernel_size: int = 5,
        dropout: float = 0.1,
        d_k: int = 32,
        residual: bool = True,
        follower_dropout: float = 0.0,
        targets: list[str] | None = None,
        gap_dropout: float = 0.0,
    ) -> None:
        if not 0.0 <= follower_dropout < 1.0:
            raise ValueError(f"follower_dropout must be in [0, 1), got {follower_dropout}")
        if leader not in branches:
            raise ValueError(f"leader {leader!r} is not one of the branches {', '.join(branches)}")
        ordered = {leader: branches[leader], **{m: b for m, b in branches.items() if m != leader}}
        super().__init__(ordered, eeg_channels or list(DEAP_CHANNELS), steps, step_rate, targets)
        self.modalities = list(self.inputs)
        self.gaps = self.gap_inputs(gap_dropout)
        tcns = {m: TCN(self.in_dim(m), list(ordered[m]["channels"]), kernel_size, dropout) for m in self.modalities}
        self.tcns = nn.ModuleDict(tcns)
        dims = [tcns[m].out_dim for m in self.modalities]
        self.fusion = LeaderFollowerFusion(dims, d_k, residual)
        self.head = nn.Linear(dims[0] + d_k * len(dims), len(self.targets))
        self.follower_dropout = follower_dropout

    def _drop_followers(self, encodings: list[torch.Tensor]) -> list[torch.Tensor]:
        """Training only: zero every follower encoding of a window with probability ``follower_dropout``."""
        if not self.training or not self.follower_dropout:
            return encodings
        keep = [(torch.rand(x.shape[0], 1, 1, device=x.device) >= self.follower_dropout).to(x.dtype)
                for x in encodings[1:]]
        return [encodings[0], *(x * k for x, k in zip(encodings[1:], keep, strict=True))]

    def branch(self, modality: str, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """One modality's TCN features (B, T, D); a gap-aware input first gets its presence channel."""
        x = inputs[modality]
        features: torch.Tensor = self.tcns[modality](self.gaps[modality](x) if modality in self.gaps else x)
        return features

    def encode(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The leader's TCN features (B, T, D): what an EEG student matches when this LFAN is its teacher."""
        return self.branch(self.modalities[0], inputs)

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        encodings = self._drop_followers([self.branch(m, inputs) for m in self.modalities])
        fused, weights = self.fusion(encodings)
        out = step_outputs(torch.tanh(self.head(fused)), self.targets)
        out["modality_weights"] = weights
        return out

    def branch_regressors(self) -> dict[str, BranchRegressor]:
        """Per modality, a unimodal regressor on this model's own TCN (shared weights) with a fresh head."""
        return {m: BranchRegressor(self, m) for m in self.modalities}

    @torch.no_grad()
    def start_from(self, regressors: dict[str, BranchRegressor]) -> None:
        """Set the head so the output equals the leader regressor's (leader columns copied, follower columns 0)."""
        leader = regressors[self.modalities[0]]
        if leader.tcn is not self.tcns[self.modalities[0]]:
            raise ValueError("the leader regressor does not share this model's leader TCN")
        width = leader.head.in_features
        self.head.weight.zero_()
        self.head.weight[:, :width] = leader.head.weight.to(self.head.weight.device)
        self.head.bias.copy_(leader.head.bias)


class BranchRegressor(EmotionModel):
    """One LFAN branch alone: its TCN (shared with the LFAN) -> Linear -> tanh per step, to pretrain that branch."""

    def __init__(self, lfan: LFAN, modality: str) -> None:
        super().__init__()
        self.modality, self.targets, self._spec = modality, lfan.targets, lfan.spec()
        self.tcn = cast(TCN, lfan.tcns[modality])  # a ModuleDict gives Modules: this one is the branch's TCN
        self.gap = lfan.gaps[modality] if modality in lfan.gaps else nn.Identity()
        self.head = nn.Linear(self.tcn.out_dim, len(self.targets))

    def spec(self) -> ModelSpec:
        return replace(self._spec, inputs={self.modality: self._spec.inputs[self.modality]})

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return step_outputs(torch.tanh(self.head(self.tcn(self.gap(inputs[self.modality])))), self.targets)


register(
    "lfan",
    {
        "branches": {
            "face": {"features": "frames", "feature_dim": FER_EMBEDDING_DIM, "channels": [256, 256, 128, 128]},
            "eeg": {"features": "band_power", "channels": [128, 128]},
        },
        "leader": "face",
        "eeg_channels": list(DEAP_CHANNELS),
    },
    "LFAN: face (leader) + EEG band power TCNs with leader-follower attentive fusion, continuous valence",
)(LFAN)
register(
    "lfan-gaps",
    {
        "branches": {
            "face": {"features": "frames", "feature_dim": FER_EMBEDDING_DIM, "channels": [256, 256, 128, 128],
                     "gaps": True},
            "eeg": {"features": "band_power", "channels": [128, 128]},
        },
        "leader": "face",
        "eeg_channels": list(DEAP_CHANNELS),
        "gap_dropout": 0.5,
    },
    "LFAN whose face branch reads a lost face as missing (presence channel, trained with bursts of it): keeps "
    "predicting from EEG when the face is gone",
)(LFAN)
