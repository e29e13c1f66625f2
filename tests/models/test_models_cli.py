"""``python -m models list`` names every registered model with its inputs and outputs."""

from __future__ import annotations

import pytest

from models import registry
from models.__main__ import main


def test_list_names_every_model_with_its_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    heads = [line.split(":")[0] for line in out.splitlines() if not line.startswith(" ")]
    assert heads == registry.names() and {"cmt-seedv", "r2gfanet", "lfan", "stalignnet"} <= set(heads)
    block = out.split("r2gfanet:")[1].split("\n")
    assert block[1].strip() == "inputs: eeg (eeg_de, 8 x 310), eye (eye_movement, 8 x 33)"
    assert block[2].strip() == "outputs: emotion (multiclass)"
