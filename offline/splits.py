"""Evaluation protocols as lists of folds over trials: who trains, who validates, who is tested.

Splits are made on trials (and subjects) before any window is cut or any statistic fitted, so
no window of a test trial (k-fold, SEED-V blocks) or of a test subject (LOSO, holdout) can
reach training, normalisation, early stopping or threshold selection. Validation is always
drawn from the training side: other subjects for LOSO/holdout (or, with ``val_by="trials"``, a
share of every training subject's trials, so all training subjects train), other trials of the
same subject for the subject-dependent protocols.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offline.trials import Trial

PROTOCOLS = ("loso", "kfold", "holdout", "seedv-blocks")


@dataclass(frozen=True)
class Fold:
    """Indices into the trial list; ``subject`` is set for subject-dependent folds (one model per subject)."""

    name: str
    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]
    subject: str | None = None
    val_within_subjects: bool = False  # validation trials of training subjects (val_by="trials")

    def check_disjoint(self, trials: list[Trial]) -> None:
        """Raise if a trial (or, for subject-independent folds, a subject) is on two sides."""
        sides = {"train": set(self.train), "val": set(self.val), "test": set(self.test)}
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            if sides[a] & sides[b]:
                raise AssertionError(f"fold {self.name}: trials on both {a} and {b}")
            if self.subject is None and not (self.val_within_subjects and {a, b} == {"train", "val"}):
                subjects_a = {trials[i].subject for i in sides[a]}
                subjects_b = {trials[i].subject for i in sides[b]}
                if subjects_a & subjects_b:
                    raise AssertionError(f"fold {self.name}: subjects {sorted(subjects_a & subjects_b)} on {a} and {b}")


def _subjects(trials: list[Trial]) -> list[str]:
    return sorted({t.subject for t in trials})


def _pick_validation_subjects(train_subjects: list[str], fraction: float, rng: np.random.Generator) -> list[str]:
    if len(train_subjects) < 2:
        raise ValueError("subject-independent validation needs at least two training subjects")
    n_val = min(len(train_subjects) - 1, max(1, round(fraction * len(train_subjects))))
    return sorted(rng.choice(train_subjects, size=n_val, replace=False).tolist())


def trial_validation_fold(name: str, trials: list[Trial], test_subjects: list[str], val_fraction: float,
                           rng: np.random.Generator) -> Fold:
    """Validation: ``val_fraction`` of every training subject's trials (at least one where it has two or more)."""
    test_set, val = set(test_subjects), set()
    for subject in _subjects(trials):
        if subject in test_set:
            continue
        own = [i for i, t in enumerate(trials) if t.subject == subject]
        if len(own) >= 2:
            val.update(rng.choice(own, size=min(len(own) - 1, max(1, round(val_fraction * len(own)))),
                                  replace=False).tolist())
    if not val:
        raise ValueError("validation by trials needs a training subject with at least two trials")
    return Fold(name, train=tuple(i for i, t in enumerate(trials) if t.subject not in test_set and i not in val),
                val=tuple(sorted(val)), test=tuple(i for i, t in enumerate(trials) if t.subject in test_set),
                val_within_subjects=True)


def _subject_fold(name: str, trials: list[Trial], test_subjects: list[str], val_fraction: float,
                  rng: np.random.Generator, val_by: str = "subjects") -> Fold:
    if val_by == "trials":
        return trial_validation_fold(name, trials, test_subjects, val_fraction, rng)
    if val_by != "subjects":
        raise ValueError(f"val_by must be subjects or trials, got {val_by!r}")
    rest = [s for s in _subjects(trials) if s not in test_subjects]
    val_subjects = set(_pick_validation_subjects(rest, val_fraction, rng))
    test_set = set(test_subjects)
    return Fold(
        name,
        train=tuple(i for i, t in enumerate(trials) if t.subject not in test_set and t.subject not in val_subjects),
        val=tuple(i for i, t in enumerate(trials) if t.subject in val_subjects),
        test=tuple(i for i, t in enumerate(trials) if t.subject in test_set),
    )


def loso(trials: list[Trial], val_fraction: float = 0.2, seed: int = 0, val_by: str = "subjects") -> list[Fold]:
    """One fold per subject: test = that subject; validation = other subjects drawn from the training pool
    (``val_by="trials"``: a share of every training subject's trials)."""
    rng = np.random.default_rng(seed)
    return [_subject_fold(s, trials, [s], val_fraction, rng, val_by) for s in _subjects(trials)]


