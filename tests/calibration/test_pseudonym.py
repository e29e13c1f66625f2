"""Pseudonyms: stable under one lab key, different under another, safe as names, and found again by adapt."""

from __future__ import annotations

import stat

import pytest

from calibration.profiles import ProfileError
from calibration.pseudonym import KEY_ENV, key_path, lab_key, match_recorded, pseudonym, recorded_id
from models.identifiers import is_safe_name


def test_pseudonyms_are_stable_per_key_and_reveal_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "lab" / "key"))
    assert lab_key(create=False) is None and match_recorded("S01", {"S01-old"}) == "S01"
    key = lab_key()
    assert stat.S_IMODE(key_path().stat().st_mode) == 0o600  # readable by its owner only
    alias = recorded_id("S01")
    assert alias == pseudonym("S01", key) == recorded_id("S01") and is_safe_name(alias) and "S01" not in alias
    assert recorded_id("S01", publish=True) == "S01"
    assert pseudonym("S02", key) != alias and pseudonym("S01", bytes(32)) != alias
    assert match_recorded("S01", {alias, "x"}) == alias and match_recorded("S01", {"S01"}) == "S01"
    assert match_recorded("S02", {alias}) == "S02"  # not S02's: adapt then names the other subject
    with pytest.raises(ProfileError, match="subject id"):
        recorded_id("../S01")
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "short"))
    (tmp_path / "short").write_text("abcd")
    with pytest.raises(ValueError, match="must hold 32 bytes"):
        lab_key()
