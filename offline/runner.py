"""One training run: read a dataset, cut windows once, then per fold normalise, train, test and save; finally report.

The run folder holds everything needed to resume (``config.json``, per-fold training state and
results) and to report (per-fold predictions). Features are computed once for all trials
(nothing in them is fitted); everything fitted - normalisation, weights, the chosen epoch - is
fitted per fold on that fold's training (and validation) trials only.
"""

from __future__ import annotations

import json
import shutil
import socket
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from models import registry
from models.files import atomic_write_json
from models.identifiers import check_name, inside
from models.predictor import resolve_device
from offline import datasets
from offline.config import SUBJECT_DEPENDENT, TrainConfig, paper_defaults
from offline.engines import ATTEMPT_FILE, Engine, Job, JobsFailed, LocalEngine, attempts_made
from offline.evaluation import evaluate, validation_score, write_predictions
from offline.export import BUNDLE_NAME, save_model
from offline.report import PLAN_FILE, write_report
from offline.splits import Fold, make_folds, trial_validation_fold
from offline.trials import Trial, as_run_saw_them, standardise_per_subject
from offline.windowing import WindowSet, is_classification, make_windows, trial_class

if TYPE_CHECKING:  # imported where they are used: distillation and training load only for a run that trains
    from models.base import EmotionModel
    from offline.distillation import Teacher
    from offline.training import ExtraLoss, FitResult, Score

_IGNORED_RUN = {"out": "", "max_folds": 0, "workers": 1, "folds": []}
_IGNORED_TRAIN = {"num_threads": 0}


@dataclass
class RunSpec:
    dataset: str
    root: str
    model: str
    protocol: str
    out: str
    test_subjects: list[str] = field(default_factory=list)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    train_overrides: dict[str, str] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    final_model: bool = True
    max_folds: int = 0  # 0 = every fold; otherwise the first N (a documented subset)
    face_cache: str = ""  # where face-video embeddings are cached; default <out>/face_cache
    workers: int = 1  # folds trained in parallel processes (results do not depend on it)
    distill_from: str = ""  # a finished run whose fold models teach this one (offline.distillation)
    folds: list[str] = field(default_factory=list)  # train only these folds, by name (a search trains one at a time)


def fold_folder(out: str | Path, name: str) -> Path:
    """``<out>/folds/<name>``, refused (UnsafeNameError) unless the fold name is a safe folder name inside ``out``."""
    folder = Path(out) / "folds" / check_name(name, "fold name")
    inside(out, folder, "fold folder")
    return folder


def adapt_model_overrides(spec: RunSpec, trials: list[Trial]) -> dict[str, Any]:
    """For datasets of precomputed features (``DatasetReader.precomputed``), feed every branch of a sequence model
    from the dataset's feature rows."""
    overrides = dict(spec.model_overrides)
    defaults = registry.get(spec.model).defaults
    if datasets.reader(spec.dataset).precomputed and "branches" in defaults and "branches" not in overrides:
        branches = {}
        for modality, branch in defaults["branches"].items():
            if modality not in trials[0].signals:
                have = ", ".join(trials[0].signals)
                raise KeyError(f"model {spec.model} needs {modality!r}; {spec.dataset} has {have}")
            branches[modality] = {**branch, "features": "precomputed",
                                  "feature_dim": int(trials[0].signals[modality].data.shape[1])}
        overrides["branches"] = branches
    return overrides


def read_run_trials(config: dict[str, Any], modalities: list[str] | None = None) -> list[Trial]:
    """A finished run's trials as it read them: its dataset, standardised per subject when the run was
    (``modalities``: which signals; default the run's model inputs)."""
    spec = config["run"]
    trials = datasets.read(spec["dataset"], spec["root"], **spec["dataset_options"])
    return as_run_saw_them(trials, config["train"], modalities or list(config["model"]["inputs"]))


