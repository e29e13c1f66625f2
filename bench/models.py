"""Latency of every registered model at batch 1, torch beside ONNX Runtime: the forward pass, and the live step.

Prints, per model, the median and 95th percentile over ``--runs`` timed calls after
``--warmup`` untimed ones, with the machine described (CPU model, cores, torch version and
threads, device). "forward" is ``NetworkPredictor.forward`` on ready feature windows of the model's
input shapes, in each backend (``models.onnx_backend``: one ONNX Runtime thread); "predict" also
computes the features from a raw live-like window (EEG at 250 Hz, face frames at 30 fps) through
``models.transforms``, as the inference worker does, the whole window recomputed; "live" predicts on the windows a
live stream gives every ``--hop`` s (+- 4 ms timer jitter), each EEG window knowing its samples' stream index, so
band-power steps of earlier windows are reused (``models.step_cache``), measured after ``--live-warmup`` hops, in the
last backend. "x" is torch's median over ONNX Runtime's (forward, predict) and the full predict's over the live one.
ONNX Runtime runs on the CPU only: with ``--device cuda`` its columns stay empty.
Then the face path per camera frame (``--face-frames`` frames of the demo video, 640 x 480, in order): MTCNN on
every frame vs detect + track (``--redetect-every``; ``models.face_tracking``), each followed by the crop and the
expression network, as the face worker runs them.

    .venv/bin/python bench/models.py [--device cpu|cuda|auto] [--threads N] [--runs 200] [--models a,b] [--hop 0.05]
        [--face-frames 300] [--redetect-every 10]
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
from models.onnx_backend import OnnxUnavailable, input_shapes, onnx_runtime_version
from models.predictor import NetworkPredictor, resolve_device
from tests.support.windows import feature_batch, make_window, stream_windows


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


def live_predict(predictor: NetworkPredictor, hop: float, warmup: int, runs: int, sync: bool) -> tuple[float, float]:
    """(median, p95) milliseconds of ``predict`` on consecutive live windows ``hop`` s apart, after ``warmup`` hops
    (the window generation is not timed)."""
    wall = []
    for i, window in enumerate(stream_windows(predictor, warmup + runs, hop)):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        predictor.predict(window)
        if sync:
            torch.cuda.synchronize()
        if i >= warmup:
            wall.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(wall), float(np.percentile(wall, 95))


def face_path(n_frames: int, redetect_every: int) -> None:
    """Per-frame analysis times on the demo video: MTCNN every frame vs detect + track, and their ratio."""
    import cv2

    from models.face_features import FaceAnalyzer
    from realtime.demo_video import demo_video_path

    cap = cv2.VideoCapture(str(demo_video_path()))
    frames: list[np.ndarray] = []
    while len(frames) < n_frames and (read := cap.read())[0]:
        frames.append(read[1])
    cap.release()
    print(f"face path: {len(frames)} demo frames {frames[0].shape[1]}x{frames[0].shape[0]}, FER backbone; "
          "milliseconds per frame")
    rows, boxes = {}, {}
    for label, every in (("MTCNN every frame", 1), (f"detect + track (1 in {redetect_every})", redetect_every)):
        analyzer = FaceAnalyzer("fer", redetect_every=every)
        analyzer.analyze(frames[0])  # warm-up: MTCNN's pyramid, the FER network
        if analyzer.tracker is not None:
            analyzer.tracker.reset()
        wall, tracked, boxes[every] = [], 0, []
        for frame in frames:
            t0 = time.perf_counter()
            obs = analyzer.analyze(frame)
            wall.append((time.perf_counter() - t0) * 1e3)
            tracked += bool(obs is not None and obs.tracked)
            boxes[every].append(None if obs is None else obs.box)
        rows[label] = (statistics.median(wall), float(np.percentile(wall, 95)), float(np.mean(wall)), tracked)
    print(f"{'':<28}{'median':>8}{'p95':>8}{'mean':>8}{'tracked':>9}{'x mean':>8}")
    base = next(iter(rows.values()))[2]
    for label, (med, p95, mean, tracked) in rows.items():
        print(f"{label:<28}{med:>8.2f}{p95:>8.2f}{mean:>8.2f}{tracked:>9}{base / mean:>8.1f}")
    pairs = list(zip(boxes[1], boxes[redetect_every], strict=True))
    ious = [box_iou(a, b) for a, b in pairs if a is not None and b is not None]
    print(f"detect + track vs MTCNN on the same frames: box IoU median {np.median(ious):.2f}, min {min(ious):.2f}; "
          f"faces lost {sum(a is not None and b is None for a, b in pairs)}, "
          f"invented {sum(a is None and b is not None for a, b in pairs)}")


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    return inter / (float(np.prod(a[2:] - a[:2])) + float(np.prod(b[2:] - b[:2])) - inter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch.set_num_threads")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--models", default="", help="comma-separated registry names (default: all)")
    parser.add_argument("--hop", type=float, default=0.05, help="seconds between live windows (default 0.05)")
    parser.add_argument("--live-warmup", type=int, default=300, help="live hops before timing (default 300)")
    parser.add_argument("--face-frames", type=int, default=300, help="demo video frames for the face path (0: skip)")
    parser.add_argument("--redetect-every", type=int, default=10, help="detect + track: MTCNN on one frame in N")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    sync = device.startswith("cuda")
    names = [n for n in args.models.split(",") if n] or registry.names()
    backends = ["torch"] + (["onnx"] if device == "cpu" else [])
    print(describe(device) + f"; onnxruntime {onnx_runtime_version() or 'not installed'}")
    print(f"batch 1, {args.runs} timed runs after {args.warmup} warm-up; milliseconds (median, p95)")
    print("forward: ready feature windows; predict: features from a raw window + forward; x: torch / onnx medians")
    print(f"{'model':<20}{'params':>9}  {'input':<16}{'fwd torch':>10}{'p95':>7}{'fwd onnx':>10}{'p95':>7}{'x':>6}"
          f"{'pred torch':>11}{'p95':>7}{'pred onnx':>10}{'p95':>7}{'x':>6}{'live':>7}{'p95':>7}{'x':>6}")
    rng = np.random.default_rng(0)
    for name in names:
        torch.manual_seed(0)
        model = registry.build(name).to(device).eval()
        spec = model.spec()
        shapes = input_shapes(spec)
        batch = feature_batch(spec, rng)
        cells: dict[str, tuple[float, float, float, float]] = {}
        window = None
        for backend in backends:
            try:
                predictor = NetworkPredictor(model, spec, f"{name}@untrained", trained=False, device=device,
                                             backend=backend)
            except OnnxUnavailable as exc:
                print(f"  {name}: no ONNX Runtime column: {exc}")
                continue
            window = window or make_window(predictor)
            f_med, f_p95, _ = timed(lambda p=predictor, b=batch: p.forward(b), args.runs, args.warmup, sync)
            p_med, p_p95, _ = timed(lambda p=predictor, w=window: p.predict(w), args.runs, args.warmup, sync)
            cells[backend] = (f_med, f_p95, p_med, p_p95)
        l_med, l_p95 = live_predict(predictor, args.hop, args.live_warmup, args.runs, sync)
        t = cells["torch"]
        o = cells.get("onnx")
        cols = [f"{t[0]:>10.2f}{t[1]:>7.2f}", f"{o[0]:>10.2f}{o[1]:>7.2f}{t[0] / o[0]:>6.1f}" if o else f"{'-':>23}",
                f"{t[2]:>11.2f}{t[3]:>7.2f}", f"{o[2]:>10.2f}{o[3]:>7.2f}{t[2] / o[2]:>6.1f}" if o else f"{'-':>23}",
                f"{l_med:>7.2f}{l_p95:>7.2f}{(o or t)[2] / l_med:>6.1f}"]
        params = sum(p.numel() for p in model.parameters())
        dims = " ".join(f"{s[1]}x{s[2]}" for s in shapes.values())
        print(f"{name:<20}{params:>9}  {dims:<16}" + "".join(cols))
    if args.face_frames:
        face_path(args.face_frames, args.redetect_every)


if __name__ == "__main__":
    main()
