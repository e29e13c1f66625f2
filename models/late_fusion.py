"""Decision-level (late) fusion: one causal TCN regressor per modality, their per-step outputs blended by fixed weights.

Soleymani et al. (2016, MAHNOB-HCI continuous valence) fuse EEG and face at decision level; the thesis
fuses inside the network (LFAN). Here every branch is a whole unimodal regressor (the registered
``tcn-*`` network), and the output at step t is a convex blend of the branches' outputs with the
config's ``weights``. ``offline stack`` builds this model from finished unimodal runs and chooses the
weights per fold on the validation subjects only (our protocol), so the fusion falls back to the best
single modality when the other does not help on validation.

A branch marked ``"gaps": true`` (the face, live: turned head, occlusion, bad light) receives NaN rows
for lost steps. Its regressor reads the last observed row held over the gap (zeros, the training mean,
before the window's first observed row: causal), and at a step where such a branch is lost the blend
uses ``lost_weights`` instead (chosen on validation trials with the face lost in bursts), so the model
leans on the other modalities exactly where the face is gone. A branch marked ``"hold_seconds": s``
instead holds its last row over a loss of up to s seconds (live, the last frame; the blend keeps its
weights), as a face-only model does; ``offline stack`` chooses between the two on validation.
``modality_weights`` (B, T, M) reports the blend used at every step.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from models.base import register
from models.channels import DEAP_CHANNELS
from models.face_backbones import FER_EMBEDDING_DIM
from models.gaps import present_steps
from models.tcn import SequenceModel, TCNRegressor, step_outputs

#: What a branch's config may hold besides its features: its own TCN settings.
BRANCH_NETWORK = ("channels", "kernel_size", "dropout")


def hold_last(x: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """(B, T, D) with missing steps (``present`` False) replaced by the last present row; zeros before the first."""
    steps = torch.arange(x.shape[1], device=x.device)
    marked = torch.where(present, steps.expand(x.shape[0], -1), torch.full_like(present, -1, dtype=steps.dtype))
    before = steps[None, :] <= steps[:, None]  # (T, T): step s is at or before step t (a running max, as ONNX has
    source = torch.where(before, marked[:, None, :], -1).amax(dim=-1)  # no cummax)
    held = torch.gather(torch.nan_to_num(x), 1, source.clamp(min=0)[..., None].expand(-1, -1, x.shape[2]))
    return torch.where((source >= 0)[..., None], held, torch.zeros((), dtype=x.dtype, device=x.device))


def _convex(weights: dict[str, float], modalities: list[str], name: str) -> torch.Tensor:
    """The weights in modality order, checked non-negative and normalised to sum 1."""
    if set(weights) != set(modalities):
        raise ValueError(f"{name} must give one weight per branch ({', '.join(modalities)}), got {', '.join(weights)}")
    w = torch.tensor([float(weights[m]) for m in modalities])
    if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"{name} must be finite, non-negative and not all zero, got {weights}")
    return w / w.sum()


class LateFusion(SequenceModel):
    """M modalities -> M TCN regressors -> per-step convex blend: {target: (B, T)}, modality_weights (B, T, M)."""

    weights: torch.Tensor  # buffers: the convex blend weights per modality, for all steps and for lost steps
    lost_weights: torch.Tensor

    def __init__(
        self,
        branches: dict[str, dict[str, Any]],
        weights: dict[str, float] | None = None,
        lost_weights: dict[str, float] | None = None,
        eeg_channels: list[str] | None = None,
        steps: int = 96,
        step_rate: float = 4.0,
        targets: list[str] | None = None,
    ) -> None:
        super().__init__(branches, eeg_channels or list(DEAP_CHANNELS), steps, step_rate, targets)
        self.modalities = list(self.inputs)
        equal = {m: 1.0 for m in self.modalities}
        self.register_buffer("weights", _convex(weights or equal, self.modalities, "weights"), persistent=False)
        self.register_buffer("lost_weights", _convex(lost_weights or weights or equal, self.modalities,
                                                     "lost_weights"), persistent=False)
        self.gap_modalities = [m for m in self.modalities if self.inputs[m].params.get("gaps")]
        self.regressors = nn.ModuleDict({
            m: TCNRegressor({m: {k: v for k, v in b.items() if k not in (*BRANCH_NETWORK, "gaps")}},
                            channels=list(b["channels"]), eeg_channels=eeg_channels, steps=steps,
                            step_rate=step_rate, kernel_size=int(b.get("kernel_size", 5)),
                            dropout=float(b.get("dropout", 0.1)), targets=self.targets)
            for m, b in branches.items()
        })

    def branch_outputs(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Every branch's outputs (B, T, n_targets, M) and the steps where a gap-aware branch is lost (B, T)."""
        first = inputs[self.modalities[0]]
        lost = torch.zeros(first.shape[:2], dtype=torch.bool, device=first.device)
        outputs = []
        for m in self.modalities:
            x = inputs[m]
            if m in self.gap_modalities:
                present = present_steps(x)
                lost |= ~present
                x = hold_last(x, present)
            out = self.regressors[m]({m: x})
            outputs.append(torch.stack([out[t] for t in self.targets], dim=-1))
        return torch.stack(outputs, dim=-1), lost

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        outputs, lost = self.branch_outputs(inputs)
        blend = torch.where(lost[..., None], self.lost_weights.to(outputs.dtype), self.weights.to(outputs.dtype))
        out = step_outputs((outputs * blend[:, :, None, :]).sum(dim=-1), self.targets)
        out["modality_weights"] = blend
        return out


register(
    "late-fusion",
    {
        "branches": {
            "face": {"features": "frames", "feature_dim": FER_EMBEDDING_DIM, "channels": [256, 256, 128, 128],
                     "gaps": True},
            "eeg": {"features": "band_power", "channels": [128, 128]},
        },
        "weights": {"face": 0.5, "eeg": 0.5},
        "eeg_channels": list(DEAP_CHANNELS),
    },
    "decision-level fusion: face and EEG TCN regressors blended per step (weights chosen on validation by "
    "`offline stack`); a lost face is held and the blend leans on EEG there",
)(LateFusion)
