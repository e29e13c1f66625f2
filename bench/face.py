"""Face worker throughput on the demo camera: processed fps, dropped frames, per-frame latency, on this machine.

Runs the real path (demo video through OpenCV, paced at 25 fps -> LatestFrame -> FaceWorker with
MTCNN + FER, rows into ring buffers) for a fixed time and prints the figures with the machine.
``--redetect-every N``: MTCNN on one frame in N, the face followed by optical flow in between (the
app's default, 10); 1 runs MTCNN on every frame. ``bench/models.py`` sets the two side by side.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from realtime.lsl_env import use_loopback_config

use_loopback_config()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from machine import describe_machine  # noqa: E402

from models.face_backbones import FER_CLASSES  # noqa: E402
from models.face_features import FaceAnalyzer  # noqa: E402
from realtime.camera import Camera, parse_camera_spec  # noqa: E402
from realtime.face_worker import FaceWorker  # noqa: E402
from realtime.ring_buffer import RingBuffer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--backbone", default="fer", choices=("fer", "resnet50"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cam", default="demo")
    ap.add_argument("--redetect-every", type=int, default=10, help="MTCNN on one frame in N (1: every frame)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    analyzer = FaceAnalyzer(args.backbone, args.device, redetect_every=args.redetect_every)
    camera = Camera(parse_camera_spec(args.cam))
    worker = FaceWorker(camera.frames, analyzer, RingBuffer(analyzer.embedding_dim, 4096),
                        RingBuffer(len(FER_CLASSES), 4096))
    analyzer.analyze(first_frame(camera.source.target))  # warm-up outside the measurement
    camera.start()
    worker.start()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    time.sleep(args.seconds)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    worker.stop()
    camera.stop()
    c = worker.counters()
    print(f"machine: {describe_machine()}")
    print(f"source: {camera.label} at {camera.fps:.1f} fps, {camera.frame_size}; backbone {args.backbone} "
          f"on {args.device}, torch threads {args.threads}, MTCNN on one frame in {args.redetect_every}; "
          f"{elapsed:.1f} s")
    print(f"captured {c.frames_captured}, processed {c.frames_processed} ({c.frames_processed / elapsed:.1f} fps), "
          f"dropped as stale {c.frames_dropped}, faces found {c.faces_found} ({c.faces_tracked} tracked), "
          f"without face {c.frames_without_face}, "
          f"errors {c.errors}")
    print(f"per-frame analysis {1000 * c.mean_processing:.1f} ms, capture-to-buffer latency "
          f"{1000 * c.mean_latency:.1f} ms (means); process CPU {100 * cpu / elapsed:.0f} % of one core")


def first_frame(target: int | str) -> np.ndarray:
    cap = cv2.VideoCapture(target)
    ok, image = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read a frame from {target}")
    return image


if __name__ == "__main__":
    main()
