"""A long soak of the live app on this machine: does it lose samples, grow, or fail to recover over an hour?

A counter-stream sender (32 channels at 256 Hz) runs in a child process on loopback LSL and is
killed (SIGKILL) and started again every ``--restart-minutes``; each new sender continues the
counter from the last sample the app received and waits for the app's inlet before sending, so
every sample the app was offered must be recorded exactly once. The app's Pipeline reads it, runs
the face worker on the demo camera and a tcn-eeg model every hop, publishes, records the session
(HDF5) and watches a weights folder into which a new bundle is deployed every ``--swap-minutes``.

Printed, with the machine described: samples recorded / missing / duplicated / out of order, sender
restarts and the seconds to the first new sample after each, swaps done, RSS at start and end and
its least-squares slope per hour over the run's second half (the first minutes hold start-up
allocations that Python and glibc hand back later, which a slope over the whole run mistakes for a fall), the
recorder's overruns and losses, the face worker's dropped frames, the file size.

    python bench/soak.py [--minutes 60] [--restart-minutes 5] [--swap-minutes 10]
"""

from __future__ import annotations

import argparse
import signal
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
import torch  # noqa: E402
from machine import describe_machine  # noqa: E402

from models import registry  # noqa: E402
from models.bundle import save_bundle  # noqa: E402
from realtime.pipeline import Pipeline, PipelineConfig  # noqa: E402
from realtime.session_file import read_session  # noqa: E402
from realtime.status import format_status  # noqa: E402

CHANNELS, RATE = 32, 256.0
MODEL_CHANNELS = [f"EEG{i}" for i in range(1, 9)]


def deploy_bundle(folder: Path, name: str, bias: float) -> None:
    """A tcn-eeg bundle on the counter stream's EEG channels, written as the deploy command writes it."""
    model = registry.build("tcn-eeg", steps=4, eeg_channels=MODEL_CHANNELS)
    with torch.no_grad():
        model.head.bias.fill_(bias)
    save_bundle(model, folder, name, trained=True, provenance={"dataset": "soak", "protocol": name})


def start_sender(name: str, start_count: int) -> tuple[subprocess.Popen, float]:
    """A counter sender continuing at ``start_count``; returns it and the time it said ready."""
    sender = subprocess.Popen(
        [sys.executable, "-m", "realtime.counter_sender", "--name", name, "--source-id", name, "--channels",
         str(CHANNELS), "--rate", str(RATE), "--start-count", str(start_count), "--wait-consumer"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert sender.stdout.readline().strip() == "ready"
    return sender, time.monotonic()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--restart-minutes", type=float, default=5.0)
    ap.add_argument("--swap-minutes", type=float, default=10.0)
    ap.add_argument("--cam", default="demo")
    args = ap.parse_args()
    name = f"soak-{uuid.uuid4().hex[:8]}"
    me = psutil.Process()
    rss: list[tuple[float, float]] = []
    recoveries: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        weights, session = Path(tmp) / "live", Path(tmp) / "soak.h5"
        deploy_bundle(weights, "start", 0.0)
        sender, _ = start_sender(name, 0)
        pipeline = Pipeline(PipelineConfig(eeg="lsl", eeg_stream=name, camera=args.cam, model=str(weights),
                                           app_name=name, record=str(session), weights_dir=str(weights)))
        pipeline.start()
        buffer = pipeline.source.buffer
        t0 = time.monotonic()
        next_restart, next_swap, swaps, last_print = args.restart_minutes * 60, args.swap_minutes * 60, 0, 0.0
        try:
            while (elapsed := time.monotonic() - t0) < args.minutes * 60:
                time.sleep(1.0)
                rss.append((elapsed, me.memory_info().rss / 2**20))
                if elapsed >= next_restart:
                    next_restart += args.restart_minutes * 60
                    sender.send_signal(signal.SIGKILL)
                    sender.wait()
                    time.sleep(1.0)  # the last chunks the dead outlet had sent arrive, or never will
                    last = int(buffer.latest(1)[0][0, 0])
                    sender, ready = start_sender(name, last + 1)
                    while int(buffer.latest(1)[0][0, 0]) <= last and time.monotonic() - ready < 60:
                        time.sleep(0.01)
                    recoveries.append(time.monotonic() - ready)
                if elapsed >= next_swap:
                    next_swap += args.swap_minutes * 60
                    swaps += 1
                    deploy_bundle(weights, f"swap{swaps}", 0.1 * swaps)
                if elapsed - last_print >= 300:
                    last_print = elapsed
                    print(f"{elapsed / 60:5.1f} min  RSS {rss[-1][1]:.0f} MiB  {format_status(pipeline.status())}",
                          flush=True)
        finally:
            time.sleep(1.0)
            status = pipeline.status()
            face = pipeline.face_worker.counters() if pipeline.face_worker is not None else None
            pipeline.stop()
            sender.kill()
            sender.wait()
        accepted = [e for e in pipeline.watcher.events if e.accepted]
        size = session.stat().st_size
        counter = read_session(session).streams["eeg"].data[:, 0].astype(np.int64)

    expected = np.arange(counter.min(), counter.max() + 1)
    unique = np.unique(counter)
    times, mib = np.array(rss).T
    late = times >= times[-1] / 2
    slope = np.polyfit(times[late] / 3600.0, mib[late], 1)[0] if late.sum() > 2 else float("nan")
    print(f"\nmachine: {describe_machine()}")
    print(f"run: {times[-1] / 60:.1f} min, EEG {CHANNELS} ch at {RATE:g} Hz over loopback LSL, camera {args.cam}, "
          f"model tcn-eeg every 0.25 s, recording to HDF5, hot-swap folder watched")
    print(f"samples recorded {counter.size}, missing {expected.size - unique.size}, duplicated "
          f"{counter.size - unique.size}, out of order {int((np.diff(counter) <= 0).sum())}")
    print(f"sender killed and restarted {len(recoveries)} times; seconds from restart to the first new sample: "
          + (", ".join(f"{r:.2f}" for r in recoveries) or "none") + (f" (max {max(recoveries):.2f})" if recoveries
                                                                     else ""))
    print(f"bundles deployed {swaps}, swapped in {len(accepted)}: {', '.join(e.bundle for e in accepted) or 'none'}")
    marks = ", ".join(f"{t / 60:.0f} min {m:.0f}" for t, m in zip(times[::600], mib[::600], strict=True))
    print(f"RSS (MiB) {marks}, end {mib[-1]:.0f}; slope over the second half: {slope:+.1f} MiB/hour")
    rec = status.recorder
    print(f"recorder: overruns {rec.overruns}, samples lost {rec.samples_lost}, error {rec.error or 'none'}; "
          f"session file {size / 2**20:.1f} MiB")
    if face is not None:
        print(f"face worker: {face.frames_processed} frames processed, {face.frames_dropped} dropped as stale")
    return 0


if __name__ == "__main__":
    sys.exit(main())
