"""Resumable training state on disk without pickles: tensors in safetensors, everything else in JSON.

After every epoch a fold's folder gets ``state.safetensors`` (model weights, optimizer tensors,
RNG state, best weights) and ``state.json`` (epoch, optimizer hyper-parameters, scheduler state,
history, early-stopping counters), both written to temporary names and renamed, so a run
killed at any instant resumes from the last complete epoch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

import torch
from safetensors.torch import load_file, save_file

from models.files import atomic_write, atomic_write_json

STATE_TENSORS, STATE_JSON = "state.safetensors", "state.json"


class Progress(TypedDict):
    """Where a fold's training stands after an epoch (``offline.training.fit``), saved in ``state.json``."""

    epoch: int  # the next epoch to train
    best_epoch: int
    best_score: float
    bad_epochs: int  # epochs since the best one (early stopping)
    history: list[dict[str, float]]  # per epoch: epoch, train_loss, val_score, lr
    done: bool


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, meta = {}, {"param_groups": state["param_groups"], "state": {}}
    for idx, slots in state["state"].items():
        meta["state"][str(idx)] = {}
        for name, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{name}"] = value.detach().cpu().contiguous()
                meta["state"][str(idx)][name] = "tensor"
            else:
                meta["state"][str(idx)][name] = value
    return tensors, meta


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for idx, slots in meta["state"].items():
        state[int(idx)] = {
            name: tensors[f"optim.{idx}.{name}"] if value == "tensor" else value for name, value in slots.items()
        }
    return {"state": state, "param_groups": meta["param_groups"]}


def save_state(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
               best_weights: dict[str, torch.Tensor], info: Progress) -> None:
    """Write one epoch's complete state (tensors first, then the JSON that marks it complete)."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v.detach().cpu().contiguous() for k, v in best_weights.items()})
    optim_tensors, optim_meta = _flatten_optimizer(optimizer.state_dict())
    tensors.update(optim_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    atomic_write(folder / STATE_TENSORS, lambda tmp: save_file(tensors, str(tmp)))
    sched = scheduler.state_dict() if scheduler is not None else None  # lambdas are saved as None, rebuilt from config
    atomic_write_json(folder / STATE_JSON, {**info, "optimizer": optim_meta, "scheduler": sched})


def load_state(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               scheduler: Any) -> tuple[dict[str, torch.Tensor], Progress] | None:
    """Restore a saved state into the given objects; returns (best weights, info) or None if nothing saved."""
    if not (folder / STATE_JSON).is_file() or not (folder / STATE_TENSORS).is_file():
        return None
    try:
        info = json.loads((folder / STATE_JSON).read_text())
        tensors = load_file(str(folder / STATE_TENSORS))
    except Exception as exc:  # a damaged state cannot be resumed: say which file
        raise RuntimeError(f"{folder}: training state is damaged ({exc}); delete the folder to restart the fold") \
            from exc
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer.load_state_dict(_unflatten_optimizer(tensors, info.pop("optimizer")))
    sched = info.pop("scheduler")
    if scheduler is not None and sched is not None:
        scheduler.load_state_dict(sched)
    torch.set_rng_state(tensors["rng.torch"])
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    return best, info
