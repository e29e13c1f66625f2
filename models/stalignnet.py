"""ST-AlignNet (EEG + face, binary valence/arousal): HCNN encoder, face projection, BSA, SATA, classifier heads.

Built from the paper (MODELS.md section 1), not its public code: tokens are time steps, the
EEG encoder is hierarchical (spatial filters, then dilated temporal convolutions) with
learnable positional embeddings, BSA has ``bsa_layers`` stacked layers, SATA's [CLS]
attention over the time steps is returned as the window's saliency, and every weight matrix
is Xavier-initialised. Ablation switches: ``use_bsa=False`` fuses by concatenation and a
linear map, ``use_sata=False`` mean-pools over time (then no saliency is returned).

Registered as "stalignnet" (joint: a valence head and an arousal head), "stalignnet-valence"
and "stalignnet-arousal". Default live input: 1 s of EEG at 128 Hz (T = 128 steps: with a
4-45 Hz band the grid needs > 90 Hz, and 128 samples is one second of DEAP) and the FER
embedding (128-d) held onto 32 steps of that second.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from models.base import EmotionModel, register
from models.channels import DEAP_CHANNELS
from models.contracts import EEG, FACE, InputSpec, ModelSpec
from models.face_backbones import FER_EMBEDDING_DIM
from models.transforms import eeg_raw_input, frames_input

FALLBACK = (
    "needs EEG and face: without a face stream the model is refused when streams are checked; a window whose "
    "face frames are stale or too sparse raises MissingModality and no prediction is made for it"
)


class HCNN(nn.Module):
    """EEG encoder: spatial filters over electrodes, then a hierarchy of dilated temporal convolutions, + positions.

    (B, T, C) -> (B, T, d): one token per time step.
    """

    def __init__(self, n_channels: int, n_steps: int, d_model: int, kernel: int, levels: int) -> None:
        super().__init__()
        self.spatial = nn.Sequential(nn.Conv1d(n_channels, d_model, 1), nn.BatchNorm1d(d_model), nn.GELU())
        self.temporal = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(d_model, d_model, kernel, padding=2**i * (kernel - 1) // 2, dilation=2**i, groups=d_model),
                nn.Conv1d(d_model, d_model, 1),
                nn.BatchNorm1d(d_model),
                nn.GELU(),
            )
            for i in range(levels)
        )
        self.position = nn.Parameter(torch.zeros(1, n_steps, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.spatial(x.transpose(1, 2))
        for level in self.temporal:
            h = h + level(h)
        encoded: torch.Tensor = h.transpose(1, 2) + self.position
        return encoded


class FaceProjection(nn.Module):
    """Per-frame features (B, T_face, D) -> Conv1d(D -> d, k3) + BatchNorm + ReLU -> adaptive pooling -> (B, T, d)."""

    def __init__(self, face_dim: int, d_model: int, n_steps: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(face_dim, d_model, 3, padding=1), nn.BatchNorm1d(d_model), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool1d(n_steps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled: torch.Tensor = self.pool(self.conv(x.transpose(1, 2)))
        return pooled.transpose(1, 2)


class BSALayer(nn.Module):
    """Bidirectional Semantic Alignment: each modality attends to the other, residual + LayerNorm, in parallel."""

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.eeg_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.face_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.eeg_norm = nn.LayerNorm(d_model)
        self.face_norm = nn.LayerNorm(d_model)

    def forward(self, eeg: torch.Tensor, face: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        eeg2 = self.eeg_attn(eeg, face, face, need_weights=False)[0]
        face2 = self.face_attn(face, eeg, eeg, need_weights=False)[0]
        return self.eeg_norm(eeg + eeg2), self.face_norm(face + face2)


class SATA(nn.Module):
    """Saliency-Aware Temporal Aggregation: a learnable [CLS] token attends over [CLS; Z].

    Only the [CLS] row of the self-attention is used downstream, so only that query is
    computed (identical result, T + 1 times less work). Returns (pooled (B, d), saliency (B, T)):
    the head-averaged attention of [CLS] on the T steps, renormalised to sum to 1.
    """

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cls = self.cls.expand(z.shape[0], -1, -1)
        tokens = torch.cat([cls, z], dim=1)
        out, weights = self.attn(cls, tokens, tokens, need_weights=True, average_attn_weights=True)
        saliency = weights[:, 0, 1:]
        return out[:, 0], saliency / saliency.sum(dim=-1, keepdim=True)


class STAlignNet(EmotionModel):
    """EEG (B, T, C) + face (B, T_face, D) -> logits per target (B, n_classes) and SATA saliency (B, T)."""

    def __init__(
        self,
        eeg_channels: list[str],
        face_dim: int = FER_EMBEDDING_DIM,
        window_seconds: float = 1.0,
        eeg_rate: float = 128.0,
        face_rate: float = 32.0,
        targets: list[str] | None = None,
        n_classes: int = 2,
        d_model: int = 128,
        heads: int = 4,
        bsa_layers: int = 3,
        fusion_lambda: float = 0.5,
        use_bsa: bool = True,
        use_sata: bool = True,
        temporal_kernel: int = 7,
        temporal_levels: int = 2,
        hidden: int = 64,
        dropout: float = 0.5,
        attn_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.targets = list(targets or ["valence", "arousal"])
        self.inputs: dict[str, InputSpec] = {
            EEG: eeg_raw_input(eeg_channels, window_seconds, eeg_rate),
            FACE: frames_input(FACE, face_dim, round(window_seconds * face_rate), face_rate),
        }
        n_steps = round(window_seconds * eeg_rate)
        self.fusion_lambda = fusion_lambda
        self.eeg_encoder = HCNN(len(eeg_channels), n_steps, d_model, temporal_kernel, temporal_levels)
        self.face_encoder = FaceProjection(face_dim, d_model, n_steps)
        self.bsa = nn.ModuleList(BSALayer(d_model, heads, attn_dropout) for _ in range(bsa_layers)) if use_bsa else None
        self.concat = None if use_bsa else nn.Linear(2 * d_model, d_model)
        self.sata = SATA(d_model, heads, attn_dropout) if use_sata else None
        self.heads = nn.ModuleDict({
            t: nn.Sequential(nn.Linear(d_model, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))
            for t in self.targets
        })
        self._init_weights()

    def _init_weights(self) -> None:
        for name, p in self.named_parameters():
            if name.endswith("position") or name.endswith("cls"):
                nn.init.normal_(p, std=0.02)
            elif p.dim() > 1:
                nn.init.xavier_uniform_(p)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def spec(self) -> ModelSpec:
        return ModelSpec(self.architecture, self.config, {t: "binary" for t in self.targets}, self.inputs, FALLBACK)

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        eeg = self.eeg_encoder(inputs[EEG])
        face = self.face_encoder(inputs[FACE])
        if self.bsa is not None:
            for layer in self.bsa:
                eeg, face = layer(eeg, face)
            z = self.fusion_lambda * eeg + (1.0 - self.fusion_lambda) * face
        else:
            assert self.concat is not None  # set whenever BSA is off
            z = self.concat(torch.cat([eeg, face], dim=-1))
        out: dict[str, torch.Tensor] = {}
        if self.sata is not None:
            pooled, out["saliency"] = self.sata(z)
        else:
            pooled = z.mean(dim=1)
        for target, head in self.heads.items():
            out[target] = head(pooled)
        return out


_DEFAULTS: dict[str, Any] = {"eeg_channels": list(DEAP_CHANNELS), "face_dim": FER_EMBEDDING_DIM}
_WHAT = "ST-AlignNet (EEG + face, BSA + SATA), binary"
register("stalignnet", {**_DEFAULTS, "targets": ["valence", "arousal"]}, f"{_WHAT} valence and arousal")(STAlignNet)
register("stalignnet-valence", {**_DEFAULTS, "targets": ["valence"]}, f"{_WHAT} valence")(STAlignNet)
register("stalignnet-arousal", {**_DEFAULTS, "targets": ["arousal"]}, f"{_WHAT} arousal")(STAlignNet)
