"""Latency of every registered model at batch 1: the forward pass alone, and the whole live ``predict`` step.

Prints, per model, the median and 95th percentile over ``--runs`` timed calls after
``--warmup`` untimed ones, with the machine described (CPU model, cores, torch version and
threads, device). "forward" feeds ready tensors of the model's default input shapes in
inference mode; "predict" also computes the features from a raw live-like window (EEG at
250 Hz, face frames at 30 fps) through ``models.transforms``, as the inference worker does.

    .venv/bin/python bench/models.py [--device cpu|cuda|auto] [--threads N] [--runs 200] [--models a,b]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe_machine

from models import registry
from models.predictor import NetworkPredictor, resolve_device
from models.transforms import n_steps
from tests.models.conftest import make_window


def describe(device: str) -> str:
    parts = [describe_machine(), f"device {device}"]
    if device.startswith("cuda"):
        parts.append(f"GPU {torch.cuda.get_device_name(device)}")
    return "; ".join(parts)


def timed(fn: Callable[[], object], runs: int, warmup: int, sync: bool) -> tuple[float, float, float]:
    """(median wall, p95 wall, median process CPU time) in milliseconds; CPU time is less sensitive to other load."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        if sync:
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        if sync:
            torch.cuda.synchronize()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(wall), float(np.percentile(wall, 95)), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch.set_num_threads")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--models", default="", help="comma-separated registry names (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    sync = device.startswith("cuda")
    names = [n for n in args.models.split(",") if n] or registry.names()
    print(describe(device))
    print(f"batch 1, {args.runs} timed runs after {args.warmup} warm-up; milliseconds")
    print("forward: ready tensors; predict: features from a raw window + forward; cpu: median process CPU time")
    print(f"{'model':<20}{'params':>9}  {'input':<22}{'forward med':>12}{'p95':>7}{'cpu':>7}"
          f"{'predict med':>13}{'p95':>7}{'cpu':>7}")
    for name in names:
        torch.manual_seed(0)
        model = registry.build(name).to(device).eval()
        spec = model.spec()
        x = {m: torch.randn(1, n_steps(i), i.feature_dim, device=device) for m, i in spec.inputs.items()}
        shapes = " ".join(f"{n_steps(i)}x{i.feature_dim}" for i in spec.inputs.values())

        def forward(model: torch.nn.Module = model, x: dict[str, torch.Tensor] = x) -> object:
            with torch.inference_mode():
                return model(x)

        f_med, f_p95, f_cpu = timed(forward, args.runs, args.warmup, sync)
        predictor = NetworkPredictor(model, spec, f"{name}@untrained", trained=False, device=device)
        window = make_window(predictor)
        p_med, p_p95, p_cpu = timed(lambda p=predictor, w=window: p.predict(w), args.runs, args.warmup, sync)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:<20}{params:>9}  {shapes:<22}{f_med:>12.2f}{f_p95:>7.2f}{f_cpu:>7.2f}"
              f"{p_med:>13.2f}{p_p95:>7.2f}{p_cpu:>7.2f}")


if __name__ == "__main__":
    main()
