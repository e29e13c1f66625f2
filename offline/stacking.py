"""Decision-level fusion of unimodal runs (``offline stack``): per fold, blend weights chosen on validation only.

The candidate runs (e.g. ``tcn-face`` and ``tcn-eeg``) must hold the same folds with the same training,
validation and test trials. For every fold their fold models become the branches of one
``late-fusion`` model (``models.late_fusion``); the weights of the per-step blend are the point of
a simplex grid with the best validation score (the fold's validation subjects, drawn from its
training subjects; test trials are only predicted, never read to choose). With ``lost`` (the face by
default) a second set of weights, used at steps where that modality is lost, is chosen the same way
on the validation trials with the modality lost in bursts (``offline.gaps``; the validation bursts
use their own seed and lengths, fixed before any test). On those same damaged validation trials the
alternative of holding the modality's last row over a loss (``hold_seconds``, the present weights kept: what
a face-only model does) is scored too, each validation subject in turn with the lost weights chosen on
the others, and the better of the two is the fold's ``gap_handling`` (or the user fixes it). The result
is a run folder like any other: ``report``, ``compare``, ``select`` and ``gaps`` read it, and its fold
models load in the live app.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models import registry
from models.bundle import Bundle, load_bundle
from models.late_fusion import LateFusion
from models.tcn import TCNRegressor
from offline.evaluation import evaluate, validation_score, write_predictions
from offline.export import BUNDLE_NAME, save_model
from offline.gaps import with_gaps
from offline.report import load_run, write_report
from offline.runner import read_run_trials
from offline.selection import check_same_folds
from offline.training import predict
from offline.trials import Trial
from offline.windowing import WindowSet, make_windows

#: Grid step of the blend weights (each weight a multiple of it, summing to 1).
GRID_STEP = 0.05
#: Validation bursts (s) when choosing the lost-modality weights: short glances and long losses alike.
VAL_BURST_SECONDS = (2.0, 30.0)
VAL_FRACTION = 0.3
VAL_SEED = 1
#: Longest loss (s) over which a holding branch keeps its last row live (offline gaps hold over any loss).
HOLD_SECONDS = 60.0
#: How a stack treats a lost modality: chosen per fold on validation, or fixed by the user.
GAP_HANDLINGS = ("validation", "hold", "switch")


def simplex(m: int, step: float = GRID_STEP) -> list[tuple[float, ...]]:
    """Every weight vector of ``m`` non-negative multiples of ``step`` summing to 1 (one-hot vectors included)."""
    n = round(1 / step)
    if not np.isclose(n * step, 1.0) or n < 1:
        raise ValueError(f"the grid step must divide 1, got {step}")
    return [tuple(c / n for c in combo) for combo in itertools.product(range(n + 1), repeat=m) if sum(combo) == n]


def _branch(bundle: Bundle, where: str) -> tuple[str, dict[str, Any]]:
    """The modality of a unimodal TCN fold model and its branch config (features and its own TCN settings)."""
    if not isinstance(bundle.model, TCNRegressor):
        raise ValueError(f"{where}: stacking blends unimodal TCN regressors (tcn-*), not {bundle.spec.architecture}")
    modality = bundle.model.modality
    config = bundle.spec.config
    branch = dict(config["branches"][modality])
    if branch.get("gaps"):
        raise ValueError(f"{where}: a gap-aware TCN has a presence channel; stack plain unimodal runs")
    return modality, {**branch, "channels": list(config["channels"]), "kernel_size": config.get("kernel_size", 5),
                      "dropout": config.get("dropout", 0.1)}


def build_fusion(bundles: list[Bundle], where: str, lost: str | None, weights: dict[str, float] | None = None,
                 lost_weights: dict[str, float] | None = None, hold: bool = False) -> tuple[LateFusion, dict[str, Any]]:
    """The late-fusion model whose branches are ``bundles``' models (weights copied) and its normalisation.

    ``lost``: the branch that may be lost, gap-aware (``lost_weights`` where it is lost) or, with ``hold``,
    holding its last row (``HOLD_SECONDS``)."""
    branches, stats = {}, {}
    for bundle in bundles:
        modality, branch = _branch(bundle, where)
        if modality in branches:
            raise ValueError(f"{where}: two candidate runs read {modality}; stack one run per modality")
        mark = {"hold_seconds": HOLD_SECONDS} if hold else {"gaps": True}
        branches[modality] = branch | (mark if modality == lost else {})
        stats[modality] = bundle.normalisation[modality]
    if lost is not None and lost not in branches:
        raise ValueError(f"{where}: no candidate reads {lost!r} (branches: {', '.join(branches)})")
    first = bundles[0].spec.config
    eeg = next((b.spec.config.get("eeg_channels") for b in bundles if "eeg" in b.spec.inputs), None)
    model = registry.build("late-fusion", branches=branches, eeg_channels=eeg, steps=first.get("steps", 96),
                           step_rate=first.get("step_rate", 4.0), targets=list(bundles[0].spec.targets),
                           weights=weights, lost_weights=lost_weights)
    assert isinstance(model, LateFusion)
    for modality, bundle in zip(branches, bundles, strict=True):  # one branch per bundle, in their order
        model.regressors[modality].load_state_dict(bundle.model.state_dict())
    return model.eval(), stats


@torch.no_grad()
def _branch_outputs(model: LateFusion, ws: WindowSet, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Every branch's outputs (N, T, n_targets, M) and the lost steps (N, T) over the windows."""
    outputs, lost = [], []
    for start in range(0, len(ws), batch_size):
        x = {m: torch.from_numpy(v[start:start + batch_size]) for m, v in ws.inputs.items()}
        out, gone = model.branch_outputs(x)
        outputs.append(out.numpy())
        lost.append(gone.numpy())
    return np.concatenate(outputs), np.concatenate(lost)


