"""Cross-modal distillation in offline training: per fold, the teacher run's model of the same fold teaches the
EEG student through its TCN features; teachers from other data, folds or widths are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models.bundle import load_bundle
from models.transforms import normalise
from offline.__main__ import main
from offline.datasets import read
from offline.distillation import Teacher
from offline.trials import standardise_per_subject
from offline.windowing import make_windows
from tests.support.dataset_files import write_mahnob_features

FACE = 'branches={"face":{"features":"precomputed","feature_dim":38}}'
EEG = 'branches={"eeg":{"features":"precomputed","feature_dim":128}}'
SMALL = ["--protocol", "loso", "--set", "hop_seconds=8", "--set", "num_threads=1", "--set", "lr=3e-3", "--no-final"]


def _train(root: Path, out: Path, model: str, branches: str, *extra: str) -> Path:
    main(["train", "--dataset", "mahnob-features", "--root", str(root), "--model", model, "--out", str(out),
          "--model-set", branches, *SMALL, *extra])
    return out


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("distill")
    root = write_mahnob_features(tmp / "mf", participants=(2, 3, 5, 6), n_trials=2, steps=(100, 130))
    return root, _train(root, tmp / "teacher", "tcn-face", FACE, "--model-set", "channels=[8]", "--set", "epochs=3")


def _feature_distance(root: Path, run: Path, teacher: Path, fold: str) -> float:
    """Mean L1 distance between a fold's student TCN features and its teacher's on that fold's test windows."""
    trials = read("mahnob-features", root)
    student_b, teacher_b = load_bundle(run / "folds" / fold / "model"), load_bundle(teacher / "folds" / fold / "model")
    distances = []
    with torch.no_grad():
        for bundle, key in ((student_b, "eeg"), (teacher_b, "face")):
            ws = make_windows(trials, [i for i, t in enumerate(trials) if t.subject == fold], bundle.spec, 8.0)
            x = {key: torch.from_numpy(normalise(ws.inputs[key], bundle.normalisation[key]).astype(np.float32))}
            distances.append(bundle.model.encode(x).numpy())
    return float(np.abs(distances[0] - distances[1]).mean())


def test_student_learns_the_fold_teachers_features(teacher: tuple[Path, Path], tmp_path: Path) -> None:
    root, teacher_run = teacher
    student = _train(root, tmp_path / "student", "tcn-eeg", EEG, "--model-set", "channels=[8]", "--set", "epochs=4",
                     "--distill-from", str(teacher_run), "--set", "distill_weight=5")
    plain = _train(root, tmp_path / "plain", "tcn-eeg", EEG, "--model-set", "channels=[8]", "--set", "epochs=4")
    folds = sorted(p.name for p in (student / "folds").iterdir())
    assert folds == ["P02", "P03", "P05", "P06"]
    for fold in folds:
        result = json.loads((student / "folds" / fold / "result.json").read_text())
        teacher_id = load_bundle(teacher_run / "folds" / fold / "model").model_id
        assert result["distillation"]["teacher_model"] == teacher_id, "each fold is taught by its own fold's teacher"
        assert result["distillation"]["weight"] == 5.0
        assert json.loads((plain / "folds" / fold / "result.json").read_text())["distillation"] == {}
    closer = [_feature_distance(root, student, teacher_run, f) < _feature_distance(root, plain, teacher_run, f)
              for f in folds]
    assert all(closer), f"distilled student features are not closer to the teacher's in every fold: {closer}"


def test_teachers_that_cannot_teach_are_refused(teacher: tuple[Path, Path], tmp_path: Path) -> None:
    root, teacher_run = teacher
    with pytest.raises(ValueError, match="distill_weight"):
        _train(root, tmp_path / "a", "tcn-eeg", EEG, "--model-set", "channels=[8]", "--distill-from", str(teacher_run))
    with pytest.raises(ValueError, match="same last width"):
        _train(root, tmp_path / "b", "tcn-eeg", EEG, "--model-set", "channels=[4]", "--set", "epochs=1",
               "--distill-from", str(teacher_run), "--set", "distill_weight=0.4")
    with pytest.raises(ValueError, match="split trials differently"):
        _train(root, tmp_path / "c", "tcn-eeg", EEG, "--model-set", "channels=[8]", "--set", "seed=7",
               "--distill-from", str(teacher_run), "--set", "distill_weight=0.4")
    other = write_mahnob_features(tmp_path / "other", participants=(2, 3, 5, 6), n_trials=2, steps=(100, 130))
    with pytest.raises(ValueError, match="its root"):
        _train(other, tmp_path / "d", "tcn-eeg", EEG, "--model-set", "channels=[8]",
               "--distill-from", str(teacher_run), "--set", "distill_weight=0.4")
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        _train(root, tmp_path / "e", "tcn-eeg", EEG, "--distill-from", str(tmp_path), "--set", "distill_weight=0.4")


def test_a_teacher_standardised_per_subject_is_fed_inputs_standardised_so(teacher: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    root, _ = teacher
    run = _train(root, tmp_path / "t", "tcn-face", FACE, "--model-set", "channels=[8]", "--set", "epochs=1",
                 "--set", "normalise=subject")
    config = json.loads((run / "config.json").read_text())
    sides = {f.name: json.loads((f / "result.json").read_text())["trials"] for f in (run / "folds").iterdir()}
    taught_by = Teacher(run, config["run"], sides)
    trials = read("mahnob-features", root)
    raw = make_windows(trials, range(len(trials)), taught_by.spec, 8.0)
    fed = taught_by.windows(trials, 8.0, raw)
    expected = make_windows(standardise_per_subject(trials, ["face"]), range(len(trials)), taught_by.spec, 8.0)
    assert not np.allclose(raw.inputs["face"], expected.inputs["face"], atol=1e-3), "the data must need it"
    np.testing.assert_allclose(fed.inputs["face"], expected.inputs["face"], rtol=1e-5, atol=1e-5)
