"""Test-session set-up: LSL limited to loopback and Qt offscreen, before anything imports pylsl or Qt."""

import os
import tempfile
from collections.abc import Iterator

import pytest

from realtime.lsl_env import use_loopback_config

use_loopback_config()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# ONNX exports of this test session (app subprocesses inherit it) go to a folder of their own, not ~/.cache.
os.environ.setdefault("EMOLIVE_ONNX_CACHE", tempfile.mkdtemp(prefix="emolive-onnx-"))


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread() -> Iterator[None]:
    """One intra-op torch thread, as the app uses on machines of <= 4 cores: small networks and MTCNN gain
    nothing from a second thread on 2 shared cores (the threads spin instead)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
