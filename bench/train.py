"""Training throughput (windows per second) of the main models, and wall time of a whole LOSO run per engine.

Throughput (default): each model trains on random inputs of exactly its spec's shapes (steps x
feature dim per modality) with its paper batch size and loss (offline.training.compute_loss), for
a fixed time budget after a warm-up, on CPU and CUDA.

``--engine local|ray``: a 16-fold LOSO run on the MAHNOB-HCI features (``--root``), timed from the
first read of the dataset to the report, with 1 and 2 workers (one torch thread each, so every
configuration computes the same numbers, which is checked); ``ray`` adds the Ray engine's rows
(a local Ray instance of as many CPUs as workers, one CPU per fold) beside the local ones. The
machine is described first. Figures are printed, never asserted.

    .venv/bin/python bench/train.py [--seconds 3] [--models stalignnet-valence lfan ...]
    .venv/bin/python bench/train.py --engine ray --root ../shared/data/mahnob_features [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
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
#: The README's MAHNOB LOSO settings and model options (its "Measured figures" command).
README_LOSO_SETTINGS = {"patience": "5", "hop_seconds": "8", "batch_size": "16", "lr": "1e-4"}
README_LOSO_MODELS: dict[str, dict[str, object]] = {
    "tcn-face": {"channels": [64, 64, 64, 64], "branches": {"face": {"features": "precomputed", "feature_dim": 38}}},
    "tcn-eeg": {"channels": [64, 64], "branches": {"eeg": {"features": "precomputed", "feature_dim": 128}}},
}





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


def loso_wall_time(engine: str, workers: int, root: str, out: Path, model: str, epochs: int) -> tuple[float, float]:
    """Seconds to start the engine (Ray: the local instance) and to run the whole LOSO (read, folds, report)."""
    from offline.engines import Engine, LocalEngine, RayEngine, import_ray
    from offline.runner import Run, RunSpec

    spec = RunSpec("mahnob-features", root, model, "loso", str(out), final_model=False, workers=workers,
                   model_overrides=README_LOSO_MODELS.get(model, {}),
                   train_overrides={**README_LOSO_SETTINGS, "epochs": str(epochs), "num_threads": "1"})
    start = 0.0
    runner: Engine = LocalEngine(workers=workers, threads=1)
    if engine == "ray":
        ray = import_ray()
        t0 = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        start = time.perf_counter() - t0
        runner = RayEngine(fold_cpus=1)
    t0 = time.perf_counter()
    try:
        Run(spec).execute(runner)
    finally:
        if engine == "ray":
            ray.shutdown()
    return start, time.perf_counter() - t0


def loso_bench(args: argparse.Namespace) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    print(describe_machine())
    print(f"16-fold LOSO, MAHNOB-HCI features, {args.model} (the README's LOSO settings), {args.epochs} epochs, "
          "one torch thread per worker")
    engines = ["local", "ray"] if args.engine == "ray" else ["local"]
    rows, scores = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            for workers in (1, 2):
                out = Path(tmp) / f"{engine}-{workers}"
                start, wall = loso_wall_time(engine, workers, args.root, out, args.model, args.epochs)
                metrics = json.loads((out / "metrics.json").read_text())
                scores[(engine, workers)] = [row["ccc_subject"] for row in metrics["targets"]["valence"]["subjects"]]
                rows.append((engine, workers, start, wall, metrics["n_folds"]))
    base = {e: next(r[3] for r in rows if r[0] == e and r[1] == 1) for e in engines}
    print(f"{'engine':<7} {'workers':>7} {'folds':>5} {'start s':>8} {'LOSO s':>8} {'speed-up vs 1 worker':>21}")
    for engine, workers, start, wall, folds in rows:
        print(f"{engine:<7} {workers:>7} {folds:>5} {start:>8.1f} {wall:>8.1f} {base[engine] / wall:>21.2f}")
    first = next(iter(scores.values()))
    same = all(s == first for s in scores.values())
    print(f"per-subject ccc_subject identical in every configuration: {same}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="timed training per model and device")
    p.add_argument("--models", nargs="*", default=list(DEFAULT_MODELS))
    p.add_argument("--features", choices=["live", "mahnob"], default="mahnob",
                   help="sequence models on MAHNOB dataset features (default) or on their live inputs")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--engine", choices=["local", "ray"], default=None,
                   help="time a 16-fold LOSO run instead: local engine only, or local and Ray side by side")
    p.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared/data/mahnob_features"),
                   help="--engine: the MAHNOB-HCI features folder")
    p.add_argument("--model", default="tcn-face", help="--engine: the model trained in every fold")
    p.add_argument("--epochs", type=int, default=1, help="--engine: epochs per fold (a short run; default 1)")
    args = p.parse_args()
    if args.engine:
        loso_bench(args)
        return
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
