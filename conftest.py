"""Test-session set-up: LSL limited to loopback and Qt offscreen, before anything imports pylsl or Qt."""

import os

from realtime.lsl_env import use_loopback_config

use_loopback_config()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
