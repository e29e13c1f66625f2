"""Concordance loss and the continuous-emotion metrics (RMSE, PCC, CCC), in torch for training and numpy for reports.

CCC = 2 cov(x, y) / (var x + var y + (mean x - mean y)^2), with population (biased) moments;
the loss is 1 - CCC computed per sequence (the last axis) and averaged, as in the thesis.
Moment sums let a report score several sequences concatenated (the thesis's per-subject
convention) from per-trial records, without keeping the traces.
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


def moment_sums(pred: np.ndarray, target: np.ndarray) -> list[float]:
    """[n, sum p, sum t, sum p^2, sum t^2, sum p t] of one sequence: enough to score sequences concatenated later."""
    p, t = np.ravel(pred).astype(np.float64), np.ravel(target).astype(np.float64)
    return [float(p.size), float(p.sum()), float(t.sum()), float(p @ p), float(t @ t), float(p @ t)]


def metrics_from_sums(sums: list[list[float]]) -> dict[str, float]:
    """{"rmse", "pcc", "ccc"} of the concatenation of the sequences whose ``moment_sums`` are given.

    Equal to ``regression_metrics`` of the concatenated values (population moments), without the values.
    """
    n, sp, st, spp, stt, spt = np.sum(np.asarray(sums, dtype=np.float64).reshape(-1, 6), axis=0)
    if n <= 0:
        return {"rmse": float("nan"), "pcc": float("nan"), "ccc": float("nan")}
    mp, mt = sp / n, st / n
    vp, vt, cov = max(spp / n - mp * mp, 0.0), max(stt / n - mt * mt, 0.0), spt / n - mp * mt
    rmse = float(np.sqrt(max((spp - 2 * spt + stt) / n, 0.0)))
    pcc = float(cov / np.sqrt(vp * vt)) if vp > 0 and vt > 0 else float("nan")
    return {"rmse": rmse, "pcc": pcc, "ccc": float(2 * cov / (vp + vt + (mp - mt) ** 2 + _EPS))}
