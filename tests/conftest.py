"""Suite-wide setting: calibration pseudonyms use a lab key made for this test run, never the user's own."""

from __future__ import annotations

import os

import pytest

from calibration.pseudonym import KEY_ENV

# Fixtures shared by several test folders (LSL names, the counter-stream sender, a BDF file, an untrained predictor).
pytest_plugins = ["tests.support.live_streams"]


@pytest.fixture(scope="session", autouse=True)
def lab_key_of_this_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point ``$EMOLIVE_PSEUDONYM_KEY`` (inherited by child processes) at a key file in this run's temp folder."""
    os.environ[KEY_ENV] = str(tmp_path_factory.mktemp("lab") / "pseudonym.key")
