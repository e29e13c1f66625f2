"""R2GFANet: regional-to-global fusion of EEG and eye movements with spatial-temporal alignment (MODELS.md section 5).

Only the paper's abstract is public, so the network follows its five named parts and every detail the
abstract leaves open is ours (``docs/attribution.md`` lists them):

1. Masked 1D-CNN encoders. Each brain region's EEG sequence (the differential entropy of its channels,
   all bands, per 4 s step) and the eye-movement sequence (SEED-V's 33 features per step) go through a
   two-layer 1D CNN over time (kernel 3, same padding, GELU). A step whose row is not finite is masked:
   zeroed before each convolution, left out of attention keys and of pooling.
2. EEG channels grouped into brain regions: ``REGIONS`` (ours: nine groups of the 10-10 names of
   SEED's 62-channel cap by their prefixes; a channel of no group is refused).
3. Multi-region cross-modal attention: per region, its EEG sequence attends to the eye sequence
   (queries EEG, keys and values eye; one attention module per region, run in parallel), residual +
   LayerNorm, then masked mean over time: one vector per region.
4. Region-level spatial attention: a score per region vector (Linear, tanh, Linear), softmax over
   regions; the weights are returned as ``region_weights`` (B, R), the interpretability the paper
   claims.
5. Regional-to-global fusion: the attention-weighted sum of the region vectors, concatenated with the
   pooled eye sequence, through an MLP to the class logits.

Input is a fixed window of ``steps`` 4 s rows (the project's contract), as for ``cmt-seedv``; the
paper's variable-length trials are what the masks serve, and here they cover missing rows.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from models.base import EmotionModel, register
from models.channels import SEEDV_CHANNELS
from models.contracts import InputSpec, ModelSpec
from models.cross_modal import FALLBACK, STEP_RATE, emotion_classes  # the SEED-V contract both models share
from models.gaps import present_steps
from models.transforms import sequence_inputs

#: Brain regions by channel-name prefix (ours; the abstract names no grouping). Longest prefixes match first.
REGIONS: dict[str, tuple[str, ...]] = {
    "prefrontal": ("FP", "AF"),
    "frontal": ("F",),
    "fronto-central": ("FC",),
    "left-temporal": ("FT7", "T7", "TP7"),
    "right-temporal": ("FT8", "T8", "TP8"),
    "central": ("C",),
    "centro-parietal": ("CP",),
    "parietal": ("P",),
    "occipital": ("PO", "O", "CB"),
}


def region_of(channel: str) -> str:
    """The region of a 10-10 channel name: the one whose prefix (or exact name) matches longest."""
    name = channel.upper()
    best, length = "", 0
    for region, prefixes in REGIONS.items():
        for prefix in prefixes:
            exact = prefix[-1].isdigit()
            if (name == prefix if exact else name.startswith(prefix)) and len(prefix) > length:
                best, length = region, len(prefix)
    if not best:
        raise ValueError(f"EEG channel {channel!r} belongs to none of the regions {', '.join(REGIONS)}")
    return best


class MaskedConvEncoder(nn.Module):
    """(B, T, D) with non-finite rows -> (B, T, d): two same-padded 1D convolutions over time, masked rows zeroed."""

    def __init__(self, in_dim: int, d_model: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(in_dim, d_model, 3, padding=1)
        self.conv2 = nn.Conv1d(d_model, d_model, 3, padding=1)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        keep = present[:, None, :].to(x.dtype)  # (B, 1, T)
        h = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).transpose(1, 2) * keep
        h = self.drop(self.act(self.conv1(h))) * keep
        h = self.drop(self.act(self.conv2(h))) * keep
        out: torch.Tensor = h.transpose(1, 2)
        return out


def masked_mean(h: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Mean over the present steps of (B, T, d) (zeros where none is present)."""
    w = present.to(h.dtype)[..., None]
    return (h * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)


