"""Pseudonymous subject ids: what a calibration session publishes on LSL and writes to its file.

Unless the operator asks to publish the id (``--publish-subject``), a session carries the
subject's pseudonym ``p`` + 12 hex digits of HMAC-SHA256(lab key, id) instead: stable under one
lab key, so a subject's sessions still join in training and adaptation, and meaningless to
anyone on the network without the key. The key is 32 random bytes in a file only its owner can
read (``$EMOLIVE_PSEUDONYM_KEY``, default ``~/.config/emolive/pseudonym.key``), made on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from calibration.profiles import check_subject

KEY_ENV = "EMOLIVE_PSEUDONYM_KEY"
KEY_BYTES = 32


def key_path() -> Path:
    """Where the lab key lives: ``$EMOLIVE_PSEUDONYM_KEY`` or ``~/.config/emolive/pseudonym.key``."""
    return Path(os.environ.get(KEY_ENV) or Path.home() / ".config" / "emolive" / "pseudonym.key")


def lab_key(create: bool = True) -> bytes | None:
    """The lab key (made, readable by its owner only, when ``create`` and absent); None when absent and not made."""
    path = key_path()
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(KEY_BYTES))
    key = bytes.fromhex(path.read_text().strip())
    if len(key) != KEY_BYTES:
        raise ValueError(f"pseudonym key {path} must hold {KEY_BYTES} bytes as hex")
    return key


def pseudonym(subject: str, key: bytes) -> str:
    """The subject's pseudonym under ``key`` (a safe name, so it can name files and folds)."""
    return "p" + hmac.new(key, check_subject(subject).encode(), hashlib.sha256).hexdigest()[:12]


def recorded_id(subject: str, publish: bool = False) -> str:
    """The id a session publishes and records: the subject id itself if ``publish``, else its pseudonym."""
    check_subject(subject)
    return subject if publish else pseudonym(subject, lab_key())  # type: ignore[arg-type]


def match_recorded(subject: str, recorded: set[str]) -> str:
    """Which of the ``recorded`` ids is ``subject``'s (itself, or its pseudonym under the lab key); else ``subject``."""
    if subject in recorded:
        return subject
    key = lab_key(create=False)
    alias = pseudonym(subject, key) if key is not None else ""
    return alias if alias in recorded else subject
