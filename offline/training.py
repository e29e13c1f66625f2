"""The training loop for any registered EmotionModel on a WindowSet: optimiser, schedule, early stopping, resume.

Losses follow the targets in the model's spec: class-weighted cross-entropy (optionally with
label smoothing) for classes, 1 - CCC per sequence (or MSE when asked) for continuous values.
The best epoch is chosen by a validation score the caller computes from validation windows only.
On CUDA the forward pass runs under bfloat16 autocast (mixed precision).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau
from tqdm.auto import tqdm

from models.base import EmotionModel
from models.losses import ccc_loss
from offline.config import TrainConfig
from offline.train_state import Progress, load_state, save_state
from offline.windowing import WindowSet, is_classification

Score = Callable[[dict[str, np.ndarray]], float]
#: An extra training loss term from the model, its inputs and the batch's targets (e.g. distillation).
ExtraLoss = Callable[[EmotionModel, dict[str, torch.Tensor], dict[str, torch.Tensor]], torch.Tensor]


def class_weights(ws: WindowSet, targets: dict[str, str], n_classes: dict[str, int]) -> dict[str, torch.Tensor]:
    """Inverse-frequency weights per class from the training windows (classes absent get weight 0)."""
    out = {}
    for target, kind in targets.items():
        if is_classification(kind):
            counts = np.bincount(ws.targets[target], minlength=n_classes[target]).astype(np.float64)
            w = np.where(counts > 0, counts.sum() / (len(counts) * np.maximum(counts, 1)), 0.0)
            out[target] = torch.tensor(w, dtype=torch.float32)
    return out


def _batch(ws: WindowSet, idx: np.ndarray, device: torch.device
           ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    x = {m: torch.from_numpy(np.ascontiguousarray(v[idx])).to(device) for m, v in ws.inputs.items()}
    y = {t: torch.from_numpy(np.ascontiguousarray(v[idx])).to(device) for t, v in ws.targets.items()}
    return x, y


def _autocast(device: torch.device, enabled: bool) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


def compute_loss(out: dict[str, torch.Tensor], y: dict[str, torch.Tensor], targets: dict[str, str], cfg: TrainConfig,
                 weights: dict[str, torch.Tensor]) -> torch.Tensor:
    total = torch.zeros((), device=next(iter(out.values())).device)
    for target, kind in targets.items():
        pred = out[target].float()
        if is_classification(kind):
            w = weights[target].to(pred.device) if cfg.class_weighted and target in weights else None
            total = total + F.cross_entropy(pred, y[target], weight=w, label_smoothing=cfg.label_smoothing)
        elif cfg.loss == "mse":
            total = total + F.mse_loss(pred, y[target])
        else:
            total = total + ccc_loss(pred.reshape(pred.shape[0], -1), y[target].reshape(pred.shape[0], -1))
    return total


@torch.no_grad()
def predict(model: EmotionModel, ws: WindowSet, device: torch.device, batch_size: int = 256,
            amp: bool = True) -> dict[str, np.ndarray]:
    """Class probabilities (N, C) or per-step values (N, steps) per target, in eval mode."""
    model.eval()
    targets = model.spec().targets
    chunks: dict[str, list[np.ndarray]] = {t: [] for t in targets}
    for start in range(0, len(ws), batch_size):
        idx = np.arange(start, min(start + batch_size, len(ws)))
        x, _ = _batch(ws, idx, device)
        with _autocast(device, amp):
            out = model(x)
        for t, kind in targets.items():
            value = out[t].float()
            chunks[t].append((value.softmax(-1) if is_classification(kind) else value).cpu().numpy())
    return {t: np.concatenate(v) for t, v in chunks.items()}


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    kinds: dict[str, Callable[..., torch.optim.Optimizer]] = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                                                              "nadam": torch.optim.NAdam}
    if cfg.optimizer not in kinds:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; known: {', '.join(kinds)}")
    return kinds[cfg.optimizer](params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> LambdaLR | ReduceLROnPlateau | None:
    """Epoch-level schedule: linear warm-up then cosine to ``min_lr``, ReduceLROnPlateau (max), or none."""
    if cfg.schedule == "warmup_cosine":
        floor = cfg.min_lr / cfg.lr

        def factor(epoch: int) -> float:
            if epoch < cfg.warmup_epochs:
                return (epoch + 1) / cfg.warmup_epochs
            span = max(1, cfg.epochs - cfg.warmup_epochs)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, (epoch - cfg.warmup_epochs) / span)))

        return LambdaLR(optimizer, factor)
    if cfg.schedule == "plateau":
        return ReduceLROnPlateau(optimizer, mode="max", factor=cfg.plateau_factor, patience=cfg.plateau_patience,
                                 min_lr=cfg.min_lr)
    if cfg.schedule == "none":
        return None
    raise ValueError(f"unknown schedule {cfg.schedule!r} (none, warmup_cosine, plateau)")


@dataclass
class FitResult:
    best_epoch: int
    best_score: float
    history: list[dict[str, float]] = field(default_factory=list)
    windows_per_second: float = float("nan")
    pretrain: dict[str, dict[str, float]] = field(default_factory=dict)  # per branch: best_epoch, best_score
    distillation: dict[str, object] = field(default_factory=dict)  # teacher run, model id, weight
    domain: dict[str, object] = field(default_factory=dict)  # DANN: weight, training subjects


def fit(model: EmotionModel, train: WindowSet, val: WindowSet, score: Score, cfg: TrainConfig, device: torch.device,
        state_dir: Path | None = None, desc: str = "train", n_classes: dict[str, int] | None = None,
        score_start: bool = False, extra_loss: ExtraLoss | None = None) -> FitResult:
    """Train, keep the weights of the epoch with the best validation score, and load them into ``model``.

    With ``state_dir`` the state is saved after every epoch and a previous run's state resumed.
    With ``score_start`` the starting weights (e.g. from pretraining) are a candidate too, scored on
    validation before the first epoch; ``best_epoch`` -1 then means no epoch beat them.
    ``extra_loss`` is added to the targets' loss on every training batch (validation scores ignore it).
    """
    targets = model.spec().targets
    weights = class_weights(train, targets, n_classes or {t: 2 for t in targets})
    model.to(device)
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg)
    best = {k: v.detach().clone() for k, v in model.state_dict().items()}
    info: Progress = {"epoch": 0, "best_epoch": -1, "best_score": -math.inf, "bad_epochs": 0, "history": [],
                      "done": False}
    if state_dir is not None and (restored := load_state(state_dir, model, optimizer, scheduler)) is not None:
        best, info = restored
    elif score_start:
        info["best_score"] = float(score(predict(model, val, device, amp=cfg.amp)))
        info["history"].append({"epoch": -1, "train_loss": float("nan"), "val_score": info["best_score"],
                                "lr": optimizer.param_groups[0]["lr"]})
    bar = tqdm(range(info["epoch"], cfg.epochs), desc=desc, leave=False, disable=None)
    seen, seconds = 0, 0.0
    for epoch in bar:
        if info["done"]:
            break
        model.train()
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train))  # same order when resumed
        losses = []
        t0 = _clock(device)
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            if len(idx) < 2 and len(order) > 1:
                continue  # a batch of one breaks batch norm and says little
            x, y = _batch(train, idx, device)
            with _autocast(device, cfg.amp):
                out = model(x)
            loss = compute_loss(out, y, targets, cfg, weights)
            if extra_loss is not None:
                with _autocast(device, cfg.amp):
                    loss = loss + extra_loss(model, x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
            if cfg.clip_grad > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            optimizer.step()
            losses.append(float(loss.detach()))
            seen += len(idx)
        seconds += _clock(device) - t0
        val_score = float(score(predict(model, val, device, amp=cfg.amp)))
        if isinstance(scheduler, ReduceLROnPlateau):  # the "plateau" schedule
            scheduler.step(val_score)
        elif scheduler is not None:
            scheduler.step()
        improved = val_score > info["best_score"]
        if improved:
            info.update({"best_epoch": epoch, "best_score": val_score, "bad_epochs": 0})
            best = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            info["bad_epochs"] += 1
        info["history"].append({"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else float("nan"),
                                "val_score": val_score, "lr": optimizer.param_groups[0]["lr"]})
        info["epoch"] = epoch + 1
        info["done"] = bool(cfg.patience and info["bad_epochs"] >= cfg.patience)
        bar.set_postfix(loss=f"{info['history'][-1]['train_loss']:.3f}", val=f"{val_score:.3f}")
        if state_dir is not None:
            save_state(state_dir, model, optimizer, scheduler, best, info)
    model.load_state_dict(best)
    return FitResult(info["best_epoch"], info["best_score"], info["history"], seen / seconds if seconds else math.nan)


def _clock(device: torch.device) -> float:
    import time

    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()