def holdout(trials: list[Trial], test_subjects: list[str], val_fraction: float = 0.2, seed: int = 0,
            val_by: str = "subjects") -> list[Fold]:
    """One fold: the named test subjects against the rest (validation subjects drawn from the rest)."""
    unknown = sorted(set(test_subjects) - set(_subjects(trials)))
    if unknown or not test_subjects:
        raise ValueError(f"--test-subjects must name subjects of the dataset; unknown: {unknown or 'none given'}")
    return [_subject_fold("holdout", trials, sorted(test_subjects), val_fraction, np.random.default_rng(seed), val_by)]


def _stratified_parts(indices: list[int], labels: list[int], k: int, rng: np.random.Generator) -> list[list[int]]:
    """Deal each class's trials round-robin (after shuffling) into k parts."""
    parts: list[list[int]] = [[] for _ in range(k)]
    offset = 0
    for label in sorted(set(labels)):
        members = [i for i, y in zip(indices, labels, strict=True) if y == label]
        rng.shuffle(members)
        for j, i in enumerate(members):
            parts[(j + offset) % k].append(i)
        offset += len(members)
    return [sorted(p) for p in parts]


def kfold(trials: list[Trial], strata: list[int], k: int = 5, seed: int = 0) -> list[Fold]:
    """Subject-dependent k-fold by trial: per subject, fold f tests part f, validates on part f+1, trains on the rest.

    ``strata`` (one label per trial) keeps class proportions similar across parts.
    """
    rng = np.random.default_rng(seed)
    folds = []
    for subject in _subjects(trials):
        idx = [i for i, t in enumerate(trials) if t.subject == subject]
        if len(idx) < 3:
            raise ValueError(f"subject {subject} has {len(idx)} trials; k-fold needs at least 3")
        kk = min(k, len(idx))
        parts = _stratified_parts(idx, [strata[i] for i in idx], kk, rng)
        for f in range(kk):
            val_part = (f + 1) % kk
            train = sorted(i for p, part in enumerate(parts) if p not in (f, val_part) for i in part)
            folds.append(Fold(f"{subject}-k{f}", tuple(train), tuple(parts[val_part]), tuple(parts[f]), subject))
    return folds


def seedv_blocks(trials: list[Trial], seed: int = 0) -> list[Fold]:
    """SEED-V 3-fold cross-session-block, per subject: fold f tests block f of every session.

    Validation: from the two training blocks, the trials of one (rotating) session, so early
    stopping never sees the tested block.
    """
    folds = []
    for subject in _subjects(trials):
        idx = [i for i, t in enumerate(trials) if t.subject == subject]
        if any(trials[i].block is None or trials[i].session is None for i in idx):
            raise ValueError(f"subject {subject}: seedv-blocks needs session and block on every trial")
        for f in range(3):
            test = [i for i in idx if trials[i].block == f]
            rest = [i for i in idx if trials[i].block != f]
            val_block = (f + 1) % 3
            val_session = 1 + (seed + f) % 3
            val = [i for i in rest if trials[i].block == val_block and trials[i].session == val_session]
            train = [i for i in rest if i not in set(val)]
            folds.append(Fold(f"{subject}-b{f}", tuple(train), tuple(val), tuple(test), subject))
    return folds


def make_folds(protocol: str, trials: list[Trial], strata: list[int], test_subjects: list[str] | None = None,
               k: int = 5, val_fraction: float = 0.2, seed: int = 0, val_by: str = "subjects") -> list[Fold]:
    """Folds for ``protocol`` (one of PROTOCOLS), each checked for overlap before it is returned."""
    if protocol == "loso":
        folds = loso(trials, val_fraction, seed, val_by)
    elif protocol == "holdout":
        folds = holdout(trials, test_subjects or [], val_fraction, seed, val_by)
    elif protocol == "kfold":
        folds = kfold(trials, strata, k, seed)
    elif protocol == "seedv-blocks":
        folds = seedv_blocks(trials, seed)
    else:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    for fold in folds:
        fold.check_disjoint(trials)
    return folds