def _blend(outputs: np.ndarray, lost: np.ndarray, weights: np.ndarray, lost_weights: np.ndarray,
           targets: list[str]) -> dict[str, np.ndarray]:
    w = np.where(lost[..., None], lost_weights, weights)  # (N, T, M)
    blended = (outputs * w[:, :, None, :]).sum(-1)
    return {t: blended[..., i] for i, t in enumerate(targets)}


def _choose(score: Callable[[dict[str, np.ndarray]], float], outputs: np.ndarray, lost: np.ndarray,
            targets: list[str], grid: list[tuple[float, ...]], fixed: np.ndarray | None
            ) -> tuple[np.ndarray, list[float]]:
    """The grid point with the best validation score (ties: the first), as the present (``fixed`` None) or the
    lost-step weights (present weights ``fixed``); returns it and every grid point's score."""
    scores = []
    for point in grid:
        w = np.asarray(point)
        scores.append(score(_blend(outputs, lost, w if fixed is None else fixed, w, targets)))
    return np.asarray(grid[int(np.nanargmax(scores))]), scores


def _fold(runs: list[Path], fold: str, result: dict[str, Any], trials: list[Trial], hop: float, metric: str,
          grid: list[tuple[float, ...]], lost: str | None, gap_handling: str
          ) -> tuple[LateFusion, dict[str, Any], dict[str, Any]]:
    bundles = [load_bundle(run / "folds" / fold / "model") for run in runs]
    model, stats = build_fusion(bundles, f"fold {fold}", lost)
    targets = list(model.targets)
    index = {t.key: i for i, t in enumerate(trials)}
    val = [index[key] for key in result["trials"]["val"]]
    ws = make_windows(trials, val, model.spec(), hop).normalised(stats)
    outputs, gone = _branch_outputs(model, ws)
    score = validation_score(trials, model.spec().targets, metric)(ws)
    weights, grid_scores = _choose(score, outputs, gone, targets, grid, None)
    record: dict[str, Any] = {"metric": metric, "grid": [list(p) for p in grid], "val_scores": grid_scores,
                              "weights": dict(zip(model.modalities, weights.tolist(), strict=True))}
    lost_weights = weights
    if lost is not None:
        damaged = list(trials)
        for i in val:
            damaged[i] = with_gaps(trials[i], lost, VAL_FRACTION, VAL_SEED, True, VAL_BURST_SECONDS)
        wsd = make_windows(damaged, val, model.spec(), hop).normalised(stats)
        outputs_d, gone_d = _branch_outputs(model, wsd)
        score_d = validation_score(damaged, model.spec().targets, metric)(wsd)
        lost_weights, lost_scores = _choose(score_d, outputs_d, gone_d, targets, grid, weights)
        held = _held_predictions(bundles, fold, trials, val, lost, hop, record["weights"], wsd)
        switch_cv, hold_cv = _held_out_subject_scores(damaged, model.spec().targets, metric, wsd, outputs_d, gone_d,
                                                      held, weights, grid)
        handling = gap_handling if gap_handling != "validation" else ("hold" if hold_cv > switch_cv else "switch")
        if handling == "hold":
            lost_weights = weights
        record |= {"lost": {"modality": lost, "fraction": VAL_FRACTION, "seed": VAL_SEED,
                            "burst_seconds": list(VAL_BURST_SECONDS), "val_scores": lost_scores,
                            "switch_val_score": switch_cv, "hold_val_score": hold_cv,
                            "compared_on": "each validation subject, switch weights chosen on the others"},
                   "gap_handling": handling,
                   "lost_weights": dict(zip(model.modalities, lost_weights.tolist(), strict=True))}
    model, _ = build_fusion(bundles, f"fold {fold}", lost, record["weights"],
                            dict(zip(model.modalities, lost_weights.tolist(), strict=True)),
                            hold=record.get("gap_handling") == "hold")
    record["val_score"] = float(max(grid_scores))
    return model, stats, record