def _n_classes(model: torch.nn.Module, targets: dict[str, str]) -> dict[str, int]:
    n = int(getattr(model, "config", {}).get("n_classes", 2))
    return {t: n for t, k in targets.items() if is_classification(k)}


def _strata(trials: list[Trial], targets: dict[str, str]) -> list[int]:
    first = next(((t, k) for t, k in targets.items() if is_classification(k)), None)
    return [trial_class(tr, *first) if first else 0 for tr in trials]


class Run:
    """A run folder and what it trains; ``execute()`` does every fold not done yet, then the report.

    ``trials``: the dataset as ``datasets.read`` returns it for this spec, when the caller has read it
    already (an engine's worker gets it once for all the jobs it runs)."""

    def __init__(self, spec: RunSpec, trials: list[Trial] | None = None) -> None:
        self.spec = spec
        self.out = Path(spec.out)
        self.cfg: TrainConfig = paper_defaults(spec.model, spec.protocol).with_overrides(spec.train_overrides)
        if self.cfg.num_threads:
            torch.set_num_threads(self.cfg.num_threads)
        self.dataset_trials = trials if trials is not None else datasets.read(spec.dataset, spec.root,
                                                                               **spec.dataset_options)
        self.trials = list(self.dataset_trials)
        self.model_overrides = adapt_model_overrides(spec, self.trials)
        prototype = registry.build(spec.model, **self.model_overrides)
        self.model_spec = prototype.spec()
        self.trials = self._with_inputs(self.trials)
        self.input_trials = self.trials  # before any per-subject standardisation (a teacher may differ)
        if self.cfg.normalise == "subject":
            self.trials = standardise_per_subject(self.trials, list(self.model_spec.inputs))
        elif self.cfg.normalise != "train":
            raise ValueError(f"normalise must be train or subject, got {self.cfg.normalise!r}")
        self.targets = self.model_spec.targets
        self.n_classes = _n_classes(prototype, self.targets)
        self.device = torch.device(resolve_device(self.cfg.device))
        self.folds = make_folds(spec.protocol, self.trials, _strata(self.trials, self.targets), spec.test_subjects,
                                k=self.cfg.k, val_fraction=self.cfg.val_fraction, seed=self.cfg.seed,
                                val_by=self.cfg.val_by)
        self.seed_offset = {fold.name: i for i, fold in enumerate(self.folds)}  # a fold's seed is cfg.seed + this
        if spec.max_folds:
            self.folds = self.folds[: spec.max_folds]
        if spec.folds:
            unknown = sorted(set(spec.folds) - {f.name for f in self.folds})
            if unknown:
                raise ValueError(f"no fold named {', '.join(unknown)} in this protocol; its folds are "
                                 f"{', '.join(f.name for f in self.folds)}")
            self.folds = [f for f in self.folds if f.name in spec.folds]
        self._windows: WindowSet | None = None
        self.teacher = self._teacher() if spec.distill_from else None
        self._teacher_windows: WindowSet | None = None

    def _teacher(self) -> Teacher:
        from offline.distillation import Teacher

        if self.cfg.distill_weight <= 0:
            raise ValueError("--distill-from needs --set distill_weight=W > 0 (the thesis uses about 0.4)")
        sides = {fold.name: {side: [self.trials[i].key for i in getattr(fold, side)]
                             for side in ("train", "val", "test")} for fold in self.folds}
        return Teacher(self.spec.distill_from, asdict(self.spec), sides)

    def _distillation(self, fold: Fold, train: WindowSet, windows: WindowSet
                      ) -> tuple[WindowSet, ExtraLoss, dict[str, object]]:
        """The training windows with the fold's teacher features, the loss term, and what to record."""
        from offline.distillation import feature_loss, with_teacher

        assert self.teacher is not None
        if self._teacher_windows is None:
            self._teacher_windows = self.teacher.windows(self.input_trials, self.cfg.hop_seconds, windows)
        rows = np.isin(self._teacher_windows.trial, fold.train)
        features, model_id = self.teacher.features(fold.name, self._teacher_windows.subset(rows), self.device)
        record: dict[str, object] = {
            "teacher_run": str(self.teacher.run), "teacher_model": model_id,
            "teacher_bundle": str(self.teacher.bundle_path(fold.name)), "weight": self.cfg.distill_weight}
        return with_teacher(train, features), feature_loss(self.cfg.distill_weight), record

    def _with_inputs(self, trials: list[Trial]) -> list[Trial]:
        """Turn face videos into embeddings where the model needs them; leave out trials lacking a required input."""
        from offline.video_faces import attach_faces

        for modality, inp in self.model_spec.inputs.items():
            if inp.transform == "frame_features" and any(modality in t.videos for t in trials):
                cache = Path(self.spec.face_cache) if self.spec.face_cache else self.out / "face_cache"
                attach_faces(trials, modality, inp.feature_dim, inp.rate, cache)
        required = [m for m, i in self.model_spec.inputs.items() if i.required]
        kept = [t for t in trials if all(m in t.signals for m in required)]
        if len(kept) < len(trials):
            warnings.warn(f"{len(trials) - len(kept)} of {len(trials)} trials lack {' or '.join(required)} and are "
                          "left out of this run", stacklevel=2)
        if not kept:
            raise ValueError(f"no trial of {self.spec.dataset} has every input {self.spec.model} needs: "
                             f"{', '.join(required)}")
        return kept

    def _check_config(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        config = {"run": asdict(self.spec), "train": self.cfg.to_json(), "model": self.model_spec.to_json()}
        path = self.out / "config.json"
        if path.is_file():  # resuming: everything that changes results must match (not out, threads or subset)
            old = json.loads(path.read_text())
            same_run = old["run"] | _IGNORED_RUN == config["run"] | _IGNORED_RUN
            if not same_run or old["train"] | _IGNORED_TRAIN != config["train"] | _IGNORED_TRAIN:
                raise ValueError(f"{path}: this run folder holds a different run; choose another --out or delete it")
        atomic_write_json(path, config)

    @property
    def windows(self) -> WindowSet:
        """Every trial cut into the model's windows (cut once per Run; nothing in them is fitted)."""
        if self._windows is None:
            self._windows = make_windows(self.trials, range(len(self.trials)), self.model_spec, self.cfg.hop_seconds)
        return self._windows

    def jobs(self) -> list[Job]:
        """The folds not finished yet (no ``result.json``), as engine jobs."""
        folders = [fold_folder(self.out, fold.name) for fold in self.folds]  # before anything is written
        return [Job(fold.name, folder, FoldJob(self.spec, fold.name)) for fold, folder in
                zip(self.folds, folders, strict=True) if not (folder / "result.json").is_file()]

    def prepare(self) -> None:
        """Check the folder holds this run (or nothing yet) and write its config and fold plan."""
        self._check_config()
        atomic_write_json(self.out / PLAN_FILE, {"folds": [fold.name for fold in self.folds]})

    def execute(self, engine: Engine | None = None) -> dict[str, Any]:
        """Train and test every fold not finished yet (on ``engine``; default: this process), the final model,
        then write the report. Folds that failed on every attempt are named in the report and raised as
        ``JobsFailed`` after it is written; the final model is then not trained."""
        jobs = self.jobs()
        self.prepare()
        _remember(self)  # an in-process engine trains the folds on this Run
        engine = engine or LocalEngine(workers=self.spec.workers)
        outcomes = engine.run(train_fold, jobs, self.dataset_trials, f"{self.spec.model} {self.spec.protocol}",
                              describe=fold_progress) if jobs else []
        failed = [o for o in outcomes if o.error]
        for outcome in outcomes:
            if not outcome.error and not (outcome.job.folder / "result.json").is_file():
                raise FileNotFoundError(
                    f"fold {outcome.job.name} finished on {outcome.result} but {outcome.job.folder} has no result "
                    "here: with a cluster, --out must be on storage every node mounts")
        if not failed and self.spec.final_model and not (self.out / "model" / f"{BUNDLE_NAME}.json").is_file():
            self._train_final(self.windows)
        metrics = write_report(self.out)
        if failed:
            raise JobsFailed(failed, len(self.folds), metrics)
        return metrics

    def _fit(self, fold: Fold, seed: int, windows: WindowSet, folder: Path
             ) -> tuple[EmotionModel, dict[str, dict[str, list[float]]], FitResult]:
        from offline.training import fit

        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        train = windows.subset(np.isin(windows.trial, fold.train))
        val = windows.subset(np.isin(windows.trial, fold.val))
        if not len(train) or not len(val):
            raise ValueError(f"fold {fold.name}: {len(train)} training and {len(val)} validation windows")
        stats = train.normalisation_stats()  # training windows only
        train, val = train.normalised(stats), val.normalised(stats)
        cfg = self.cfg if seed == self.cfg.seed else TrainConfig(**{**self.cfg.to_json(), "seed": seed})
        overrides, domain = dict(self.model_overrides), {}
        if cfg.dann_weight > 0:
            from offline.domain import with_domains

            if self.teacher is not None:
                raise ValueError("dann_weight and --distill-from each add a loss term; use one of them")
            train, overrides["domain_classes"] = with_domains(train, self.trials)
            domain = {"dann_weight": cfg.dann_weight, "training_subjects": overrides["domain_classes"]}
        try:
            model = registry.build(self.spec.model, **overrides)
        except TypeError as exc:
            if domain:
                raise ValueError(f"dann_weight: {self.spec.model} has no subject classifier (cmt-seedv has)") from None
            raise exc
        score = validation_score(self.trials, self.targets, cfg.val_metric)(val)
        pretrain = self._pretrain_branches(model, train, val, score, cfg, folder, fold.name) if cfg.pretrain_epochs \
            else {}
        extra: ExtraLoss | None = None
        distillation: dict[str, object] = {}
        if self.teacher is not None:
            train, extra, distillation = self._distillation(fold, train, windows)
        if domain:
            from offline.domain import domain_loss

            extra = domain_loss(cfg.dann_weight, cfg.epochs * -(-len(train) // cfg.batch_size))
        result = fit(model, train, val, score, cfg, self.device, folder / "state", desc=fold.name,
                     n_classes=self.n_classes, score_start=bool(cfg.pretrain_epochs), extra_loss=extra)
        result.pretrain, result.distillation, result.domain = pretrain, distillation, domain
        return model, stats, result

    def _pretrain_branches(self, model: EmotionModel, train: WindowSet, val: WindowSet, score: Score,
                           cfg: TrainConfig, folder: Path, name: str) -> dict[str, dict[str, float]]:
        """Train each branch of a multi-branch model alone (same settings, early stopping), then start it from them.

        Returns each branch's best epoch and validation score."""
        from models.lfan import LFAN
        from offline.training import fit

        if not isinstance(model, LFAN):
            raise ValueError(f"pretrain_epochs: {self.spec.model} has no branches to pretrain (LFAN has)")
        regressors, results = model.branch_regressors(), {}
        for modality, regressor in regressors.items():
            results[modality] = fit(regressor, train, val, score, replace(cfg, epochs=cfg.pretrain_epochs), self.device,
                folder / "pretrain" / modality, desc=f"{name} {modality}", n_classes=self.n_classes)
        model.start_from(regressors)
        return {m: {"best_epoch": r.best_epoch, "best_score": r.best_score} for m, r in results.items()}

    def _run_fold(self, fold: Fold, index: int, windows: WindowSet, folder: Path) -> None:
        from offline.training import predict

        model, stats, result = self._fit(fold, self.cfg.seed + index, windows, folder)
        test = windows.subset(np.isin(windows.trial, fold.test)).normalised(stats)
        predictions = predict(model, test, self.device, amp=self.cfg.amp)
        scores = evaluate(self.trials, test, predictions, self.targets)
        write_predictions(folder / "predictions.npz", test, predictions)
        provenance = {"dataset": self.spec.dataset, "protocol": self.spec.protocol, "fold": fold.name,
                      "test_subjects": sorted({self.trials[i].subject for i in fold.test}),
                      "best_epoch": result.best_epoch, "val_score": result.best_score,
                      "distillation": result.distillation, "domain_adaptation": result.domain}
        save_model(folder / "model", model, stats, provenance)
        atomic_write_json(folder / "result.json", {
            "trained_on": {"host": socket.gethostname(), "attempt": attempts_made(folder)},
            "fold": fold.name, "subject": fold.subject, "best_epoch": result.best_epoch,
            "val_score": result.best_score, "history": result.history,
            "train_windows_per_second": result.windows_per_second, "pretrain": result.pretrain,
            "distillation": result.distillation, "domain_adaptation": result.domain,
            "trials": {side: [self.trials[i].key for i in getattr(fold, side)] for side in ("train", "val", "test")},
            "normalisation_fitted_on": "train", "scores": scores,
        })
        shutil.rmtree(folder / "state", ignore_errors=True)
        shutil.rmtree(folder / "pretrain", ignore_errors=True)

    def _train_final(self, windows: WindowSet) -> None:
        """The deployable model: trained on every trial, validation drawn the protocol's way."""
        everyone = list(range(len(self.trials)))
        rng = np.random.default_rng(self.cfg.seed)
        by_trials = self.spec.protocol in SUBJECT_DEPENDENT or self.cfg.val_by == "trials"
        if self.spec.protocol in SUBJECT_DEPENDENT:
            val = sorted(rng.choice(everyone, size=max(1, len(everyone) // 5), replace=False).tolist())
        elif self.cfg.val_by == "trials":
            val = list(trial_validation_fold("final", self.trials, [], self.cfg.val_fraction, rng).val)
        else:
            subjects = sorted({t.subject for t in self.trials})
            n_val = max(1, round(self.cfg.val_fraction * len(subjects)))
            chosen = set(rng.choice(subjects, size=n_val, replace=False).tolist())
            val = [i for i in everyone if self.trials[i].subject in chosen]
        fold = Fold("final", tuple(i for i in everyone if i not in set(val)), tuple(val), ())
        folder = self.out / "final"
        model, stats, result = self._fit(fold, self.cfg.seed, windows, folder)
        save_model(self.out / "model", model, stats, {
            "dataset": self.spec.dataset, "protocol": f"{self.spec.protocol} (final: all trials, validation "
            f"{'trials' if by_trials else 'subjects'} held out)",
            "fold": "final", "best_epoch": result.best_epoch, "val_score": result.best_score,
            "cross_validation": str(self.out / "metrics.json")})
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class FoldJob:
    """What an engine's worker needs to train one fold: the run's spec and the fold's name."""

    spec: RunSpec
    fold: str


_current: Run | None = None  # per process: the Run last built, reused by the next job of the same spec


def _remember(run: Run) -> None:
    global _current
    _current = run


def train_fold(job: Job, trials: list[Trial]) -> str:
    """An engine's work: train, test and save one fold (in whichever process the engine chose); returns the host."""
    fold_job: FoldJob = job.payload
    run = _current if _current is not None and _current.spec == fold_job.spec else None
    if run is None:
        run = Run(fold_job.spec, trials)
        _remember(run)
    fold = next(f for f in run.folds if f.name == fold_job.fold)
    run._run_fold(fold, run.seed_offset[fold.name], run.windows, job.folder)
    return socket.gethostname()


def fold_progress(job: Job) -> str:
    """A running fold's last finished epoch and best validation score, from its saved training state."""
    try:
        state = json.loads((job.folder / "state" / "state.json").read_text())
        return f"epoch {state['epoch']} best {state['best_score']:.3f}"
    except (OSError, ValueError, KeyError, TypeError):
        return "started" if (job.folder / ATTEMPT_FILE).is_file() else ""
