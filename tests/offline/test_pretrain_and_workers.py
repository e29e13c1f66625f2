"""LFAN branch pretraining (the fusion starts exactly where the leader alone stands, and that start stays a
candidate) and ``--workers`` (folds in parallel processes give the same results as one process)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from models import registry
from offline.__main__ import main
from tests.support.dataset_files import write_mahnob_features

BRANCHES = ('branches={"face":{"features":"precomputed","feature_dim":38,"channels":[8]},'
            '"eeg":{"features":"precomputed","feature_dim":128,"channels":[8]}}')


def test_lfan_started_from_its_leader_regressor_predicts_what_the_leader_predicts() -> None:
    torch.manual_seed(0)
    model = registry.build("lfan", branches={"face": {"features": "precomputed", "feature_dim": 6, "channels": [4]},
                                             "eeg": {"features": "precomputed", "feature_dim": 5, "channels": [4]}})
    regressors = model.branch_regressors()
    assert regressors["face"].tcn is model.tcns["face"], "a branch regressor trains the LFAN's own TCN"
    for r in regressors.values():
        torch.nn.init.normal_(r.head.weight)
    x = {"face": torch.randn(3, 96, 6), "eeg": torch.randn(3, 96, 5)}
    model.eval(), regressors["face"].eval()
    before = model(x)["valence"]
    model.start_from(regressors)
    after = model(x)["valence"]
    torch.testing.assert_close(after, regressors["face"](x)["valence"])
    assert not torch.allclose(before, after)


def _train(root: Path, out: Path, workers: int) -> dict[str, dict]:
    main(["train", "--dataset", "mahnob-features", "--root", str(root), "--model", "lfan", "--protocol", "loso",
          "--out", str(out), "--model-set", BRANCHES, "--set", "epochs=2", "--set", "pretrain_epochs=2",
          "--set", "hop_seconds=8", "--set", "num_threads=1", "--set", "lr=1e-3", "--max-folds", "3", "--no-final",
          "--workers", str(workers)])
    return {p.parent.name: json.loads(p.read_text()) for p in (out / "folds").glob("*/result.json")}


def test_pretrained_start_is_a_candidate_and_workers_do_not_change_results(tmp_path: Path) -> None:
    root = write_mahnob_features(tmp_path / "mf", participants=(2, 3, 5, 6), n_trials=2, steps=(100, 130))
    one, two = _train(root, tmp_path / "one", 1), _train(root, tmp_path / "two", 2)
    assert sorted(one) == sorted(two) == ["P02", "P03", "P05"]
    for fold, result in one.items():
        start = result["history"][0]
        assert start["epoch"] == -1 and set(result["pretrain"]) == {"face", "eeg"}
        assert start["val_score"] == result["pretrain"]["face"]["best_score"], "the start is the face branch's best"
        assert result["val_score"] == max(h["val_score"] for h in result["history"])
        assert result["best_epoch"] == max(result["history"], key=lambda h: h["val_score"])["epoch"]
        other = two[fold]
        assert other["trials"] == result["trials"]
        np.testing.assert_allclose(other["val_score"], result["val_score"], rtol=1e-6)
        ccc = [[t["ccc"] for t in r["scores"]["targets"]["valence"]["trials"]] for r in (result, other)]
        assert len(ccc[0]) == 2, "both test trials of the fold are scored"
        np.testing.assert_allclose(ccc[1], ccc[0], rtol=1e-6)
