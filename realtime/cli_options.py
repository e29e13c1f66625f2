"""Command-line options of the live sources, shared by ``app.py`` and ``python -m calibration run``.

They live here, below both, so that no package imports ``app``: BrainFlow board parameters, the
frame-recording options and the choice of LSL configuration (which must happen before liblsl loads).
"""

from __future__ import annotations

import argparse
import os


def parse_board_args(text: str) -> dict[str, str]:
    """'key=value,key=value' -> dict, with a clear error for a malformed item."""
    out = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--board-args items are key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def positive(text: str) -> float:
    """An argparse type: a number > 0."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def count(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a number in (0, 1]."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def add_frame_options(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """--record-frames, --frame-scale, --frame-fps (app.py and calibration run)."""
    group.add_argument("--record-frames", action="store_true",
                       help="also record the camera's frames (downscaled, rate-capped) into the session file")
    group.add_argument("--frame-scale", type=fraction, default=0.25, metavar="S",
                       help="with --record-frames: downscale factor, 0 < S <= 1 (default: %(default)s)")
    group.add_argument("--frame-fps", type=positive, default=5.0, metavar="FPS",
                       help="with --record-frames: most frames recorded per second (default: %(default)s)")


def configure_lsl(args: argparse.Namespace) -> None:
    """Choose the LSL config before liblsl is loaded (liblsl reads it once, when it loads)."""
    if args.lsl_loopback:
        from realtime.lsl_env import use_loopback_config

        use_loopback_config()
    elif args.lsl_config:
        if not os.path.isfile(args.lsl_config):
            raise SystemExit(f"error: LSL config {args.lsl_config} does not exist")
        os.environ["LSLAPICFG"] = os.path.abspath(args.lsl_config)
