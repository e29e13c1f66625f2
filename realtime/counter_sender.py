"""An LSL outlet of a sample-counter EEG stream, run as a child process by the tests and the latency bench.

Channel 1 counts samples (float32 holds integers exactly up to 2**24, 18 h at 256 Hz);
channels 2 and 3 carry the sender's own LSL time stamp of the sample (whole seconds and the
fraction, each exact in float32), so a receiver can check the time stamps it got; the other
channels are a 10 Hz sine plus noise. Samples are paced by the wall clock and pushed in
chunks with one time stamp per sample.

    python -m realtime.counter_sender --name NAME --source-id ID [--channels 32] [--rate 256]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def counter_labels(n_channels: int) -> list[str]:
    return ["counter", "ts_seconds", "ts_fraction"] + [f"EEG{i + 1}" for i in range(n_channels - 3)]


def make_chunk(first: int, n: int, t0: float, rate: float, n_channels: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``first .. first+n-1``: (data float32 (n, C), LSL time stamps (n,))."""
    k = np.arange(first, first + n)
    ts = t0 + k / rate
    data = np.empty((n, n_channels), dtype=np.float32)
    data[:, 0] = k
    data[:, 1] = np.floor(ts)
    data[:, 2] = ts - np.floor(ts)
    data[:, 3:] = 20.0 * np.sin(2 * np.pi * 10.0 * ts)[:, None] + rng.normal(0, 5.0, (n, n_channels - 3))
    return data, ts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--source-id", required=True)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--rate", type=float, default=256.0)
    parser.add_argument("--start-count", type=int, default=0, help="value of the first sample's counter")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run (0: until killed)")
    parser.add_argument("--nan-from", type=int, default=-1, help="first counter value whose EEG channels are NaN")
    parser.add_argument("--nan-count", type=int, default=0, help="how many samples from --nan-from are NaN")
    parser.add_argument("--wait-consumer", action="store_true",
                        help="start counting only once an inlet is connected (so it can receive every sample)")
    args = parser.parse_args(argv)
    if args.channels < 4:
        parser.error("--channels must be at least 4 (counter, two time-stamp channels, EEG)")

    from realtime.lsl_env import use_loopback_config

    if "LSLAPICFG" not in os.environ:
        use_loopback_config()
    import pylsl

    from realtime import clock

    info = pylsl.StreamInfo(args.name, "EEG", args.channels, args.rate, pylsl.cf_float32, args.source_id)
    info.set_channel_labels(counter_labels(args.channels))
    info.set_channel_units("microvolts")
    outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360)
    rng = np.random.default_rng(args.start_count)
    print("ready", flush=True)
    if args.wait_consumer:
        while not outlet.wait_for_consumers(1.0):
            pass
    t0 = clock.now() - args.start_count / args.rate
    sent = args.start_count
    t_start = clock.now()
    while args.duration <= 0 or clock.now() - t_start < args.duration:
        due = int((clock.now() - t0) * args.rate) + 1
        if due > sent:
            data, ts = make_chunk(sent, due - sent, t0, args.rate, args.channels, rng)
            nan = (np.arange(sent, due) >= args.nan_from) & (np.arange(sent, due) < args.nan_from + args.nan_count)
            data[nan, 3:] = np.nan
            outlet.push_chunk(data, ts.tolist())
            sent = due
        time.sleep(0.01)
    time.sleep(0.5)  # let inlets take the last chunk before the outlet goes
    print(f"sent {sent - args.start_count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
