"""Training throughput (windows per second) of the main models with the offline training step, on CPU and CUDA.

Each model trains on random inputs of exactly its spec's shapes (steps x feature dim per
modality) with its paper batch size and loss (offline.training.compute_loss), for a fixed time
budget after a warm-up; the machine is described first. Figures are printed, never asserted.

    .venv/bin/python bench/train.py [--seconds 3] [--models stalignnet-valence lfan ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from machine import describe_machine

from models import registry
from offline.config import paper_defaults
from offline.training import _autocast, compute_loss, make_optimizer
from offline.windowing import is_classification

#: MAHNOB-HCI dataset-feature widths (eeg_band_feats_full, first 38 face features) for the sequence models.
MAHNOB_BRANCH_DIMS = {"eeg": 128, "face": 38}
DEFAULT_MODELS = ("stalignnet-valence", "tcn-eeg", "tcn-face", "lfan", "lstm-fusion")





def build(name: str, features: str) -> torch.nn.Module:
    defaults = registry.get(name).defaults
    if features == "mahnob" and "branches" in defaults:
        branches = {m: {**b, "features": "precomputed", "feature_dim": MAHNOB_BRANCH_DIMS[m]}
                    for m, b in defaults["branches"].items()}
        return registry.build(name, branches=branches)
    return registry.build(name)


def throughput(name: str, device: torch.device, seconds: float, features: str) -> tuple[float, int, str]:
    model = build(name, features).to(device)
    spec = model.spec()
    cfg = paper_defaults(name, "loso")
    batch = cfg.batch_size
    x = {m: torch.randn(batch, round(i.window_seconds * i.rate), i.feature_dim, device=device)
         for m, i in spec.inputs.items()}
    steps = round(next(iter(spec.inputs.values())).window_seconds * next(iter(spec.inputs.values())).rate)
    n_classes = int(getattr(model, "config", {}).get("n_classes", 2))
    y = {t: (torch.randint(0, n_classes, (batch,), device=device) if is_classification(k)
             else torch.rand(batch, steps, device=device) * 2 - 1) for t, k in spec.targets.items()}
    optimizer = make_optimizer(model, cfg)
    weights = {t: torch.ones(n_classes) for t, k in spec.targets.items() if is_classification(k)}
    model.train()

    def step() -> None:
        with _autocast(device, cfg.amp):
            out = model(x)
        loss = compute_loss(out, y, spec.targets, cfg, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    shapes = ", ".join(f"{m} {tuple(v.shape[1:])}" for m, v in x.items())
    return n * batch / elapsed, batch, shapes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="timed training per model and device")
    p.add_argument("--models", nargs="*", default=list(DEFAULT_MODELS))
    p.add_argument("--features", choices=["live", "mahnob"], default="mahnob",
                   help="sequence models on MAHNOB dataset features (default) or on their live inputs")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(describe_machine())
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"{'model':<20} {'device':<6} {'batch':>5} {'windows/s':>10}  input per window")
    for device in devices:
        for name in args.models:
            rate, batch, shapes = throughput(name, device, args.seconds, args.features)
            amp = " (bf16 autocast)" if device.type == "cuda" else ""
            print(f"{name:<20} {device.type:<6} {batch:>5} {rate:>10.1f}  {shapes}{amp}")


if __name__ == "__main__":
    main()
