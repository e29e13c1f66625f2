"""The command-line options that pick an engine (``--engine local|ray`` and its settings), shared by every command
that runs independent jobs: ``offline train`` and ``tune`` (folds) and ``calibration experiment`` (subjects)."""

from __future__ import annotations

import argparse

from offline.engines import ENGINES, Engine, make_engine


def add_engine_arguments(p: argparse.ArgumentParser, unit: str = "folds") -> None:
    """``--workers``, ``--engine``, ``--ray-address``, ``--fold-cpus``, ``--fold-gpus`` and ``--retries``; ``unit``
    names what the jobs are in the help texts."""
    one = unit.rstrip("s")
    p.add_argument("--workers", type=int, default=1,
                   help=f"local engine: run {unit} in N processes at once (each with num_threads threads, "
                        "default cores / N)")
    p.add_argument("--engine", default="local", choices=ENGINES,
                   help=f"where {unit} run: local (this process or --workers processes) or ray (one task per {one})")
    p.add_argument("--ray-address", default="", metavar="ADDRESS",
                   help="ray: auto (the cluster of `ray start` on this machine), ray://HOST:PORT, or a GCS "
                        "address; default: start a local Ray instance")
    p.add_argument("--fold-cpus", type=float, default=1.0, help=f"ray: CPUs each {one} asks for (default 1)")
    p.add_argument("--fold-gpus", type=float, default=0.0, help=f"ray: GPUs each {one} asks for (e.g. 0.5)")
    p.add_argument("--retries", type=int, default=2,
                   help=f"times a {one} is tried again when its worker died or ran out of memory (default 2)")


def engine_from(args: argparse.Namespace) -> Engine:
    """The engine the options of :func:`add_engine_arguments` asked for."""
    return make_engine(args.engine, args.workers, args.retries, args.ray_address, args.fold_cpus, args.fold_gpus)
