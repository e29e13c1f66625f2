"""Windowing by time: where windows end when every input of a model is timestamped frames (a face-only dataset)."""

from __future__ import annotations

import numpy as np

from models import registry
from offline.trials import Signal, Trial
from offline.windowing import make_windows, window_ends


def _face_only_trial(seconds: float, fps: float, dim: int, seed: int = 0) -> Trial:
    """Face embeddings at jittered frame times (a face found in most frames), and a 4 Hz valence trace."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, seconds, 1.0 / fps) + rng.uniform(0.0, 0.5 / fps, round(seconds * fps))
    found = rng.uniform(size=times.size) > 0.1
    frames = Signal(rng.standard_normal((int(found.sum()), dim)), fps, tuple(f"f{i}" for i in range(dim)),
                    timestamps=times[found])
    steps = round(seconds * 4)
    trace = Signal(np.sin(np.arange(steps) / 10.0)[:, None] * 0.5, 4.0, ("valence",))
    return Trial("video", "S01", "t01", {"face": frames}, traces={"valence": trace})


def test_windows_of_a_face_only_trial_end_at_its_newest_frame() -> None:
    spec = registry.build("tcn-face").spec()
    inp = spec.inputs["face"]
    trial = _face_only_trial(seconds=40.0, fps=10.0, dim=inp.feature_dim)
    newest = float(trial.signals["face"].timestamps[-1])
    ends = window_ends(trial, spec, hop_seconds=4.0)
    lookback = inp.window_seconds + inp.params["max_gap_seconds"]
    assert np.isfinite(ends).all() and ends.size
    assert ends[0] == lookback and ends[-1] == newest
    assert np.all(np.diff(ends) <= 4.0 + 1e-9) and np.all(np.diff(ends) > 0)

    ws = make_windows([trial], [0], spec, hop_seconds=4.0)  # the real transform on every window
    assert ws.inputs["face"].shape == (ends.size, round(inp.window_seconds * inp.rate), inp.feature_dim)
    assert np.isfinite(ws.inputs["face"]).all()


def test_face_only_trial_shorter_than_a_window_gives_no_window() -> None:
    spec = registry.build("tcn-face").spec()
    trial = _face_only_trial(seconds=10.0, fps=10.0, dim=spec.inputs["face"].feature_dim)
    assert window_ends(trial, spec, hop_seconds=4.0).size == 0
