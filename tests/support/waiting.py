"""Polling helper for tests that wait on live threads (streams, workers, watchers)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_for(condition: Callable[[], object], timeout: float, step: float = 0.02) -> float:
    """Seconds until ``condition()`` is true; fails the test after ``timeout`` seconds."""
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(step)
    return time.monotonic() - t0
