"""Concordance loss and the continuous-emotion metrics (RMSE, PCC, CCC), in torch for training and numpy for reports.

CCC = 2 cov(x, y) / (var x + var y + (mean x - mean y)^2), with population (biased) moments;
the loss is 1 - CCC computed per sequence (the last axis) and averaged, as in the thesis.
"""

from __future__ import annotations

import numpy as np
import torch

_EPS = 1e-8


def ccc(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Concordance correlation coefficient along the last axis (one value per leading index)."""
    pm, tm = pred.mean(dim=-1, keepdim=True), target.mean(dim=-1, keepdim=True)
    pc, tc = pred - pm, target - tm
    cov = (pc * tc).mean(dim=-1)
    denom = pc.pow(2).mean(dim=-1) + tc.pow(2).mean(dim=-1) + (pm - tm).squeeze(-1).pow(2)
    return 2 * cov / (denom + _EPS)


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - CCC per sequence (last axis), averaged over the batch."""
    return (1.0 - ccc(pred, target)).mean()


def rmse_np(pred: np.ndarray, target: np.ndarray) -> float:
    """Root mean squared error over all values."""
    return float(np.sqrt(np.mean((np.asarray(pred, float) - np.asarray(target, float)) ** 2)))


def pcc_np(pred: np.ndarray, target: np.ndarray) -> float:
    """Pearson correlation over all values (NaN when either side is constant)."""
    p, t = np.ravel(pred).astype(float), np.ravel(target).astype(float)
    p, t = p - p.mean(), t - t.mean()
    denom = np.sqrt((p * p).sum() * (t * t).sum())
    return float((p * t).sum() / denom) if denom > 0 else float("nan")


def ccc_np(pred: np.ndarray, target: np.ndarray) -> float:
    """Concordance correlation over all values (the same definition as ``ccc``)."""
    return float(ccc(torch.as_tensor(np.ravel(pred), dtype=torch.float64),
                     torch.as_tensor(np.ravel(target), dtype=torch.float64)))


def regression_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """{"rmse", "pcc", "ccc"} of one sequence (or of all values pooled)."""
    return {"rmse": rmse_np(pred, target), "pcc": pcc_np(pred, target), "ccc": ccc_np(pred, target)}