def _held_predictions(bundles: list[Bundle], fold: str, trials: list[Trial], val: list[int], lost: str, hop: float,
                      weights: dict[str, float], like: WindowSet) -> dict[str, np.ndarray]:
    """Predictions of the blend with ``weights`` everywhere and ``lost``'s last row held over its losses, on the
    validation windows ``like`` (the same damaged trials, the lost rows held instead of missing)."""
    model, stats = build_fusion(bundles, f"fold {fold}", lost, weights, hold=True)
    damaged = list(trials)
    for i in val:
        damaged[i] = with_gaps(trials[i], lost, VAL_FRACTION, VAL_SEED, False, VAL_BURST_SECONDS)
    ws = make_windows(damaged, val, model.spec(), hop).normalised(stats)
    assert np.array_equal(ws.trial, like.trial) and np.array_equal(ws.start_step, like.start_step)
    return predict(model, ws, torch.device("cpu"), amp=False)


def _held_out_subject_scores(trials: list[Trial], targets: dict[str, str], metric: str, ws: WindowSet,
                             outputs: np.ndarray, lost: np.ndarray, held: dict[str, np.ndarray], weights: np.ndarray,
                             grid: list[tuple[float, ...]]) -> tuple[float, float]:
    """Mean validation score of switching (lost weights chosen on the other validation subjects) and of holding,
    each validation subject scored in turn: the switch's grid search must not flatter it against the hold, which
    chooses nothing. With one validation subject both are scored on it, the switch at its best grid point."""
    subjects = np.array([trials[i].subject for i in ws.trial])
    names = sorted(set(subjects.tolist()))
    score = validation_score(trials, targets, metric)
    switch, hold = [], []
    for name in names:
        out = subjects == name
        rest = ~out if len(names) > 1 else out
        lost_weights, _ = _choose(score(ws.subset(rest)), outputs[rest], lost[rest], list(targets), grid, weights)
        switch.append(score(ws.subset(out))(_blend(outputs[out], lost[out], weights, lost_weights, list(targets))))
        hold.append(score(ws.subset(out))({t: held[t][out] for t in targets}))
    return float(np.mean(switch)), float(np.mean(hold))


