"""One description of the machine for every benchmark: CPU model, cores, memory, load, GPU, Python and torch."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import psutil
import torch


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_machine() -> str:
    """e.g. 'AMD EPYC, 2 logical cores, 24 GiB RAM, load average 0.2/0.7/1.1, no GPU; Python 3.11.7, torch 2.14.1'."""
    load = "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu_model()}, {os.cpu_count()} logical cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
            f"load average {load}, {gpu}; Python {platform.python_version()}, torch {torch.__version__}, "
            f"torch threads {torch.get_num_threads()}")
