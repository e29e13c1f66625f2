"""Training options of offline runs: per-subject standardisation (``--set normalise=subject``) and validation by
trials of the training subjects (``--set val_by=trials``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from offline.__main__ import main
from offline.datasets import read
from offline.trials import standardise_per_subject
from tests.support.dataset_files import write_mahnob_features


def test_every_subject_is_standardised_by_its_own_statistics(tmp_path: Path) -> None:
    trials = read("mahnob-features", write_mahnob_features(tmp_path / "mf", participants=(2, 3), n_trials=3))
    for t in trials:  # subjects at different levels, as amplifiers and faces differ
        if t.subject == "P03":
            t.signals["eeg"] = type(t.signals["eeg"])(t.signals["eeg"].data * 5 + 20, 4.0, t.signals["eeg"].channels)
    out = standardise_per_subject(trials, ["eeg"])
    for subject in ("P02", "P03"):
        rows = np.concatenate([t.signals["eeg"].data for t in out if t.subject == subject])
        assert np.allclose(rows.mean(0), 0, atol=1e-4) and np.allclose(rows.std(0), 1, atol=1e-3)
    assert all(a.traces["valence"] is b.traces["valence"] for a, b in zip(trials, out, strict=True))
    assert all(a.signals["face"] is b.signals["face"] for a, b in zip(trials, out, strict=True)), "others untouched"


def test_runs_record_the_option_and_refuse_unknown_ones(tmp_path: Path) -> None:
    root = write_mahnob_features(tmp_path / "mf", participants=(2, 3, 5), n_trials=2, steps=(100, 130))
    eeg = 'branches={"eeg":{"features":"precomputed","feature_dim":128}}'
    args = ["train", "--dataset", "mahnob-features", "--root", str(root), "--model", "tcn-eeg", "--protocol", "loso",
            "--model-set", "channels=[8]", "--model-set", eeg,
            "--set", "epochs=1", "--set", "hop_seconds=8", "--set", "num_threads=1", "--no-final", "--max-folds", "1"]
    main([*args, "--set", "normalise=subject", "--out", str(tmp_path / "run")])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["normalise"] == "subject"
    with pytest.raises(ValueError, match="normalise must be train or subject"):
        main([*args, "--set", "normalise=global", "--out", str(tmp_path / "bad")])


def test_validation_by_trials_keeps_every_training_subject_in_training(tmp_path: Path) -> None:
    from offline.splits import make_folds

    trials = read("mahnob-features", write_mahnob_features(tmp_path / "mf", participants=(2, 3, 5, 6), n_trials=5))
    by_subjects = make_folds("loso", trials, [0] * len(trials), val_fraction=0.25)
    by_trials = make_folds("loso", trials, [0] * len(trials), val_fraction=0.25, val_by="trials")
    for a, b in zip(by_subjects, by_trials, strict=True):
        assert a.test == b.test
        assert len({trials[i].subject for i in a.train}) == 2, "whole subjects held out for validation"
        assert {trials[i].subject for i in b.train} == {trials[i].subject for i in b.val} == \
            {"P02", "P03", "P05", "P06"} - {a.name}
        assert not set(b.train) & set(b.val) and all(trials[i].subject != b.name for i in (*b.train, *b.val))
        assert len(b.val) == 3  # 1 of each other subject's 5 trials (25 %, rounded)
    with pytest.raises(ValueError, match="val_by must be subjects or trials"):
        make_folds("loso", trials, [0] * len(trials), val_by="windows")
