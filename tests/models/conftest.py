"""Fixtures for the model tests: live-like windows (EEG samples, irregular face frames) for any model's spec."""

from __future__ import annotations

import pytest

from tests.support.windows import MakeWindow, make_window


@pytest.fixture
def window_for() -> MakeWindow:
    return make_window

