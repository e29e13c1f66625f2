"""Decision-level fusion of unimodal runs (``offline stack``): per fold the blend weights are the grid point with the
best validation score, the test predictions are that blend of the runs' own test predictions, the test subject's
labels never move the choice, and the fused fold model leans on EEG live where the face is lost."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import offline.datasets
from models import registry
from models.bundle import load_bundle
from models.contracts import EEG, FACE, ModalityWindow
from models.late_fusion import hold_last
from models.predictor import NetworkPredictor
from models.transforms import MissingModality
from offline.__main__ import main
from offline.stacking import HOLD_SECONDS, simplex, stack
from offline.trials import Signal
from tests.support.dataset_files import write_mahnob_features

COMMON = ["--dataset", "mahnob-features", "--protocol", "loso", "--set", "epochs=2", "--set", "hop_seconds=8",
          "--set", "num_threads=1", "--set", "device=cpu", "--model-set", "channels=[8]"]
FACE_BRANCH = 'branches={"face":{"features":"precomputed","feature_dim":38}}'
EEG_BRANCH = 'branches={"eeg":{"features":"precomputed","feature_dim":128}}'


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("stacking")
    root = write_mahnob_features(tmp / "mf", participants=(2, 3, 5), n_trials=3, steps=(100, 130))
    for name, model, branches in (("face", "tcn-face", FACE_BRANCH), ("eeg", "tcn-eeg", EEG_BRANCH)):
        main(["train", *COMMON, "--root", str(root), "--model", model, "--model-set", branches,
              "--out", str(tmp / name)])
    return tmp / "face", tmp / "eeg"


def _predictions(run: Path, fold: str) -> np.ndarray:
    with np.load(run / "folds" / fold / "predictions.npz") as z:
        return z["pred_valence"]


def test_simplex_grid_sums_to_one_and_holds_every_single_modality() -> None:
    grid = simplex(2, 0.25)
    assert grid == [(0.0, 1.0), (0.25, 0.75), (0.5, 0.5), (0.75, 0.25), (1.0, 0.0)]
    assert len(simplex(3, 0.05)) == 231 and all(abs(sum(p) - 1) < 1e-9 for p in simplex(3, 0.1))
    with pytest.raises(ValueError, match="divide 1"):
        simplex(2, 0.3)


def test_each_fold_blends_its_runs_with_the_weights_best_on_validation(runs: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    face, eeg = runs
    assert main(["stack", str(face), str(eeg), "--out", str(tmp_path / "fused"), "--step", "0.1"]) == 0
    metrics = json.loads((tmp_path / "fused" / "metrics.json").read_text())
    assert metrics["n_folds"] == 3 and metrics["stacking"]["lost"] == "face"
    for fold in ("P02", "P03", "P05"):
        result = json.loads((tmp_path / "fused" / "folds" / fold / "result.json").read_text())
        record = result["stacking"]
        scores = record["val_scores"]
        best = record["grid"][int(np.nanargmax(scores))]
        assert [record["weights"]["face"], record["weights"]["eeg"]] == best
        assert result["val_score"] == max(scores), "the blend chosen is the best on validation"
        assert len(record["lost"]["val_scores"]) == len(record["grid"])
        w = record["weights"]
        expected = w["face"] * _predictions(face, fold) + w["eeg"] * _predictions(eeg, fold)
        np.testing.assert_allclose(_predictions(tmp_path / "fused", fold), expected, atol=1e-5)
        bundle = load_bundle(tmp_path / "fused" / "folds" / fold / "model")
        hold = record["lost"]["hold_val_score"] > record["lost"]["switch_val_score"]
        assert record["gap_handling"] == ("hold" if hold else "switch"), "the better handling on validation"
        assert bundle.spec.architecture == "late-fusion" and bundle.spec.inputs["face"].required is hold
        assert bundle.spec.inputs["face"].params.get("hold_seconds") == (HOLD_SECONDS if hold else None)
        assert bundle.spec.config["lost_weights"] == (record["weights"] if hold else record["lost_weights"])
    final = load_bundle(tmp_path / "fused" / "model")
    mean = metrics["stacking"]["mean_weights"]
    assert final.spec.config["weights"] == pytest.approx(mean) and sum(mean.values()) == pytest.approx(1.0)
    retested = main(["gaps", str(tmp_path / "fused"), "--out", str(tmp_path / "fused30"), "--fraction", "0.3"])
    assert retested == 0 and json.loads((tmp_path / "fused30" / "metrics.json").read_text())["n_folds"] == 3
    with pytest.raises(ValueError, match="unimodal TCN"):
        stack([face, tmp_path / "fused"], tmp_path / "again")


def test_the_test_subjects_labels_never_move_the_weights(runs: tuple[Path, Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """P02's valence traces reversed (P02 is fold P02's test subject): that fold's weights stay as they were, its
    test score changes (the traces are read, for testing only)."""
    face, eeg = runs
    honest = stack([face, eeg], tmp_path / "honest", step=0.1)
    read = offline.datasets.read

    def reversed_p02(*args, **kwargs):
        return [replace(t, traces={"valence": Signal(-t.traces["valence"].data, t.traces["valence"].rate,
                                                     ("valence",))}) if t.subject == "P02" else t
                for t in read(*args, **kwargs)]

    monkeypatch.setattr(offline.datasets, "read", reversed_p02)
    flipped = stack([face, eeg], tmp_path / "flipped", step=0.1)
    assert flipped["stacking"]["weights"]["P02"] == honest["stacking"]["weights"]["P02"]
    assert flipped["stacking"]["lost_weights"]["P02"] == honest["stacking"]["lost_weights"]["P02"]
    assert flipped["stacking"]["gap_handling"]["P02"] == honest["stacking"]["gap_handling"]["P02"]
    scores = [json.loads((tmp_path / name / "folds" / "P02" / "result.json").read_text())["scores"]
              for name in ("honest", "flipped")]
    assert scores[0] != scores[1]


def test_hold_last_is_causal_and_fills_before_the_first_row_with_the_mean() -> None:
    x = torch.arange(6, dtype=torch.float32).reshape(1, 6, 1)
    present = torch.tensor([[False, True, False, False, True, False]])
    assert hold_last(x, present)[0, :, 0].tolist() == [0, 1, 1, 1, 4, 4]


def test_late_fusion_leans_on_eeg_live_where_the_face_is_lost() -> None:
    model = registry.build("late-fusion", branches={
        "face": {"features": "frames", "feature_dim": 7, "channels": [8], "gaps": True},
        "eeg": {"features": "band_power", "channels": [8]}}, weights={"face": 0.8, "eeg": 0.2},
        lost_weights={"face": 0.0, "eeg": 1.0}).eval()
    spec = model.spec()
    rate, t_end = 128.0, 30.0
    ts = t_end - np.arange(int(26 * rate))[::-1] / rate
    eeg = ModalityWindow(np.random.default_rng(0).standard_normal((ts.size, 32)), ts, rate, spec.inputs[EEG].channels)
    frames_ts = np.arange(5.0, 30.0, 1 / 30)
    face = ModalityWindow(np.random.default_rng(1).random((frames_ts.size, 7)), frames_ts, 30.0, ())
    predictor = NetworkPredictor(model, spec, "late-fusion@untrained", trained=False, device="cpu")
    seen, lost = predictor.predict({EEG: eeg, FACE: face}), predictor.predict({EEG: eeg})
    assert seen.modality_weights == pytest.approx({"face": 0.8, "eeg": 0.2})
    assert lost.modality_weights == pytest.approx({"face": 0.0, "eeg": 1.0})
    eeg_only = NetworkPredictor(model.regressors["eeg"], model.regressors["eeg"].spec(), "eeg", trained=False,
                                device="cpu").predict({EEG: eeg})
    assert lost.valence == pytest.approx(eeg_only.valence, abs=1e-5), "face gone: the EEG branch's prediction"
    assert seen.valence != pytest.approx(eeg_only.valence, abs=1e-5)


def test_a_holding_face_branch_keeps_its_last_frame_live_over_a_lost_face() -> None:
    model = registry.build("late-fusion", branches={
        "face": {"features": "frames", "feature_dim": 7, "channels": [8], "hold_seconds": 20.0},
        "eeg": {"features": "band_power", "channels": [8]}}, weights={"face": 0.8, "eeg": 0.2}).eval()
    spec = model.spec()
    rate, t_end = 128.0, 60.0
    ts = t_end - np.arange(int(26 * rate))[::-1] / rate
    eeg = ModalityWindow(np.random.default_rng(0).standard_normal((ts.size, 32)), ts, rate, spec.inputs[EEG].channels)
    frames_ts = np.arange(20.0, 50.0, 1 / 30)  # the face lost for the last 10 s
    frames = np.random.default_rng(1).random((frames_ts.size, 7))
    predictor = NetworkPredictor(model, spec, "late-fusion@untrained", trained=False, device="cpu")
    held = predictor.predict({EEG: eeg, FACE: ModalityWindow(frames, frames_ts, 30.0, ())})
    still = np.arange(50.0, 60.0, 1 / 30)  # what holding means: the last frame, repeated
    repeated = ModalityWindow(np.vstack([frames, np.repeat(frames[-1:], still.size, axis=0)]),
                              np.concatenate([frames_ts, still]), 30.0, ())
    assert held.modality_weights == pytest.approx({"face": 0.8, "eeg": 0.2})
    assert held.valence == pytest.approx(predictor.predict({EEG: eeg, FACE: repeated}).valence, abs=1e-5)
    gone = ModalityWindow(frames[:60], frames_ts[:60], 30.0, ())  # lost for 38 s: most steps beyond its 20 s
    with pytest.raises(MissingModality, match="face"):
        predictor.predict({EEG: eeg, FACE: gone})
    with pytest.raises(ValueError, match="hold_seconds"):
        registry.build("late-fusion", branches={
            "face": {"features": "frames", "feature_dim": 7, "channels": [8], "hold_seconds": 20.0, "gaps": True},
            "eeg": {"features": "band_power", "channels": [8]}})
