"""Steps where a modality is missing (a lost face: turned head, occlusion, bad light), read by the model itself.

A gap-aware branch (``"gaps": true``, see ``models.transforms.sequence_inputs``) receives NaN rows
for the steps it has no data for, offline and live alike. ``GapInput`` turns them into zeros
(the training mean, after normalisation) and appends a presence channel (1 observed, 0 missing),
so the network knows which steps to trust and can lean on the other modalities there. While
training it also removes a random burst from a share ``dropout`` of the windows (modality dropout
in time, our choice: the papers train with every modality present), so it learns what to do in a gap.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def present_steps(x: torch.Tensor) -> torch.Tensor:
    """(B, T) True where every feature of the step is finite."""
    return torch.isfinite(x).all(dim=-1)


def random_bursts(batch: int, steps: int, share: float, device: torch.device, min_fraction: float = 0.05,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, T) True inside one contiguous burst per chosen window; a window is chosen with probability ``share``.

    A burst covers a uniform 5-100 % of the window at a uniform position (from a short glance away to a face
    lost for the whole window)."""
    chosen = torch.rand(batch, device=device, generator=generator) < share
    length = (torch.rand(batch, device=device, generator=generator) * (1 - min_fraction) + min_fraction) * steps
    length = length.ceil().long().clamp(1, steps)
    start = (torch.rand(batch, device=device, generator=generator) * (steps - length + 1)).floor().long()
    t = torch.arange(steps, device=device)[None, :]
    return chosen[:, None] & (t >= start[:, None]) & (t < (start + length)[:, None])


class GapInput(nn.Module):
    """(B, T, D) with NaN rows -> (B, T, D + 1): missing steps zeroed, a presence channel appended."""

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"gap_dropout must be in [0, 1], got {dropout}")
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        present = present_steps(x)
        if self.training and self.dropout:
            present = present & ~random_bursts(x.shape[0], x.shape[1], self.dropout, x.device)
        x = torch.where(present[..., None], x, torch.zeros((), dtype=x.dtype, device=x.device))
        return torch.cat([x, present[..., None].to(x.dtype)], dim=-1)
