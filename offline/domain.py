"""Domain adaptation for the cross-modal transformer (MODELS.md section 3): a subject classifier behind gradient
reversal, so the fused features stop telling training subjects apart.

The domain of a window is its subject's index among the fold's training subjects (validation and
test subjects never reach the classifier). Training progress p runs from 0 to 1 over the planned
batches (``epochs`` x batches per epoch; early stopping ends it sooner), and the reversal strength
follows DANN's schedule alpha = 2 / (1 + exp(-10 p)) - 1; the domain loss is weighted by
``dann_weight`` (0.1 in the paper). A resumed run restarts the schedule at its first epoch (ours).
"""

from __future__ import annotations

import math
from typing import Protocol, cast

import numpy as np
import torch
import torch.nn.functional as F

from models.base import EmotionModel
from offline.training import ExtraLoss
from offline.trials import Trial
from offline.windowing import WindowSet

DOMAIN = "_domain"  # the key of the windows' subject index among the targets (not a model target)


def with_domains(ws: WindowSet, trials: list[Trial]) -> tuple[WindowSet, int]:
    """``ws`` (training windows) carrying each window's subject index, and the number of subjects."""
    subjects = sorted({trials[i].subject for i in np.unique(ws.trial)})
    index = {s: k for k, s in enumerate(subjects)}
    domains = np.array([index[trials[i].subject] for i in ws.trial], dtype=np.int64)
    return WindowSet(ws.inputs, {**ws.targets, DOMAIN: domains}, ws.trial, ws.start_step), len(subjects)


def dann_alpha(progress: float) -> float:
    """DANN's reversal schedule: 0 at the start of training, towards 1 at its end."""
    return 2.0 / (1.0 + math.exp(-10.0 * min(max(progress, 0.0), 1.0))) - 1.0


class DomainModel(Protocol):
    """A network with a subject classifier behind gradient reversal (``models.cross_modal``'s ``cmt-seedv``)."""

    def domain_logits(self, inputs: dict[str, torch.Tensor], reversal: float) -> torch.Tensor: ...


def domain_loss(weight: float, total_batches: int) -> ExtraLoss:
    """The term for ``offline.training.fit``: ``weight`` x cross-entropy of the subject classifier, whose input
    gradient is reversed with strength ``dann_alpha`` of the training progress."""
    done = [0]

    def loss(model: EmotionModel, x: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> torch.Tensor:
        alpha = dann_alpha(done[0] / max(total_batches, 1))
        done[0] += 1
        logits = cast(DomainModel, model).domain_logits(x, alpha)  # built with domain_classes (runner)
        return weight * F.cross_entropy(logits.float(), y[DOMAIN])

    return loss
