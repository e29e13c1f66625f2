"""The app's one clock: LSL's (``pylsl.local_clock``), read through ``now()``.

Every time stamp of the live app (samples, camera frames, predictions, markers, recordings) is on
the LSL clock, because that is the clock LSL corrects remote streams onto: samples from another
machine's headset, a stimulus PC's markers and our own camera frames then line up on one axis.
This is the only module that reads pylsl's clock, so processing modules never import pylsl
(importing this one loads liblsl: configure LSL first, see ``realtime.lsl_env``).
"""

from __future__ import annotations

import time

from pylsl import local_clock


def now() -> float:
    """Seconds on this machine's LSL clock (monotonic; the axis every stream and prediction is stamped on)."""
    return float(local_clock())


def wall_minus_lsl() -> float:
    """``time.time() - now()``, from the tightest of a few back-to-back readings (maps Unix stamps onto LSL)."""
    best = (float("inf"), 0.0)
    for _ in range(5):
        a = now()
        w = time.time()
        b = now()
        best = min(best, (b - a, w - (a + b) / 2))
    return best[1]
