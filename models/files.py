"""Files written whole or not at all, and their content hashes: the one home of both for every room.

A reader (the live app's hot-swap watcher, a resumed run, another process building the same
cache) never sees half a file: each is written to a temporary file beside its target, synced,
then renamed over it. The temporary name ends in ``.tmp``, so a watcher of ``*.json`` (hot-swap)
never picks it up; writers that choose the format by extension (OpenCV, ``numpy.savez``) ask for
the target's suffix after it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: Path, write: Callable[[Path], object], keep_suffix: bool = False) -> None:
    """Write ``path`` through ``write(tmp)`` on a temp file beside it, fsync, then rename: readers never see half.

    Whatever ``write`` raises (a check of what it wrote, say) leaves ``path`` as it was and no temp file behind.
    ``keep_suffix``: the temp name ends in ``.tmp`` plus ``path``'s suffix, for writers that go by the extension.
    """
    if keep_suffix and path.suffix == ".json":
        raise ValueError(f"{path}: a temp file ending in .json would look like a manifest to the hot-swap watcher")
    _sweep_orphans(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix if keep_suffix else ''}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _sweep_orphans(path: Path) -> None:
    """Delete temp files of ``path`` left by writers that were killed mid-write (their process is gone)."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def atomic_write_text(path: Path, text: str) -> None:
    """``path`` holds ``text`` (UTF-8), written atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON (numpy scalars as floats), written atomically: run folders' records and state."""
    atomic_write_text(path, json.dumps(obj, indent=1, default=float))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
