"""The one rule for names that become file or folder names (subject ids, profile and bundle names, weight files).

A safe name fully matches ``[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`` (so it holds no separator, no
whitespace or newline, and is never ``.`` or ``..``). ``inside`` checks that a path built from
untrusted parts stays inside its root folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeGuard

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
RULE = "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"


class UnsafeNameError(ValueError):
    """A name or path that would leave its folder, or is not a safe file name."""


def is_safe_name(name: object) -> TypeGuard[str]:
    """Whether ``name`` is a string that fully matches the safe-name rule (and is not ``.`` or ``..``)."""
    return isinstance(name, str) and name not in (".", "..") and _SAFE_NAME.fullmatch(name) is not None


def check_name(name: object, what: str = "name") -> str:
    """``name`` if it is safe as a file or folder name, else UnsafeNameError saying what it names and the rule."""
    if not is_safe_name(name):
        raise UnsafeNameError(f"{what} {name!r} must be {RULE} (it names a file or folder)")
    return name


def inside(root: str | Path, path: str | Path, what: str = "path") -> Path:
    """``path`` resolved, if it lies inside ``root`` (symlinks followed), else UnsafeNameError naming both."""
    base, resolved = Path(root).resolve(), Path(path).resolve()
    if resolved != base and base not in resolved.parents:
        raise UnsafeNameError(f"{what} {str(path)!r} leaves its folder {str(root)!r}")
    return resolved
