"""Choosing between finished runs per fold by validation score only: nested model selection without a leak.

Candidate runs (e.g. one model under several settings) must hold the same folds with the same
training, validation and test trials. For every fold the candidate with the best validation score
(the early-stopping score, higher is better) is taken, and its test predictions, scores and fold
model are copied into the selection folder, which then reports like any run. Test scores are never
read to choose. The deployable model is the final model of the candidate chosen in most folds
(ties: best mean validation score), when that run trained one.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from offline.export import BUNDLE_NAME
from offline.report import load_run, write_report

#: Fields of a run's spec that must agree between candidates (everything that decides the folds and data).
SAME_DATA = ("dataset", "root", "protocol", "test_subjects", "dataset_options")


def check_same_folds(runs: list[Path], loaded: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    (config0, results0), run0 = loaded[0], runs[0]
    for run, (config, results) in zip(runs[1:], loaded[1:], strict=True):
        for key in SAME_DATA:
            if config["run"].get(key) != config0["run"].get(key):
                raise ValueError(f"{run} and {run0} differ in {key}: {config['run'].get(key)!r} vs "
                                 f"{config0['run'].get(key)!r}; candidates must share data and protocol")
        if config["model"]["targets"] != config0["model"]["targets"]:
            raise ValueError(f"{run} and {run0} predict different targets")
        if set(results) != set(results0):
            missing = sorted(set(results0) ^ set(results))
            raise ValueError(f"{run} and {run0} have not finished the same folds (differing: {', '.join(missing)})")
        for fold, result in results.items():
            if result["trials"] != results0[fold]["trials"]:
                raise ValueError(f"fold {fold}: {run} and {run0} split trials differently (seed or val_fraction?); "
                                 "validation scores are comparable only on the same validation trials")
    return sorted(results0)


def select(runs: list[str | Path], out: str | Path) -> dict[str, Any]:
    """Write the per-fold selection of ``runs`` into ``out`` and report it; returns the metrics."""
    run_dirs, out = [Path(r) for r in runs], Path(out)
    if len(run_dirs) < 2:
        raise ValueError("selection needs at least two candidate runs")
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new folder for the selection")
    loaded = [load_run(r) for r in run_dirs]
    folds = check_same_folds(run_dirs, loaded)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    chosen: dict[str, int] = {}
    for fold in folds:
        scores = [results[fold]["val_score"] for _, results in loaded]
        best = max(range(len(run_dirs)), key=lambda i: (scores[i], -i))  # first candidate wins a tie
        chosen[fold] = best
        source = run_dirs[best] / "folds" / fold
        shutil.copytree(source, tmp / "folds" / fold)
        candidates = dict(zip(map(str, run_dirs), scores, strict=True))
        result = {**loaded[best][1][fold], "selected": {"from": str(run_dirs[best]), "by": "validation score",
                                                        "candidates": candidates}}
        (tmp / "folds" / fold / "result.json").write_text(json.dumps(result, indent=1, default=float))
    counts = Counter(chosen.values())
    mean_val = [sum(results[f]["val_score"] for f in folds) / len(folds) for _, results in loaded]
    majority = max(counts, key=lambda i: (counts[i], mean_val[i]))
    config = {**loaded[majority][0], "selection": {
        "candidates": [{"run": str(r), "model": c["run"]["model"], "model_overrides": c["run"]["model_overrides"],
                        "train": c["train"], "folds_chosen": counts.get(i, 0)}
                       for i, (r, (c, _)) in enumerate(zip(run_dirs, loaded, strict=True))],
        "by": "validation score per fold (test scores are not read)",
        "chosen": {fold: str(run_dirs[i]) for fold, i in chosen.items()}}}
    (tmp / "config.json").write_text(json.dumps(config, indent=1, default=float))
    final = run_dirs[majority] / "model"
    if (final / f"{BUNDLE_NAME}.json").is_file():
        shutil.copytree(final, tmp / "model")
    tmp.rename(out)
    return write_report(out)
