"""A run's report from its folder: ``metrics.json`` (per fold and summary), a CSV per subject, plots.

Summaries count subjects as the independent units: mean +/- std over subjects with a bootstrap
95 % interval, for continuous targets under both CCC conventions (``ccc_subject``: a subject's
trials concatenated, the thesis's; ``ccc_trial``: per trial, then averaged per subject); for
classification also the pooled trial-level scores with the binomial 95 % interval a chance
classifier would reach on as many trials. Plots use matplotlib's Agg backend.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from offline.aggregation import chance_interval, confusion, restore_steps, summarise
from offline.evaluation import REG_METRICS, classification_scores, continuous_scores

CLASS_METRICS = ("accuracy", "balanced_accuracy", "f1")
PLAN_FILE = "plan.json"  # the folds a run is to train, by name (the report names the ones still missing)


def load_run(run: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A run folder's config and its finished folds' results (by fold name, in name order)."""
    config_path = run / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{run}: not a run folder (no config.json)")
    results = {p.parent.name: json.loads(p.read_text()) for p in sorted((run / "folds").glob("*/result.json"))}
    if not results:
        raise FileNotFoundError(f"{run}: no finished fold (folds/*/result.json)")
    return json.loads(config_path.read_text()), results


def _summarise_target(target: str, kind: str, results: list[dict[str, Any]]
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    trials = [r for res in results for r in res["scores"]["targets"][target]["trials"]]
    by_subject: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in trials:
        by_subject[r["subject"]].append(r)
    folds = {res["fold"]: res["scores"]["targets"][target]["pooled"] for res in results}
    if kind == "continuous":
        if any("sums" not in r for r in trials):
            raise ValueError("fold results without per-trial moment sums (written before both CCC conventions were "
                             "reported); retrain the run to report ccc_subject")
        rows: list[dict[str, Any]] = []
        for s, rs in sorted(by_subject.items()):
            scores = continuous_scores(rs)
            rows.append({"subject": s, "trials": scores.pop("n"), **{m: scores[m] for m in REG_METRICS}})
        summary: dict[str, Any] = {"per_subject": {m: summarise([row[m] for row in rows]) for m in REG_METRICS},
                   "all_trials": {f"{m}_trial": summarise([r[m] for r in trials]) for m in ("ccc", "pcc", "rmse")}}
    else:
        n_classes = len(trials[0]["prob"])
        rows = []
        for s, rs in sorted(by_subject.items()):
            scores = classification_scores(np.array([r["true"] for r in rs]), np.array([r["pred"] for r in rs]),
                                           n_classes)
            rows.append({"subject": s, "trials": len(rs), **{m: scores[m] for m in CLASS_METRICS}})
        y_true = np.array([r["true"] for r in trials])
        y_pred = np.array([r["pred"] for r in trials])
        pooled = classification_scores(y_true, y_pred, n_classes)
        lo, hi = chance_interval(len(trials), 1.0 / n_classes)
        summary = {"per_subject": {m: summarise([row[m] for row in rows]) for m in CLASS_METRICS},
                   "pooled_trials": pooled, "chance_interval_95": [lo, hi],
                   "confusion": confusion(y_true, y_pred, n_classes).tolist(),
                   "windows": {m: summarise([res["scores"]["targets"][target]["windows"][m] for res in results])
                               for m in CLASS_METRICS}}
    summary["per_fold"] = {m: summarise([f[m] for f in folds.values()])
                           for m in (REG_METRICS if kind == "continuous" else CLASS_METRICS)}
    return {"kind": kind, "summary": summary, "folds": folds}, rows


def subject_rows(results: list[dict[str, Any]], target: str, kind: str) -> list[dict[str, Any]]:
    """Per-subject scores of one target from a run's fold results, as in its ``subjects_<target>.csv``."""
    return _summarise_target(target, kind, results)[1]


def write_report(run_dir: str | Path) -> dict[str, Any]:
    """(Re)write metrics.json, subjects_<target>.csv and plots/ from the run folder; returns the metrics."""
    run_dir = Path(run_dir)
    config, by_fold = load_run(run_dir)
    results = list(by_fold.values())
    metrics: dict[str, Any] = {"run": config["run"], "train": config["train"], "n_folds": len(results),
                               "folds": [{"fold": r["fold"], "best_epoch": r["best_epoch"], "val_score": r["val_score"],
                                          "test_subjects": sorted({t.split("/")[0] for t in r["trials"]["test"]})}
                                         for r in results], "targets": {}}
    plan = run_dir / PLAN_FILE
    if plan.is_file():  # a partial run says so: the summary covers the finished folds only
        planned = json.loads(plan.read_text())["folds"]
        metrics["folds_planned"] = len(planned)
        metrics["folds_missing"] = [name for name in planned if name not in by_fold]
    for key in ("selection", "tuning"):
        if key in config:
            metrics[key] = config[key]
    for target, kind in config["model"]["targets"].items():
        metrics["targets"][target], rows = _summarise_target(target, kind, results)
        metrics["targets"][target]["subjects"] = rows
        _write_csv(run_dir / f"subjects_{target}.csv", rows)
        _plots(run_dir, target, kind, rows, metrics["targets"][target], results)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    return metrics


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _plots(run_dir: Path, target: str, kind: str, rows: list[dict[str, Any]], metrics: dict[str, Any],
           results: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = run_dir / "plots"
    folder.mkdir(exist_ok=True)
    metric = "ccc_subject" if kind == "continuous" else "balanced_accuracy"
    fig, ax = plt.subplots(figsize=(max(4, 0.4 * len(rows) + 2), 3))
    ax.bar([r["subject"] for r in rows], [r[metric] for r in rows])
    ax.set_ylabel(metric)
    ax.set_title(f"{target}: test {metric} per subject")
    ax.tick_params(axis="x", rotation=90)
    fig.tight_layout()
    fig.savefig(folder / f"subjects_{target}.png", dpi=100)
    plt.close(fig)
    if kind == "continuous":
        _trace_plot(plt, folder / f"traces_{target}.png", target, run_dir, results)
    else:
        m = np.asarray(metrics["summary"]["confusion"])
        fig, ax = plt.subplots(figsize=(3.5, 3))
        ax.imshow(m, cmap="Blues")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, str(v), ha="center", va="center")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{target}: test trials")
        fig.tight_layout()
        fig.savefig(folder / f"confusion_{target}.png", dpi=100)
        plt.close(fig)


def _trace_plot(plt: Any, path: Path, target: str, run_dir: Path, results: list[dict[str, Any]], n: int = 4) -> None:
    """Restored prediction vs truth for the first trial of the first ``n`` folds."""
    fig, axes = plt.subplots(min(n, len(results)), 1, figsize=(7, 1.8 * min(n, len(results))), squeeze=False)
    for ax, res in zip(axes[:, 0], results, strict=False):
        with np.load(run_dir / "folds" / res["fold"] / "predictions.npz") as z:
            trial, start = z["trial"], z["start_step"]
            rows = np.flatnonzero(trial == trial[0])
            pred, true = z[f"pred_{target}"][rows], z[f"true_{target}"][rows]
        length = int(start[rows].max() + pred.shape[1])
        offset = start[rows]
        ax.plot(restore_steps(list(true), offset.tolist(), length), label="true", color="k")
        ax.plot(restore_steps(list(pred), offset.tolist(), length), label="predicted", color="tab:red")
        ax.set_title(f"fold {res['fold']}: first test trial", fontsize=8)
        ax.set_ylim(-1, 1)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
