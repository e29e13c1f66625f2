"""End-to-end latency and loss of the live pipeline on this machine, printed with the machine described.

A counter-stream sender (32 channels at 256 Hz by default) runs in a child process on loopback
LSL; the app's Pipeline reads it, runs the face worker on the demo camera and the model every
hop, publishes predictions and records the session. Printed: samples sent / received / lost
(checked on the recorded counter channel), prediction rate, freshness latency (published minus
newest sample used, per modality) p50/p95/p99, face frames per second, CPU use per process and
in total. Targets: 0 lost, >= 4 predictions/s, face >= 15 fps, EEG freshness p99 <= 100 ms.

    python bench/latency.py [--minutes 10] [--channels 32] [--rate 256] [--cam demo] [--model face-prior] [--gui]

With ``--gui`` the dashboard runs on the same pipeline (Qt offscreen when there is no display) and
its frame rate is printed too; compare the freshness figures with a run without it.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from realtime.lsl_env import use_loopback_config  # noqa: E402

use_loopback_config()

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from machine import describe_machine  # noqa: E402

from realtime.pipeline import Pipeline, PipelineConfig  # noqa: E402
from realtime.prediction import Prediction  # noqa: E402
from realtime.session_file import read_session  # noqa: E402
from realtime.status import format_status, percentiles, state_suffix  # noqa: E402


class Dashboard:
    """--gui: the dashboard window on the benchmark's pipeline; the main thread runs Qt's loop while waiting."""

    def __init__(self, pipeline: Pipeline, fps: float) -> None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PyQt6 import QtCore, QtWidgets

        from dashboard.window import DashboardWindow

        self.qt = QtCore
        self.app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
        self.window = DashboardWindow(pipeline, fps=fps)
        self.window.show()
        self.t0 = time.monotonic()

    def wait(self, seconds: float) -> None:
        loop = self.qt.QEventLoop()
        self.qt.QTimer.singleShot(round(seconds * 1000), loop.quit)
        loop.exec()

    def close(self) -> str:
        frames, elapsed = self.window.frames, time.monotonic() - self.t0
        self.window.close()  # stops the pipeline, as closing the app's window does
        target = 1000 / self.window.timer.interval()
        groups = ", ".join(f"{g} {n / elapsed:.1f}/s" for g, n in self.window.drawn.items())
        return (f"dashboard: {frames / elapsed:.1f} frames/s drawn (timer {target:.0f}/s; panel groups in turn: "
                f"{groups}), {self.window.bridge.received} predictions shown, {self.window.bridge.dropped} not drawn")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--rate", type=float, default=256.0)
    ap.add_argument("--cam", default="demo", help="camera for the face worker ('none' to leave it out)")
    ap.add_argument("--model", default="face-prior")
    ap.add_argument("--hop", type=float, default=0.25)
    ap.add_argument("--gui", action="store_true", help="run the dashboard too and report its frame rate")
    ap.add_argument("--gui-fps", type=float, default=30.0, help="with --gui: the dashboard's redraw rate")
    args = ap.parse_args()
    seconds = args.minutes * 60.0
    name = f"bench-{uuid.uuid4().hex[:8]}"

    sender = subprocess.Popen(
        [sys.executable, "-m", "realtime.counter_sender", "--name", name, "--source-id", name, "--channels",
         str(args.channels), "--rate", str(args.rate), "--duration", str(seconds), "--wait-consumer"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert sender.stdout.readline().strip() == "ready"
    fresh: dict[str, list[float]] = {}
    counts = {"predictions": 0, "with_output": 0}
    output_times: list[float] = []  # published instants of predictions with a model output
    problems: collections.Counter[str] = collections.Counter()

    def collect(p: Prediction) -> None:
        counts["predictions"] += 1
        if np.isfinite(p.valence) or np.isfinite(p.arousal) or p.probabilities:
            counts["with_output"] += 1
            output_times.append(p.published)
        problems.update(f"{k}: {re.sub(r'[0-9]+(?:[.][0-9]+)?', 'N', v.split(':')[0])}" for k, v in p.problems.items())
        for m, t in p.newest_sample.items():
            fresh.setdefault(m, []).append(p.published - t)

    with tempfile.TemporaryDirectory() as tmp:
        session = Path(tmp) / "bench.h5"
        pipeline = Pipeline(PipelineConfig(eeg="lsl", eeg_stream=name, camera=args.cam, model=args.model,
                                           hop=args.hop, app_name=name, record=str(session)))
        pipeline.start()
        pipeline.subscribe(collect)
        dashboard = Dashboard(pipeline, args.gui_fps) if args.gui else None
        me, child = psutil.Process(), psutil.Process(sender.pid)
        me.cpu_percent(), child.cpu_percent(), psutil.cpu_percent()
        cpu = {"app": [], "sender": [], "total": []}
        t0 = time.monotonic()
        while sender.poll() is None:
            dashboard.wait(1.0) if dashboard is not None else time.sleep(1.0)
            cpu["app"].append(me.cpu_percent())
            cpu["sender"].append(child.cpu_percent() if sender.poll() is None else np.nan)
            cpu["total"].append(psutil.cpu_percent())
            if len(cpu["app"]) % 30 == 0:
                print(format_status(pipeline.status()), flush=True)
        elapsed = time.monotonic() - t0
        time.sleep(1.0)  # the last chunks
        status = pipeline.status()
        face = pipeline.face_worker.counters() if pipeline.face_worker is not None else None
        gui = dashboard.close() if dashboard is not None else ""
        pipeline.stop()
        sent = int(sender.stdout.read().split()[-1])
        counter = read_session(session).streams["eeg"].data[:, 0].astype(np.int64)

    unique = np.unique(counter)
    lost = sent - unique.size
    print(f"\nmachine: {describe_machine()}")
    print(f"run: {elapsed:.0f} s, EEG {args.channels} ch at {args.rate:g} Hz over loopback LSL, camera {args.cam}, "
          f"model {status.model_id}{state_suffix(status.state)}, hop {args.hop:g} s")
    print(f"samples sent {sent}, received {status.streams['eeg'].samples_in}, recorded {counter.size}, "
          f"lost {lost}, duplicated {counter.size - unique.size}, out of order {int((np.diff(counter) <= 0).sum())}, "
          f"gaps {status.streams['eeg'].gaps}, recorder overruns {status.recorder.overruns if status.recorder else 0}")
    warm = (len(output_times) - 1) / (output_times[-1] - output_times[0]) if len(output_times) > 1 else 0.0
    print(f"predictions {counts['predictions'] / elapsed:.2f}/s ({counts['with_output'] / elapsed:.2f}/s with a "
          f"model output; {warm:.2f}/s from the first output on, i.e. after the model's first full window); "
          f"windows with a problem, by kind (numbers as N): {dict(problems) or 'none'}")
    for m, values in sorted(fresh.items()):
        p50, p95, p99 = percentiles(values)
        print(f"freshness {m}: p50 {1000 * p50:.0f} ms, p95 {1000 * p95:.0f} ms, p99 {1000 * p99:.0f} ms "
              f"(n={len(values)})")
    if face is not None:
        print(f"face worker: {face.frames_processed / elapsed:.1f} frames/s processed (of {face.frames_captured} "
              f"captured, {face.frames_dropped} dropped as stale), faces found in {face.faces_found}, "
              f"capture-to-row latency mean {1000 * face.mean_latency:.0f} ms")
    if gui:
        print(gui)
    for k, v in cpu.items():
        print(f"CPU {k}: mean {np.nanmean(v):.0f} %, max {np.nanmax(v):.0f} % (100 % = one core)" if k != "total"
              else f"CPU total (all processes on the machine): mean {np.nanmean(v):.0f} %, max {np.nanmax(v):.0f} % "
                   f"of {psutil.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
