"""Per-subject adaptation on MAHNOB-HCI continuous valence: does a LOSO model gain from a subject's first trials?

For every held-out subject (LOSO, offline's folds: validation subjects drawn from the training
side only) a base model is trained with offline's loop on the other subjects, normalised with
statistics of its training windows. The held-out subject's trials are then split in
presentation order (MAHNOB section numbers): the first ``adapt_fraction`` adapt, the rest are
evaluated; no evaluated trial reaches any fitting. Conditions, all scored on the same
evaluated trials with offline's evaluation (per-step outputs restored in place; CCC / PCC / RMSE
under both conventions, ``*_subject`` over the subject's evaluated trials concatenated, the
thesis's, and ``*_trial`` per trial averaged):
- ``base``: the LOSO model as it is;
- ``subject-norm``: normalisation statistics from the subject's adaptation trials;
- ``finetune-head``: subject-norm, then the output layer fine-tuned on the adaptation trials'
  valence traces (1 - CCC, fixed epochs and rate chosen before looking at any result);
- ``finetune-last2``: the same with the last two layers.
Every held-out subject is one job of an engine (``--engine local|ray``, as offline's folds); each finished
subject is saved (``subjects/<id>/record.json``) so an interrupted run resumes (same settings only).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from calibration.adapt import AdaptSettings, finetune
from models import registry
from models.base import EmotionModel
from models.files import atomic_write_json
from models.predictor import resolve_device
from offline import datasets
from offline.config import TrainConfig, paper_defaults, parse_overrides
from offline.engines import Engine, Job, JobsFailed, LocalEngine
from offline.evaluation import REG_METRICS, evaluate, validation_score
from offline.runner import RunSpec, adapt_model_overrides
from offline.splits import make_folds
from offline.training import fit, predict
from offline.trials import Trial
from offline.windowing import WindowSet, make_windows

CONDITIONS = ("base", "subject-norm", "finetune-head", "finetune-last2")
METRICS = REG_METRICS
RECORD_FILE = "record.json"  # a finished subject's scores, in subjects/<id>/
ADAPT_HOP_SECONDS = 2.0  # adaptation windows overlap more: the subject's few trials give more windows


def _score(trials: list[Trial], ws: WindowSet, model: EmotionModel, device: torch.device, subject: str
           ) -> dict[str, float]:
    preds = predict(model, ws, device, amp=False)
    scores = evaluate(trials, ws, preds, model.spec().targets)["targets"]["valence"]["subjects"][subject]
    return {k: float(scores[k]) for k in (*METRICS, "n")}


@dataclass(frozen=True)
class _Shared:
    """What every subject's job reads: shipped once to each worker (or Ray's object store), never per subject."""

    trials: list[Trial]
    windows: WindowSet
    model: str
    overrides: dict[str, Any]
    cfg: TrainConfig
    adapt_fraction: float
    finetune_epochs: int
    finetune_lr: float


def _adapt_subject(job: Job, shared: _Shared) -> dict[str, Any] | None:
    """One held-out subject: train the LOSO base model, adapt it on the subject's first trials, score the rest;
    the record is saved in the job's folder (None when the subject has no trial left to score)."""
    index, fold = job.payload
    trials, windows, cfg = shared.trials, shared.windows, shared.cfg
    order = sorted(fold.test, key=lambda i: int(trials[i].trial))
    n_adapt = max(1, math.floor(shared.adapt_fraction * len(order)))
    adapt_idx, eval_idx = order[:n_adapt], order[n_adapt:]
    if not eval_idx:
        return None
    device = torch.device(resolve_device(cfg.device))
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed + index)
    np.random.seed((cfg.seed + index) % 2**32)
    train = windows.subset(np.isin(windows.trial, fold.train))
    val = windows.subset(np.isin(windows.trial, fold.val))
    stats = train.normalisation_stats()  # training windows only
    model = registry.build(shared.model, **shared.overrides)
    spec = model.spec()
    val_n = val.normalised(stats)
    result = fit(model, train.normalised(stats), val_n, validation_score(trials, spec.targets)(val_n), cfg,
                 device, desc=fold.name)
    test = windows.subset(np.isin(windows.trial, eval_idx))
    adapt_ws = make_windows(trials, adapt_idx, spec, ADAPT_HOP_SECONDS)
    subject_stats = adapt_ws.normalisation_stats()  # adaptation trials only
    scores = {"base": _score(trials, test.normalised(stats), model, device, fold.name),
              "subject-norm": _score(trials, test.normalised(subject_stats), model, device, fold.name)}
    for name, layers in (("finetune-head", "head"), ("finetune-last2", "last:2")):
        tuned = copy.deepcopy(model)
        finetune(tuned, adapt_ws.normalised(subject_stats), AdaptSettings(
            mode="finetune", layers=layers, epochs=shared.finetune_epochs, lr=shared.finetune_lr,
            batch_size=8, loss="ccc", seed=cfg.seed, device=str(device)))
        scores[name] = _score(trials, test.normalised(subject_stats), tuned, device, fold.name)
    record = {"subject": fold.name, "adapt_trials": [trials[i].trial for i in adapt_idx],
              "eval_trials": [trials[i].trial for i in eval_idx], "adapt_windows": len(adapt_ws),
              "base_best_epoch": result.best_epoch, "base_val_ccc": result.best_score, "scores": scores}
    atomic_write_json(job.folder / RECORD_FILE, record)
    return record


