"""The adaptation experiment on the real MAHNOB-HCI features, on one held-out subject with one epoch (a smoke run).

The full experiment (every subject, real epochs) is run from the command line; see the report.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from calibration.experiment import CONDITIONS, run_experiment
from offline.evaluation import REG_METRICS

ROOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mahnob_features"


@pytest.mark.slow
@pytest.mark.skipif(not ROOT.is_dir(), reason=f"MAHNOB-HCI features not found at {ROOT}")
def test_one_held_out_subject_is_adapted_on_its_first_trials_and_scored_on_the_rest(tmp_path):
    args = argparse.Namespace(root=str(ROOT), out=str(tmp_path), model="tcn-eeg", adapt_fraction=0.5,
                              train_set=["epochs=1", "num_threads=2"], finetune_epochs=2, finetune_lr=1e-3,
                              subjects=["P27"])
    results = run_experiment(args)
    record = json.loads((tmp_path / "subjects" / "P27" / "record.json").read_text())
    adapt, evaluated = record["adapt_trials"], record["eval_trials"]
    assert len(adapt) == 3 and len(evaluated) == 3  # P27 has 6 trials
    assert max(map(int, adapt)) < min(map(int, evaluated))  # first trials adapt, later ones are scored
    for condition in CONDITIONS:
        scores = record["scores"][condition]
        assert scores["n"] == 3 and all(math.isfinite(scores[m]) for m in REG_METRICS)
    assert results["subjects"] == 1
    table = (tmp_path / "table.md").read_text()
    assert "| finetune-head |" in table and "| P27 | 3 |" in table
