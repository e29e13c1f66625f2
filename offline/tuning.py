"""Nested hyper-parameter search: per outer fold, optuna proposes settings and validation alone judges them.

For every outer fold of the protocol (e.g. each LOSO test subject) a separate optuna study proposes
settings from the search space; each proposal trains that fold on its training subjects, and the
study is told the fold's validation score (validation subjects drawn from the training subjects,
the early-stopping score). The proposal with the best validation score is the fold's result, so the
test subject never influences what is chosen for it. One study per fold, not one for all: a shared
study would score settings on validation subjects that are other folds' test subjects.

Proposals are asked in fixed batches (``batch`` per fold per round) and trained on an engine
(``offline.engines``: local processes or Ray tasks), so the same seed proposes the same settings
whichever engine trains them; a search that is stopped and started again replays its finished
trials from their folders. Output: ``trials.csv`` (every proposal: settings, validation score, and
the test score, which is never read to choose), ``chosen.json`` (the settings chosen in most folds,
for ``train --tuned``), and the per-fold choices as a run folder that report, compare and select read.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.files import atomic_write_json
from offline.engines import Engine, Job, JobsFailed, LocalEngine
from offline.report import write_report
from offline.runner import FoldJob, Run, RunSpec, fold_folder, fold_progress, train_fold

if TYPE_CHECKING:
    import optuna

KINDS = ("float", "log", "int", "choice")
SAMPLERS = ("tpe", "random", "grid")
MODEL_PREFIX = "model."  # a search-space key naming a model constructor argument instead of a training setting


@dataclass(frozen=True)
class Param:
    """One searched setting: ``lr=log:1e-4:1e-2``, ``epochs=int:5:30``, ``model.dropout=float:0:0.5``,
    ``model.d_model=choice:16,32`` (choices are JSON values)."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[str, ...] = ()  # JSON texts

    @property
    def is_model(self) -> bool:
        return self.key.startswith(MODEL_PREFIX)

    def distribution(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(self.choices)
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high))
        return FloatDistribution(self.low, self.high, log=self.kind == "log")


def parse_param(text: str) -> Param:
    """``KEY=KIND:ARGS`` as given to ``--space``; a clear error for anything else."""
    key, sep, rest = text.partition("=")
    kind, _, args = rest.partition(":")
    if not sep or not key or kind not in KINDS or not args:
        raise ValueError(f"--space {text!r}: expected KEY=KIND:ARGS with KIND one of {', '.join(KINDS)} "
                         "(e.g. lr=log:1e-4:1e-2, epochs=int:5:30, model.d_model=choice:16,32)")
    if kind == "choice":
        try:  # JSON values: 16,32 or [64,64],[64,64,64,64] or "adam","adamw"
            values = json.loads(f"[{args}]")
        except ValueError:  # bare words: adam,adamw
            values = args.split(",")
        choices = [json.dumps(v) for v in values]
        if len(choices) < 2:
            raise ValueError(f"--space {text!r}: a choice needs at least two values")
        return Param(key, kind, choices=tuple(choices))
    try:
        low, high = (float(v) for v in args.split(":"))
    except ValueError:
        raise ValueError(f"--space {text!r}: {kind} needs LOW:HIGH numbers") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high) or (kind == "log" and low <= 0):
        raise ValueError(f"--space {text!r}: need finite LOW < HIGH (and LOW > 0 for log)")
    if kind == "int" and (low != int(low) or high != int(high)):
        raise ValueError(f"--space {text!r}: int bounds must be whole numbers")
    return Param(key, kind, low, high)


def apply(spec: RunSpec, space: list[Param], values: dict[str, Any]) -> RunSpec:
    """The run spec with a proposal's values: training settings as ``--set`` strings, model arguments as JSON."""
    train, model = dict(spec.train_overrides), dict(spec.model_overrides)
    for param in space:
        value = values[param.key]
        if param.kind == "choice":
            value = json.loads(value)
        if param.is_model:
            model[param.key.removeprefix(MODEL_PREFIX)] = value
        else:
            train[param.key] = str(value)
    return replace(spec, train_overrides=train, model_overrides=model)


def _sampler(kind: str, space: list[Param], seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if kind == "grid" and any(p.kind != "choice" for p in space):
        raise ValueError("--sampler grid needs every --space entry to be a choice")
    return optuna.samplers.RandomSampler(seed=seed)  # grid: every combination is enqueued (see tune)


@dataclass(frozen=True)
class Search:
    """What a search is: the base run, the space and the budget (kept in ``tuning.json`` to resume safely)."""

    base: RunSpec
    space: list[Param]
    trials: int
    batch: int = 4
    sampler: str = "tpe"
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "space": [asdict(p) for p in self.space]}