def run_experiment(args: argparse.Namespace, engine: Engine | None = None) -> dict[str, Any]:
    """Run (or resume) every held-out subject, each a job of ``engine`` (default: this process), then write
    results.json, results.csv and table.md into ``--out``."""
    out = Path(args.out)
    (out / "subjects").mkdir(parents=True, exist_ok=True)
    trials = datasets.read("mahnob-features", args.root)
    overrides = adapt_model_overrides(RunSpec("mahnob-features", args.root, args.model, "loso", str(out)), trials)
    spec = registry.build(args.model, **overrides).spec()
    if spec.targets != {"valence": "continuous"}:
        raise ValueError(f"{args.model} must predict continuous valence only, it predicts {spec.targets}")
    cfg = paper_defaults(args.model, "loso").with_overrides(parse_overrides(args.train_set))
    if not 0 < args.adapt_fraction < 1:
        raise ValueError(f"--adapt-fraction must be between 0 and 1, got {args.adapt_fraction}")
    settings = {"model": args.model, "model_overrides": overrides, "train": cfg.to_json(),
                "adapt_fraction": args.adapt_fraction, "finetune_epochs": args.finetune_epochs,
                "finetune_lr": args.finetune_lr, "adapt_hop_seconds": ADAPT_HOP_SECONDS}
    previous = out / "settings.json"
    if previous.is_file() and json.loads(previous.read_text()) != json.loads(json.dumps(settings)):
        raise ValueError(f"{previous}: this folder holds a run with other settings; choose another --out")
    atomic_write_json(previous, settings)
    folds = make_folds("loso", trials, [0] * len(trials), val_fraction=cfg.val_fraction, seed=cfg.seed)
    jobs = [Job(fold.name, out / "subjects" / fold.name, (index, fold)) for index, fold in enumerate(folds)
            if (not args.subjects or fold.name in args.subjects)
            and not (out / "subjects" / fold.name / RECORD_FILE).is_file()]  # seeds follow the full fold list
    shared = _Shared(trials, make_windows(trials, range(len(trials)), spec, cfg.hop_seconds), args.model,
                     overrides, cfg, args.adapt_fraction, args.finetune_epochs, args.finetune_lr)
    outcomes = (engine or LocalEngine()).run(_adapt_subject, jobs, shared, "subjects")
    for outcome in outcomes:
        if outcome.result is not None:
            scores = outcome.result["scores"]
            print(f"{outcome.job.name} ccc_subject: "
                  + "  ".join(f"{c} {scores[c]['ccc_subject']:+.3f}" for c in CONDITIONS), flush=True)
    failed = [o for o in outcomes if o.error]
    results = write_results(out)
    if failed:
        raise JobsFailed(failed, len(jobs), results)
    return results


def write_results(out: Path) -> dict[str, Any]:
    """Collect the per-subject files into results.json, results.csv and a Markdown table (mean +/- std)."""
    records = [json.loads(p.read_text()) for p in sorted((out / "subjects").glob(f"*/{RECORD_FILE}"))]
    if not records:
        raise ValueError(f"{out}: no subject finished yet")
    rows = [{"subject": r["subject"], "condition": c, **r["scores"][c]} for r in records for c in CONDITIONS]
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["subject", "condition", *METRICS, "n"])
        writer.writeheader()
        writer.writerows(rows)
    summary: dict[str, dict[str, Any]] = {}
    for c in CONDITIONS:
        values = {m: np.array([r["scores"][c][m] for r in records], dtype=float) for m in METRICS}
        summary[c] = {m: {"mean": float(np.nanmean(v)), "std": float(np.nanstd(v))} for m, v in values.items()}
    for metric in ("ccc_subject", "ccc_trial"):
        gains = np.array([r["scores"]["finetune-head"][metric] - r["scores"]["base"][metric] for r in records])
        summary[f"finetune-head_minus_base_{metric}"] = {
            "mean": float(np.nanmean(gains)), "subjects_improved": int((gains > 0).sum()), "subjects": len(gains)}
    lines = ["| condition | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for c in CONDITIONS:
        s = summary[c]
        lines.append(f"| {c} | " + " | ".join(f"{s[m]['mean']:.3f} ± {s[m]['std']:.3f}" for m in METRICS) + " |")
    lines += ["", "| subject | eval trials | " + " | ".join(f"{c} ccc_subject" for c in CONDITIONS) + " |",
              "|---|---|" + "---|" * len(CONDITIONS)]
    for r in records:
        lines.append(f"| {r['subject']} | {len(r['eval_trials'])} | "
                     + " | ".join(f"{r['scores'][c]['ccc_subject']:+.3f}" for c in CONDITIONS) + " |")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    results = {"subjects": len(records), "summary": summary}
    atomic_write_json(out / "results.json", results)
    print("\n".join(lines))
    return results