def stack(runs: list[str | Path], out: str | Path, metric: str = "ccc_subject", lost: str | None = "auto",
          step: float = GRID_STEP, gap_handling: str = "validation") -> dict[str, Any]:
    """Write the per-fold late fusion of ``runs`` into ``out`` and report it; returns the metrics.

    ``lost``: the modality whose lost steps get their own weights; "auto" is the face when a run reads it.
    ``gap_handling``: over its losses, "hold" its last row, "switch" to the lost weights, or "validation":
    per fold the better of the two on the damaged validation trials."""
    if gap_handling not in GAP_HANDLINGS:
        raise ValueError(f"gap handling must be one of {', '.join(GAP_HANDLINGS)}, got {gap_handling!r}")
    run_dirs, out = [Path(r) for r in runs], Path(out)
    if len(run_dirs) < 2:
        raise ValueError("stacking needs at least two unimodal runs")
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new folder for the stacked run")
    loaded = [load_run(r) for r in run_dirs]
    folds = check_same_folds(run_dirs, loaded)
    config0 = loaded[0][0]
    for run, (config, _) in zip(run_dirs[1:], loaded[1:], strict=True):
        if config["train"].get("normalise", "train") != config0["train"].get("normalise", "train"):
            raise ValueError(f"{run} and {run_dirs[0]} normalise differently; stack runs trained the same way")
    spec = config0["run"]
    modalities = [m for config, _ in loaded for m in config["model"]["inputs"]]
    if lost == "auto":
        lost = "face" if "face" in modalities else None
    elif lost is not None and lost not in modalities:
        raise ValueError(f"no candidate run reads {lost!r} (they read {', '.join(modalities)})")
    trials = read_run_trials(config0, modalities)  # as the candidates were trained and tested
    grid = simplex(len(run_dirs), step)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    fold_weights, model_spec = [], None
    handlings: dict[str, str] = {}
    for fold in folds:
        result = loaded[0][1][fold]
        model, stats, record = _fold(run_dirs, fold, result, trials, config0["train"]["hop_seconds"], metric, grid,
                                     lost, gap_handling)
        index = {t.key: i for i, t in enumerate(trials)}
        test = make_windows(trials, [index[k] for k in result["trials"]["test"]], model.spec(),
                            config0["train"]["hop_seconds"]).normalised(stats)
        predictions = predict(model, test, torch.device("cpu"), amp=False)
        scores = evaluate(trials, test, predictions, model.spec().targets)
        folder = tmp / "folds" / fold
        folder.mkdir(parents=True)
        write_predictions(folder / "predictions.npz", test, predictions)
        stacking = {"runs": [str(r) for r in run_dirs], **record}
        save_model(folder / "model", model, stats, {"dataset": spec["dataset"], "protocol": spec["protocol"],
                                                    "fold": fold, "val_score": record["val_score"],
                                                    "stacking": {k: v for k, v in stacking.items()
                                                                 if k not in ("grid", "val_scores", "lost")}})
        (folder / "result.json").write_text(json.dumps({
            "fold": fold, "subject": result.get("subject"), "best_epoch": None, "val_score": record["val_score"],
            "history": [], "trials": result["trials"], "normalisation_fitted_on": "train", "stacking": stacking,
            "scores": scores}, indent=1, default=float))
        fold_weights.append((record["weights"], record.get("lost_weights", record["weights"])))
        handlings[fold] = record.get("gap_handling", "")
        model_spec = model.spec().to_json()
    mean = [{m: float(np.mean([w[i][m] for w in fold_weights])) for m in fold_weights[0][i]} for i in (0, 1)]
    hold = lost is not None and 2 * sum(h == "hold" for h in handlings.values()) > len(handlings)
    summary = {"runs": [str(r) for r in run_dirs], "metric": metric, "grid_step": step, "lost": lost,
               "gap_handling_by": gap_handling,
               "mean_weights": mean[0], "mean_lost_weights": mean[1],
               "by": "validation score per fold (test trials are predicted, never read to choose)",
               "weights": {f: w for f, (w, _) in zip(folds, fold_weights, strict=True)},
               "lost_weights": {f: w for f, (_, w) in zip(folds, fold_weights, strict=True)}}
    if lost is not None:
        summary |= {"gap_handling": handlings, "final_gap_handling": "hold" if hold else "switch"}
    config = {**config0, "run": {**spec, "model": "late-fusion", "out": str(out)}, "model": model_spec,
              "stacking": summary}
    (tmp / "config.json").write_text(json.dumps(config, indent=1, default=float))
    _final_model(run_dirs, tmp, mean, lost, hold)
    tmp.rename(out)
    metrics = write_report(out)
    metrics["stacking"] = summary
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    return metrics


def _final_model(runs: list[Path], out: Path, mean: list[dict[str, float]], lost: str | None, hold: bool) -> None:
    """When every run trained a final model: their late fusion with the mean of the per-fold chosen weights and
    the gap handling most folds chose (``hold``)."""
    finals = [r / "model" / f"{BUNDLE_NAME}.json" for r in runs]
    if not all(f.is_file() for f in finals):
        return
    bundles = [load_bundle(f) for f in finals]
    lost_weights = mean[0] if hold else mean[1]
    model, stats = build_fusion(bundles, "final", lost, mean[0], lost_weights, hold=hold)
    save_model(out / "model", model, stats, {"fold": "final", "stacking": {
        "runs": [str(r) for r in runs], "weights": mean[0], "lost_weights": lost_weights,
        "gap_handling": "hold" if hold else "switch",
        "chosen": "mean of the per-fold weights, each chosen on that fold's validation subjects; the gap "
                  "handling most folds chose on validation"}})