def tune(search: Search, engine: Engine | None = None) -> dict[str, Any]:
    """Run the nested search into ``search.base.out`` and report the per-fold choices; returns the metrics."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if search.trials < 1 or search.batch < 1:
        raise ValueError("--trials and --batch must be at least 1")
    if search.sampler == "grid":
        size = math.prod(len(p.choices) for p in search.space)
        if search.trials > size:
            raise ValueError(f"--trials {search.trials} exceeds the grid's {size} combinations")
    out = Path(search.base.out)
    _check_search(out, search)
    base = replace(search.base, final_model=False)
    outer = Run(base)
    outer.prepare()
    folds = [f.name for f in outer.folds]
    engine = engine or LocalEngine(workers=base.workers)
    distributions = {p.key: p.distribution() for p in search.space}
    studies = {f: optuna.create_study(direction="maximize", sampler=_sampler(search.sampler, search.space,
                                                                             search.seed)) for f in folds}
    if search.sampler == "grid":  # in order, first choices first (optuna's GridSampler stops a study it cannot)
        for study in studies.values():
            for values in itertools.product(*(p.choices for p in search.space)):
                study.enqueue_trial(dict(zip((p.key for p in search.space), values, strict=True)))
    records: list[dict[str, Any]] = []
    for start in range(0, search.trials, search.batch):
        asked: list[tuple[str, optuna.trial.Trial, Job]] = []
        for fold in folds:
            for _ in range(min(search.batch, search.trials - start)):
                trial = studies[fold].ask(distributions)
                spec = replace(apply(base, search.space, trial.params), folds=[fold],
                               out=str(out / "trials" / fold / f"t{trial.number:03d}"))
                Run(spec, outer.dataset_trials).prepare()  # refuses settings a run would refuse, before training
                asked.append((fold, trial, Job(f"{fold}/t{trial.number:03d}", fold_folder(spec.out, fold),
                                               FoldJob(spec, fold))))
        pending = [job for _, _, job in asked if not (job.folder / "result.json").is_file()]
        failed = [o for o in engine.run(train_fold, pending, outer.dataset_trials,
                                        f"tune {base.model} round {start // search.batch + 1}",
                                        describe=fold_progress) if o.error]
        if failed:
            raise JobsFailed(failed, len(pending))
        for fold, trial, job in asked:
            result = json.loads((job.folder / "result.json").read_text())
            studies[fold].tell(trial, float(result["val_score"]))
            records.append({"fold": fold, "trial": trial.number, "folder": str(job.folder),
                            "val_score": float(result["val_score"]), "best_epoch": result["best_epoch"],
                            "test": _test_scores(result), **{p.key: trial.params[p.key] for p in search.space}})
    return _write_choice(out, search, outer, folds, records)


def _check_search(out: Path, search: Search) -> None:
    path = out / "tuning.json"
    if path.is_file() and json.loads(path.read_text()) != json.loads(json.dumps(search.to_json())):
        raise ValueError(f"{path}: this folder holds a different search; choose another --out or delete it")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, search.to_json())


def _test_scores(result: dict[str, Any]) -> dict[str, float]:
    """The fold's pooled test scores per target (recorded for the reader; never used to choose)."""
    return {f"{target}_{metric}": float(value) for target, scores in result["scores"]["targets"].items()
            for metric, value in scores["pooled"].items() if isinstance(value, int | float)}


def _write_choice(out: Path, search: Search, outer: Run, folds: list[str],
                  records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per fold the proposal with the best validation score (first asked wins a tie) into ``out/folds``;
    ``chosen.json``: the settings chosen in most folds (ties: best mean validation score)."""
    chosen: dict[str, dict[str, Any]] = {}
    for fold in folds:
        rows = [r for r in records if r["fold"] == fold]
        best = max(rows, key=lambda r: (r["val_score"], -r["trial"]))
        chosen[fold] = best
        target = fold_folder(out, fold)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(best["folder"], target)
        result = json.loads((target / "result.json").read_text())
        result["tuned"] = {"trial": best["trial"], "by": "validation score",
                           "settings": {p.key: best[p.key] for p in search.space},
                           "candidates": {r["trial"]: r["val_score"] for r in rows}}
        atomic_write_json(target / "result.json", result)
    settings = {fold: tuple(row[p.key] for p in search.space) for fold, row in chosen.items()}
    votes = Counter(settings.values())
    mean_val = {s: sum(r["val_score"] for f, r in chosen.items() if settings[f] == s) / votes[s] for s in votes}
    top = max(votes, key=lambda s: (votes[s], mean_val[s]))
    values = dict(zip((p.key for p in search.space), top, strict=True))
    plain = {p.key: json.loads(values[p.key]) if p.kind == "choice" else values[p.key] for p in search.space}
    atomic_write_json(out / "chosen.json", {
        "train": {k: str(v) for k, v in plain.items() if not k.startswith(MODEL_PREFIX)},
        "model": {k.removeprefix(MODEL_PREFIX): v for k, v in plain.items() if k.startswith(MODEL_PREFIX)},
        "folds_chosen": votes[top], "folds": len(folds),
        "by": "settings chosen in most outer folds by validation score (test scores not read)"})
    _write_trials_csv(out / "trials.csv", search, records)
    config = json.loads((out / "config.json").read_text())
    config["tuning"] = {**search.to_json(), "by": "validation score per outer fold (test scores are not read)",
                        "chosen": {f: {"trial": r["trial"], **{p.key: r[p.key] for p in search.space}}
                                   for f, r in chosen.items()}}
    atomic_write_json(out / "config.json", config)
    return write_report(out)


def _write_trials_csv(path: Path, search: Search, records: list[dict[str, Any]]) -> None:
    tests = sorted({k for r in records for k in r["test"]})
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["fold", "trial", *(p.key for p in search.space), "val_score", "best_epoch",
                         *(f"test_{k} (not used to choose)" for k in tests)])
        for r in records:
            writer.writerow([r["fold"], r["trial"], *(r[p.key] for p in search.space), r["val_score"],
                             r["best_epoch"], *(r["test"].get(k, "") for k in tests)])


def tuned_overrides(folder: str | Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The training settings and model arguments a finished search chose (``chosen.json``), for ``train --tuned``."""
    path = Path(folder) / "chosen.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a finished search (run python -m offline tune first)")
    chosen = json.loads(path.read_text())
    return {k: str(v) for k, v in chosen["train"].items()}, dict(chosen["model"])
