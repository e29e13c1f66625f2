"""Where LSL gets its configuration: the project's loopback-only file for tests, CI, benchmarks and the demo.

LSL reads ``LSLAPICFG`` once, when liblsl loads, so ``use_loopback_config`` must run before
``pylsl`` is first imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LOOPBACK_CONFIG = Path(__file__).resolve().parent.parent / "config" / "lsl_loopback.cfg"


def use_loopback_config() -> Path:
    """Point LSL at the loopback-only config (ResolveScope=machine, KnownPeers=127.0.0.1, no IPv6)."""
    if "pylsl" in sys.modules and os.environ.get("LSLAPICFG") != str(LOOPBACK_CONFIG):
        raise RuntimeError("pylsl was imported before the loopback LSL config was set")
    os.environ["LSLAPICFG"] = str(LOOPBACK_CONFIG)
    return LOOPBACK_CONFIG
