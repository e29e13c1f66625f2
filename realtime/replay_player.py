"""Plays an EEG recording as an LSL outlet in real time: EDF / BDF / FIF (via MNE), session files or XDF.

Samples are pushed in chunks paced by the wall clock, each with its own time stamp, EEG in
microvolts, channel labels in the stream description. Used by ``--eeg replay:FILE`` (in a child
process), by the tests, and standalone:

    python -m realtime.replay_player FILE --name NAME [--loop]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

MNE_SUFFIXES = (".edf", ".bdf", ".fif", ".fif.gz")
SESSION_SUFFIXES = (".h5", ".hdf5", ".xdf")  # read by realtime.session_file (XDF: ours or LabRecorder's)
CHUNK_SECONDS = 0.02


def check_replay_file(path: str | Path) -> Path:
    """The file as a Path, or a clear error if it is missing or of a kind we cannot replay."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"replay file {path} does not exist")
    name = path.name.lower()
    if not name.endswith(MNE_SUFFIXES + SESSION_SUFFIXES):
        raise ValueError(f"cannot replay {path}: expected one of {', '.join(MNE_SUFFIXES + SESSION_SUFFIXES)}")
    return path


def load_recording(path: str | Path) -> tuple[np.ndarray, tuple[str, ...], float]:
    """(data float32 (n, channels) in microvolts, channel names, rate) of the EEG in ``path``."""
    path = check_replay_file(path)
    if path.name.lower().endswith(SESSION_SUFFIXES):
        from realtime.session_file import read_session

        eeg = read_session(path).streams.get("eeg")
        if eeg is None or len(eeg.data) == 0:
            raise ValueError(f"session file {path} holds no EEG")
        return eeg.data.astype(np.float32), eeg.channels, eeg.rate
    import mne

    raw = mne.io.read_raw(path, preload=True, verbose="error")
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if len(picks) == 0:
        raise ValueError(f"{path} holds no EEG channels (channel types: {sorted(set(raw.get_channel_types()))})")
    data = raw.get_data(picks=picks, units="uV").T.astype(np.float32)
    return data, tuple(raw.ch_names[i] for i in picks), float(raw.info["sfreq"])


def play(data: np.ndarray, channels: tuple[str, ...], rate: float, name: str, source_id: str, loop: bool) -> int:
    """Push ``data`` to an LSL outlet at ``rate``; returns the number of samples pushed."""
    import pylsl

    from realtime import clock

    info = pylsl.StreamInfo(name, "EEG", len(channels), rate, pylsl.cf_float32, source_id)
    info.set_channel_labels(list(channels))
    info.set_channel_units("microvolts")
    outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360)
    print("ready", flush=True)
    t0 = clock.now()
    sent = 0
    n = len(data)
    while loop or sent < n:
        due = int((clock.now() - t0) * rate) + 1
        if not loop:
            due = min(due, n)
        if due > sent:
            idx = np.arange(sent, due)
            outlet.push_chunk(data[idx % n], (t0 + idx / rate).tolist())
            sent = due
        time.sleep(CHUNK_SECONDS)
    time.sleep(1.0)  # let inlets take the last chunk before the outlet goes
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m realtime.replay_player",
                                     description="Play an EEG recording (EDF, BDF, FIF, session .h5, XDF) as an "
                                                 "LSL stream.")
    parser.add_argument("file", help="recording to play")
    parser.add_argument("--name", required=True, help="LSL stream name")
    parser.add_argument("--source-id", default="", help="LSL source_id (default: the file name)")
    parser.add_argument("--loop", action="store_true", help="start again at the end, without a gap in time stamps")
    args = parser.parse_args(argv)
    try:
        data, channels, rate = load_recording(args.file)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    if "LSLAPICFG" not in os.environ:
        from realtime.lsl_env import use_loopback_config

        use_loopback_config()
    source_id = args.source_id or f"replay-{Path(args.file).name}"
    play(data, channels, rate, args.name, source_id, args.loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
