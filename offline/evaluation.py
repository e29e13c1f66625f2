"""Scores of one fold's predictions: per window, per trial and per subject, for every target of the model.

Classification: a window's class is its arg-max; a trial's is the arg-max of its windows' mean
probability (no threshold is tuned anywhere). Continuous: window outputs are restored in place
and averaged per step (the thesis's way), then two conventions, always named apart:
- ``*_trial``: RMSE / PCC / CCC per trial, averaged over a subject's trials (Soleymani et al.'s way);
- ``*_subject``: one RMSE / PCC / CCC over a subject's trials concatenated in time (the thesis's
  per-partition way, about twice the per-trial CCC on MAHNOB, as between-trial level differences count).
Each trial record keeps its moment sums, so reports can concatenate trials across folds (k-fold).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.losses import metrics_from_sums, moment_sums, regression_metrics
from offline.aggregation import accuracy, balanced_accuracy, confusion, macro_f1, restore_steps
from offline.trials import Trial
from offline.windowing import WindowSet, is_classification

#: Continuous metrics under both conventions (see the module docstring); the thesis's first.
REG_METRICS = ("ccc_subject", "ccc_trial", "pcc_subject", "pcc_trial", "rmse_subject", "rmse_trial")


def continuous_scores(trial_rows: list[dict[str, Any]]) -> dict[str, float]:
    """Both conventions over the trial records of one subject (each with rmse, pcc, ccc and moment sums)."""
    concatenated = metrics_from_sums([r["sums"] for r in trial_rows])
    out = {f"{m}_trial": float(np.nanmean([r[m] for r in trial_rows])) for m in ("rmse", "pcc", "ccc")}
    return out | {f"{m}_subject": concatenated[m] for m in ("rmse", "pcc", "ccc")} | {"n": len(trial_rows)}


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    return {"accuracy": accuracy(y_true, y_pred), "balanced_accuracy": balanced_accuracy(y_true, y_pred),
            "f1": macro_f1(y_true, y_pred, n_classes), "n": len(y_true)}


def restored_traces(trials: list[Trial], ws: WindowSet, values: np.ndarray, target: str
                    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per trial index: (restored prediction, true trace) over the steps some window covers."""
    out = {}
    for index in np.unique(ws.trial):
        rows = np.flatnonzero(ws.trial == index)
        truth = trials[index].traces[target].data[:, 0].astype(np.float64)
        pred = restore_steps([values[r] for r in rows], ws.start_step[rows].tolist(), truth.size)
        covered = np.isfinite(pred)
        out[int(index)] = (pred[covered], truth[covered])
    return out


def evaluate(trials: list[Trial], ws: WindowSet, predictions: dict[str, np.ndarray],
             targets: dict[str, str]) -> dict[str, Any]:
    """Scores of ``predictions`` on ``ws``: {"windows", "trials", "subjects", "pooled"} per target."""
    result: dict[str, Any] = {"targets": {}}
    for target, kind in targets.items():
        pred = predictions[target]
        per_trial: list[dict[str, Any]] = []
        if is_classification(kind):
            n_classes = pred.shape[1]
            y = ws.targets[target]
            windows = classification_scores(y, pred.argmax(1), n_classes)
            for index in np.unique(ws.trial):
                rows = ws.trial == index
                prob = pred[rows].mean(0)
                per_trial.append({"subject": trials[index].subject, "trial": trials[index].trial,
                                  "true": int(y[rows][0]), "pred": int(prob.argmax()), "prob": prob.tolist()})
            t_true = np.array([r["true"] for r in per_trial])
            t_pred = np.array([r["pred"] for r in per_trial])
            pooled = classification_scores(t_true, t_pred, n_classes)
            pooled["confusion"] = confusion(t_true, t_pred, n_classes).tolist()
            by_subject = defaultdict(list)
            for r in per_trial:
                by_subject[r["subject"]].append(r)
            subjects = {s: classification_scores(np.array([r["true"] for r in rs]), np.array([r["pred"] for r in rs]),
                                                 n_classes) for s, rs in by_subject.items()}
        else:
            traces = restored_traces(trials, ws, pred, target)
            windows = {}
            for index, (p, t) in traces.items():
                per_trial.append({"subject": trials[index].subject, "trial": trials[index].trial,
                                  "steps": int(p.size), **regression_metrics(p, t), "sums": moment_sums(p, t)})
            by_subject = defaultdict(list)
            for r in per_trial:
                by_subject[r["subject"]].append(r)
            subjects = {s: continuous_scores(rs) for s, rs in by_subject.items()}
            pooled = {m: float(np.nanmean([v[m] for v in subjects.values()])) for m in REG_METRICS}
        result["targets"][target] = {"kind": kind, "windows": windows, "trials": per_trial, "pooled": pooled,
                                     "subjects": subjects}
    return result


def write_predictions(path: Path, ws: WindowSet, predictions: dict[str, np.ndarray]) -> None:
    """A fold's test predictions file: each window's trial and start step, predictions and true values per target."""
    arrays: dict[str, Any] = {"trial": ws.trial, "start_step": ws.start_step,
                              **{f"pred_{t}": v for t, v in predictions.items()},
                              **{f"true_{t}": v for t, v in ws.targets.items()}}
    np.savez_compressed(path, **arrays)


def validation_score(trials: list[Trial], targets: dict[str, str], metric: str = "ccc_trial"
                     ) -> Callable[[WindowSet], Callable[[dict[str, np.ndarray]], float]]:
    """The early-stopping score on validation windows, higher is better, averaged over targets: for continuous
    targets ``metric``, ``ccc_trial`` (mean per-trial CCC) or ``ccc_subject`` (mean over validation subjects of
    the CCC of their trials concatenated); for classification minus the windows' mean cross-entropy."""
    if metric not in ("ccc_trial", "ccc_subject"):
        raise ValueError(f"validation metric must be ccc_trial or ccc_subject, got {metric!r}")

    def score_for(ws: WindowSet) -> Callable[[dict[str, np.ndarray]], float]:
        def score(predictions: dict[str, np.ndarray]) -> float:
            values = []
            for target, kind in targets.items():
                pred = predictions[target]
                if is_classification(kind):
                    p = pred[np.arange(len(pred)), ws.targets[target]]
                    values.append(float(np.mean(np.log(np.clip(p, 1e-7, 1.0)))))
                    continue
                traces = restored_traces(trials, ws, pred, target)
                if metric == "ccc_trial":
                    values.append(float(np.nanmean([regression_metrics(p, t)["ccc"] for p, t in traces.values()])))
                else:
                    by_subject = defaultdict(list)
                    for index, (p, t) in traces.items():
                        by_subject[trials[index].subject].append(moment_sums(p, t))
                    values.append(float(np.nanmean([metrics_from_sums(s)["ccc"] for s in by_subject.values()])))
            return float(np.mean(values))

        return score

    return score_for
