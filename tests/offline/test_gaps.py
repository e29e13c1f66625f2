"""A lost face: gap-aware models read missing steps (NaN rows) offline and live; ``offline gaps`` re-tests a run with
the same bursts for every model, the others holding the last observed row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models import registry
from models.contracts import EEG, FACE, ModalityWindow
from models.gaps import GapInput, random_bursts
from models.predictor import NetworkPredictor
from models.transforms import compute_features
from offline.__main__ import main
from offline.comparison import compare
from offline.gaps import _hold, burst_steps
from tests.support.dataset_files import write_mahnob_features

LFAN_GAPS = ('branches={"face":{"features":"precomputed","feature_dim":38,"channels":[8],"gaps":true},'
             '"eeg":{"features":"precomputed","feature_dim":128,"channels":[8]}}')
FACE_TCN = 'branches={"face":{"features":"precomputed","feature_dim":38}}'


def test_bursts_cover_the_share_asked_and_depend_only_on_trial_and_seed() -> None:
    lost = burst_steps("P02/04", 400, 4.0, 0.3, seed=0)
    assert lost.sum() == 120 and lost.dtype == bool
    assert np.array_equal(lost, burst_steps("P02/04", 400, 4.0, 0.3, seed=0))
    assert not np.array_equal(lost, burst_steps("P02/06", 400, 4.0, 0.3, seed=0))
    assert not np.array_equal(lost, burst_steps("P02/04", 400, 4.0, 0.3, seed=1))
    starts = np.flatnonzero(np.diff(lost.astype(int)) == 1)
    assert 3 <= starts.size + lost[0] <= 15, "bursts of 2-10 s, not scattered single steps"
    assert not burst_steps("x", 50, 4.0, 0.0).any()
    long = burst_steps("P02/04", 400, 4.0, 0.3, seed=0, burst_seconds=(20.0, 30.0))
    assert long.sum() == 120 and np.flatnonzero(np.diff(long.astype(int)) == 1).size + long[0] <= 2
    with pytest.raises(ValueError, match="lost share"):
        burst_steps("x", 50, 4.0, 1.0)


def test_hold_carries_the_last_observed_row_over_a_gap() -> None:
    data = np.arange(6, dtype=np.float32)[:, None]
    lost = np.array([True, False, True, True, False, True])
    assert _hold(data, lost)[:, 0].tolist() == [1, 1, 1, 1, 4, 4]


def test_gap_input_marks_missing_steps_and_drops_bursts_only_while_training() -> None:
    x = torch.randn(4, 20, 3)
    x[1, 5:9] = float("nan")
    gap = GapInput(dropout=1.0).eval()
    y = gap(x)
    assert y.shape == (4, 20, 4) and torch.isfinite(y).all()
    assert y[1, 5:9, :3].abs().sum() == 0 and y[1, 5:9, 3].sum() == 0 and y[0, :, 3].sum() == 20
    gap.train()
    assert (gap(x)[:, :, 3] == 0).any(dim=1).all(), "every window loses a burst with dropout 1"
    bursts = random_bursts(1000, 96, 0.5, torch.device("cpu"), generator=torch.Generator().manual_seed(0))
    share = bursts.any(dim=1).float().mean().item()
    assert 0.4 < share < 0.6
    runs = bursts.int().diff(dim=1).clamp(min=0).sum(dim=1) + bursts[:, 0].int()
    assert runs.max() == 1, "one contiguous burst per window"


def test_gap_aware_face_runs_live_with_the_face_lost() -> None:
    model = registry.build("lfan", branches={"face": {"features": "frames", "feature_dim": 7, "channels": [8],
                                                      "gaps": True},
                                             "eeg": {"features": "band_power", "channels": [8]}}, leader="face")
    spec = model.spec()
    assert spec.inputs[FACE].required is False and spec.inputs[EEG].required is True
    rate, t_end = 128.0, 30.0
    ts = t_end - np.arange(int(26 * rate))[::-1] / rate
    eeg = ModalityWindow(np.random.default_rng(0).standard_normal((ts.size, 32)), ts, rate,
                         spec.inputs[EEG].channels)
    frames_ts = np.arange(10.0, 20.0, 1 / 30)  # the face was seen from 10 s to 20 s only
    face = ModalityWindow(np.random.default_rng(1).random((frames_ts.size, 7)), frames_ts, 30.0, ())
    rows = compute_features(spec.inputs[FACE], face, t_end)
    missing = ~np.isfinite(rows).all(axis=1)
    assert missing[-38:].all() and not missing[-60:-44].any(), "steps without a frame are NaN rows, never filled"
    predictor = NetworkPredictor(model, spec, "lfan@untrained", trained=False, device="cpu")
    for window in ({EEG: eeg, FACE: face}, {EEG: eeg}):  # partly lost, then no face stream at all
        out = predictor.predict(window)
        assert np.isfinite(out.valence)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("gaps")
    root = write_mahnob_features(tmp / "mf", participants=(2, 3, 5), n_trials=2, steps=(100, 130))
    common = ["--dataset", "mahnob-features", "--root", str(root), "--protocol", "loso", "--no-final", "--set",
              "epochs=2", "--set", "hop_seconds=8", "--set", "num_threads=1"]
    main(["train", *common, "--model", "lfan", "--model-set", LFAN_GAPS, "--model-set", "gap_dropout=0.5",
          "--out", str(tmp / "lfan")])
    main(["train", *common, "--model", "tcn-face", "--model-set", FACE_TCN, "--model-set", "channels=[8]",
          "--out", str(tmp / "face")])
    return root, tmp / "lfan", tmp / "face"


def test_a_run_retested_with_gaps_is_a_run_that_compare_reads(runs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, lfan, face = runs
    main(["gaps", str(lfan), "--out", str(tmp_path / "lfan0"), "--fraction", "0"])
    same = json.loads((tmp_path / "lfan0" / "metrics.json").read_text())["targets"]["valence"]["summary"]
    report = json.loads((lfan / "metrics.json").read_text())["targets"]["valence"]
    original = report["summary"]
    assert [r["subject"] for r in report["subjects"]] == ["P02", "P03", "P05"]
    assert all(np.isfinite(r["ccc_subject"]) and np.isfinite(r["ccc_trial"]) for r in report["subjects"])
    for metric in ("ccc_subject", "ccc_trial"):  # nothing lost: the run's own scores
        assert same["per_subject"][metric]["mean"] == pytest.approx(original["per_subject"][metric]["mean"], abs=1e-5)
    for run, name in ((lfan, "lfan30"), (face, "face30")):
        assert main(["gaps", str(run), "--out", str(tmp_path / name), "--fraction", "0.3", "--seed", "3",
                     "--burst-seconds", "2", "5"]) == 0
    metrics = json.loads((tmp_path / "lfan30" / "metrics.json").read_text())
    assert metrics["gaps"]["fraction"] == 0.3 and metrics["gaps"]["burst_seconds"] == [2.0, 5.0]
    assert metrics["n_folds"] == 3
    assert np.isfinite(metrics["targets"]["valence"]["summary"]["per_subject"]["ccc_subject"]["mean"])
    for name in ("lfan30", "face30"):
        with np.load(tmp_path / name / "folds" / "P02" / "predictions.npz") as z:
            assert z["pred_valence"].size and np.isfinite(z["pred_valence"]).all()
    paired = compare(tmp_path / "lfan30", tmp_path / "face30", ["ccc_subject"])["targets"]["valence"]
    assert paired["subjects"] == ["P02", "P03", "P05"] and paired["metrics"]["ccc_subject"]["n"] == 3
    assert compare(tmp_path / "lfan30", lfan)["targets"]["valence"]["metrics"]["ccc_subject"]["n"] == 3
    with pytest.raises(FileExistsError):
        main(["gaps", str(lfan), "--out", str(tmp_path / "lfan30")])
