"""Leak guards: splits never share a trial or subject across sides, normalisation is fitted on training data
only, and ST-AlignNet (small config) scores chance when labels are independent of the signals but learns a
planted class signal across subjects."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from models.bundle import load_bundle
from models.transforms import fit_normalisation
from offline.__main__ import main
from offline.aggregation import chance_interval
from offline.datasets import read
from offline.splits import make_folds
from offline.windowing import make_windows
from tests.support.dataset_files import write_deap_preprocessed, write_mahnob_features, write_seedv
from tests.support.small_settings import SMALL_STALIGNNET, SMALL_TRAINING


@pytest.fixture(scope="module")
def face_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("face_cache")


@pytest.fixture(scope="module")
def null_deap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_deap_preprocessed(tmp_path_factory.mktemp("null"), n_subjects=6, n_trials=10, seconds=4.0,
                                   planted=False, seed=11, videos=True)


@pytest.fixture(scope="module")
def planted_deap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_deap_preprocessed(tmp_path_factory.mktemp("planted"), n_subjects=4, n_trials=8, seconds=6.0,
                                   planted=True, seed=0, videos=True)


def _train(root: Path, out: Path, protocol: str, face_cache: Path, *extra: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        main(["train", "--dataset", "deap", "--root", str(root), "--model", "stalignnet-valence", "--protocol",
              protocol, "--out", str(out), "--face-cache", str(face_cache), *SMALL_STALIGNNET, *SMALL_TRAINING,
              *extra])
    return json.loads((out / "metrics.json").read_text())


def test_no_trial_or_subject_on_two_sides_for_any_protocol(tmp_path: Path) -> None:
    deap = read("deap", write_deap_preprocessed(tmp_path / "d", n_subjects=5, n_trials=6, seconds=1.0))
    seedv = read("seedv", write_seedv(tmp_path / "s", subjects=(1, 2), windows=(2, 3)))
    strata = [int(t.ratings["valence"] >= 5) for t in deap]
    for protocol, kwargs in (("loso", {}), ("kfold", {"k": 3}), ("holdout", {"test_subjects": ["s02", "s04"]})):
        folds = make_folds(protocol, deap, strata, **kwargs)
        assert folds and all(fold.train and fold.val and fold.test for fold in folds), protocol
        for fold in folds:
            train, val, test = ({deap[i].key for i in side} for side in (fold.train, fold.val, fold.test))
            assert not (train & val or train & test or val & test), fold.name
            if protocol != "kfold":
                subjects = [{deap[i].subject for i in side} for side in (fold.train, fold.val, fold.test)]
                assert not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])
                assert subjects[1], "validation subjects come from the training pool"
            else:
                assert {deap[i].subject for i in (*fold.train, *fold.val, *fold.test)} == {fold.subject}
        tested = sorted(deap[i].key for f in folds for i in f.test)
        if protocol != "holdout":
            assert tested == sorted(t.key for t in deap), "every trial is tested exactly once"
        else:
            assert tested == sorted(t.key for t in deap if t.subject in ("s02", "s04"))
    folds = make_folds("seedv-blocks", seedv, [0] * len(seedv))
    assert len(folds) == 6
    for fold in folds:
        test_blocks = {seedv[i].block for i in fold.test}
        assert len(test_blocks) == 1 and not test_blocks & {seedv[i].block for i in (*fold.train, *fold.val)}
        assert sorted(seedv[i].ratings["emotion"] for i in fold.test) == sorted([0, 1, 2, 3, 4] * 3)


def test_normalisation_is_fitted_on_training_trials_only(tmp_path: Path) -> None:
    root = write_mahnob_features(tmp_path / "mf", participants=(2, 3, 5, 6), n_trials=2, steps=(100, 130))
    out = tmp_path / "run"
    main(["train", "--dataset", "mahnob-features", "--root", str(root), "--model", "lstm-eeg", "--protocol", "loso",
          "--out", str(out), "--set", "epochs=1", "--set", "num_threads=1", "--max-folds", "2", "--no-final"])
    trials = read("mahnob-features", root)
    bundle = load_bundle(out / "folds" / "P02" / "model")
    result = json.loads((out / "folds" / "P02" / "result.json").read_text())
    assert result["normalisation_fitted_on"] == "train"
    train_idx = [i for i, t in enumerate(trials) if t.key in set(result["trials"]["train"])]
    assert not {trials[i].subject for i in train_idx} & {"P02"}
    ws = make_windows(trials, train_idx, bundle.spec, hop_seconds=8.0)
    expected = fit_normalisation(ws.inputs["eeg"])
    np.testing.assert_allclose(bundle.normalisation["eeg"]["mean"], expected["mean"], rtol=1e-5, atol=1e-6)
    everyone = fit_normalisation(make_windows(trials, range(len(trials)), bundle.spec, 8.0).inputs["eeg"])
    assert not np.allclose(bundle.normalisation["eeg"]["mean"], everyone["mean"], atol=1e-6)


@pytest.mark.parametrize("protocol", ["loso", "kfold", "holdout"])
def test_independent_labels_give_chance(null_deap: Path, face_cache: Path, tmp_path: Path, protocol: str) -> None:
    extra = ["--test-subjects", "s01", "s02", "s03"] if protocol == "holdout" else []
    metrics = _train(null_deap, tmp_path / protocol, protocol, face_cache, "--no-final", *extra)
    pooled = metrics["targets"]["valence"]["summary"]["pooled_trials"]
    assert pooled["n"] == (3 if protocol == "holdout" else 6) * 10, "every test trial is scored once"
    lo, hi = chance_interval(pooled["n"], 0.5)
    assert (lo, hi) == tuple(metrics["targets"]["valence"]["summary"]["chance_interval_95"])
    assert lo <= pooled["accuracy"] <= hi, f"{protocol}: accuracy {pooled['accuracy']:.3f} outside chance [{lo}, {hi}]"


def test_planted_signal_is_learned_across_subjects(planted_deap: Path, face_cache: Path, tmp_path: Path) -> None:
    metrics = _train(planted_deap, tmp_path / "loso", "loso", face_cache, "--no-final")
    pooled = metrics["targets"]["valence"]["summary"]["pooled_trials"]
    _, hi = chance_interval(pooled["n"], 0.5)
    assert pooled["accuracy"] > max(hi, 0.8), f"planted LOSO accuracy {pooled['accuracy']:.3f}"
    assert (tmp_path / "loso" / "subjects_valence.csv").is_file()
    assert (tmp_path / "loso" / "plots" / "confusion_valence.png").is_file()


def test_training_resumes_from_the_last_saved_epoch(tmp_path: Path) -> None:
    """A fold interrupted after 2 epochs and resumed ends exactly where an uninterrupted 4-epoch fit ends."""
    import torch

    from models import registry
    from offline.config import TrainConfig
    from offline.evaluation import validation_score
    from offline.training import fit

    trials = read("mahnob-features", write_mahnob_features(tmp_path / "mf", participants=(2, 3), n_trials=2,
                                                           steps=(100, 120)))
    branches = {"eeg": {"features": "precomputed", "feature_dim": 128}}
    spec = registry.build("lstm-eeg", branches=branches).spec()
    ws = make_windows(trials, range(len(trials)), spec, hop_seconds=4.0)
    train, val = ws.subset(ws.trial < 2), ws.subset(ws.trial >= 2)
    score = validation_score(trials, spec.targets)(val)

    def run(epochs: int, state: Path | None) -> tuple[list, dict]:
        torch.manual_seed(0)
        model = registry.build("lstm-eeg", branches=branches)
        cfg = TrainConfig(epochs=epochs, batch_size=4, optimizer="nadam", lr=2e-3, schedule="plateau", loss="mse")
        result = fit(model, train, val, score, cfg, torch.device("cpu"), state)
        return result.history, model.state_dict()

    straight_history, straight_weights = run(4, None)
    run(2, tmp_path / "state")  # "interrupted" after epoch 2: its state is on disk
    resumed_history, resumed_weights = run(4, tmp_path / "state")
    assert [h["epoch"] for h in resumed_history] == [0, 1, 2, 3]
    np.testing.assert_allclose([h["val_score"] for h in resumed_history],
                               [h["val_score"] for h in straight_history], rtol=1e-5)
    for name, value in straight_weights.items():
        torch.testing.assert_close(resumed_weights[name], value)
    assert not list((tmp_path / "state").glob("*.tmp")), "state files are written atomically"