class R2GFANet(EmotionModel):
    """EEG DE (B, T, channels x bands) + eye (B, T, 33) -> {target: logits (B, n_classes), "region_weights": (B, R)}."""

    def __init__(
        self,
        branches: dict[str, dict[str, Any]],
        eeg_channels: list[str] | None = None,
        steps: int = 8,
        targets: list[str] | None = None,
        n_classes: int = 5,
        d_model: int = 32,
        heads: int = 4,
        hidden: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if set(branches) != {"eeg", "eye"}:
            raise ValueError(f"R2GFANet fuses an eeg and an eye branch, got {list(branches)}")
        self.targets = list(targets or ["emotion"])
        self.n_classes = n_classes
        channels = list(eeg_channels or SEEDV_CHANNELS)
        self.inputs: dict[str, InputSpec] = sequence_inputs(branches, steps, STEP_RATE, channels)
        eeg_dim = self.inputs["eeg"].feature_dim
        if eeg_dim % len(channels):
            raise ValueError(f"{eeg_dim} EEG features do not divide into {len(channels)} channels")
        per_channel = eeg_dim // len(channels)  # features are channel-major: channel * bands + band
        members: dict[str, list[int]] = {}
        for i, channel in enumerate(channels):
            members.setdefault(region_of(channel), []).append(i)
        self.regions = [r for r in REGIONS if r in members]
        for r in self.regions:
            index = torch.tensor([c * per_channel + b for c in members[r] for b in range(per_channel)])
            self.register_buffer(f"columns_{r.replace('-', '_')}", index, persistent=False)
        self.eeg_encoders = nn.ModuleDict({
            r.replace("-", "_"): MaskedConvEncoder(len(members[r]) * per_channel, d_model, dropout)
            for r in self.regions})
        self.eye_encoder = MaskedConvEncoder(self.inputs["eye"].feature_dim, d_model, dropout)
        self.align = nn.ModuleDict({r.replace("-", "_"): nn.MultiheadAttention(d_model, heads, dropout=dropout,
                                                                              batch_first=True)
                                    for r in self.regions})
        self.n_heads = heads
        self.norms = nn.ModuleDict({r.replace("-", "_"): nn.LayerNorm(d_model) for r in self.regions})
        self.region_score = nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh(), nn.Linear(d_model, 1))
        self.heads = nn.ModuleDict({
            t: nn.Sequential(nn.Linear(2 * d_model, hidden), nn.GELU(), nn.Dropout(dropout),
                             nn.Linear(hidden, n_classes))
            for t in self.targets})

    def spec(self) -> ModelSpec:
        return ModelSpec(self.architecture, self.config, {t: "multiclass" for t in self.targets}, self.inputs,
                         FALLBACK, emotion_classes(self.targets, self.n_classes))

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        eeg, eye = inputs["eeg"], inputs["eye"]
        eeg_present, eye_present = present_steps(eeg), present_steps(eye)
        eye_h = self.eye_encoder(eye, eye_present)
        blocked = torch.where(eye_present, 0.0, -1e4).to(eye_h.dtype)  # keys: masked eye steps (not -inf: no NaN)
        mask = blocked[:, None, :].expand(-1, eeg.shape[1], -1).repeat_interleave(self.n_heads, dim=0)
        vectors = []
        for r in self.regions:
            key = r.replace("-", "_")
            region = eeg.index_select(-1, getattr(self, f"columns_{key}"))
            h = self.eeg_encoders[key](region, eeg_present)
            aligned, _ = self.align[key](h, eye_h, eye_h, attn_mask=mask, need_weights=False)
            vectors.append(masked_mean(self.norms[key](h + aligned), eeg_present))
        regions = torch.stack(vectors, dim=1)  # (B, R, d)
        weights = torch.softmax(self.region_score(regions).squeeze(-1), dim=-1)  # (B, R)
        fused = torch.cat([(weights[..., None] * regions).sum(dim=1), masked_mean(eye_h, eye_present)], dim=-1)
        out = {t: head(fused) for t, head in self.heads.items()}
        out["region_weights"] = weights
        return out


register("r2gfanet", {
    "branches": {"eeg": {"features": "de"}, "eye": {"features": "eye_movement"}},
    "eeg_channels": list(SEEDV_CHANNELS), "n_classes": 5, "targets": ["emotion"],
}, "R2GFANet (EEG DE by brain region aligned with eye movements, SEED-IV/V; from the abstract), 5 emotions")(R2GFANet)
