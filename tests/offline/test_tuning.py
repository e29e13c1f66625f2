"""``offline tune``: nested search whose choice comes from validation scores only. Planted case: the test
subject carries the label with the opposite sign, so the setting that learns (best on validation) is the worst
on test, and a search that peeked at test scores would choose the other one."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from offline.__main__ import _parser, _spec, main
from offline.tuning import parse_param
from tests.support.dataset_files import write_mahnob_features

LEARNS, STALLS = "0.003", "1e-07"


def _tune(root: Path, out: Path) -> int:
    return main(["tune", "--dataset", "mahnob-features", "--root", str(root), "--model", "tcn-face",
                 "--protocol", "holdout", "--test-subjects", "P06", "--out", str(out), "--set", "epochs=6",
                 "--set", "hop_seconds=4", "--set", "num_threads=1", "--space", f"lr=choice:{STALLS},{LEARNS}",
                 "--sampler", "grid", "--trials", "2", "--batch", "2"])


def test_the_choice_is_the_validation_best_even_where_test_disagrees(tmp_path: Path) -> None:
    root = write_mahnob_features(tmp_path / "mf", participants=(2, 3, 5, 6), n_trials=2, steps=(200, 260),
                                 inverted=(6,))
    out = tmp_path / "search"
    assert _tune(root, out) == 0
    with (out / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["lr"] for r in rows) == sorted([LEARNS, STALLS]) and {r["fold"] for r in rows} == {"holdout"}
    test_key = "test_valence_ccc_subject (not used to choose)"
    val_best = max(rows, key=lambda r: float(r["val_score"]))
    test_best = max(rows, key=lambda r: float(r[test_key]))
    assert val_best["lr"] == LEARNS and test_best["lr"] == STALLS, "the planted case: validation and test disagree"
    result = json.loads((out / "folds" / "holdout" / "result.json").read_text())
    assert result["tuned"]["settings"] == {"lr": LEARNS} and result["tuned"]["trial"] == int(val_best["trial"])
    assert result["scores"]["targets"]["valence"]["pooled"]["ccc_subject"] == pytest.approx(float(val_best[test_key]))
    chosen = json.loads((out / "chosen.json").read_text())
    assert chosen["train"] == {"lr": "0.003"} and chosen["folds_chosen"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tuning"]["chosen"]["holdout"]["lr"] == LEARNS and not metrics["folds_missing"]
    args = _parser().parse_args(["train", "--dataset", "mahnob-features", "--root", str(root), "--model", "tcn-face",
                                 "--protocol", "loso", "--out", str(tmp_path / "final"), "--tuned", str(out)])
    assert _spec(args).train_overrides == {"lr": "0.003"}, "train --tuned starts from the chosen settings"

    before = {p: p.stat().st_mtime_ns for p in (out / "trials").rglob("result.json")}
    assert _tune(root, out) == 0, "started again, the search replays its finished trials"
    assert {p: p.stat().st_mtime_ns for p in (out / "trials").rglob("result.json")} == before
    assert json.loads((out / "metrics.json").read_text())["targets"] == metrics["targets"]


@pytest.mark.parametrize("text", ["lr", "lr=log:0:1", "lr=float:1:0", "epochs=int:1.5:3", "x=choice:1",
                                  "lr=normal:0:1", "lr=float:a:b"])
def test_a_bad_search_space_is_refused_with_its_text(text: str) -> None:
    with pytest.raises(ValueError, match="--space"):
        parse_param(text)
