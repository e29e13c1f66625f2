"""What ``offline deploy`` writes is what the live app loads (``models.predictor.load_predictor(DIR)``), and the
live predictor gives the same output as offline evaluation for the same stretch of a recording."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from models.contracts import ModalityWindow
from models.predictor import load_predictor
from models.transforms import get_transform, normalise
from offline.__main__ import main
from offline.datasets import read
from offline.video_faces import attach_faces
from offline.windowing import make_windows
from tests.support.dataset_files import write_deap_preprocessed
from tests.support.small_settings import SMALL_STALIGNNET, SMALL_TRAINING

LSL_ORIGIN = 5000.0  # live timestamps are on the LSL clock, not from zero


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("deploy")
    root = write_deap_preprocessed(base / "deap", n_subjects=3, n_trials=6, seconds=4.0, planted=True, seed=5,
                                   videos=True)
    out, cache = base / "runs" / "st-holdout", base / "faces"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        main(["train", "--dataset", "deap", "--root", str(root), "--model", "stalignnet-valence", "--protocol",
              "holdout", "--test-subjects", "s03", "--out", str(out), "--face-cache", str(cache),
              *SMALL_STALIGNNET, *SMALL_TRAINING, "--set", "epochs=3"])
    return root, out, cache


def test_deploy_writes_a_bundle_the_live_app_loads(trained_run: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, out, cache = trained_run
    target = tmp_path / "live_models"
    main(["deploy", str(out), "--to", str(target)])
    assert sorted(p.name for p in target.iterdir()) == ["st-holdout.json", "st-holdout.safetensors"]
    manifest = json.loads((target / "st-holdout.json").read_text())
    assert manifest["provenance"]["fold"] == "final" and manifest["trained"] is True
    predictor = load_predictor(str(target))
    assert predictor.trained and predictor.model_id.startswith("stalignnet-valence@")

    # The same window through the live predictor and through offline windowing + the exported model.
    trials = read("deap", root)
    attach_faces(trials, "face", 128, 4.0, cache)
    trial = next(t for t in trials if t.subject == "s03")
    spec = predictor.spec
    offline = make_windows([trial], [0], spec, hop_seconds=0.5)
    x = {m: torch.from_numpy(normalise(v[-1:], manifest["normalisation"][m])) for m, v in offline.inputs.items()}
    with torch.no_grad():
        expected = torch.softmax(predictor.model.cpu()(x)["valence"], -1)[0].numpy()

    eeg, face = trial.signals["eeg"], trial.signals["face"]
    lookback = get_transform(spec.inputs["eeg"].transform).lookback_seconds(spec.inputs["eeg"])
    n = round(lookback * eeg.rate)
    eeg_times = LSL_ORIGIN + np.arange(eeg.data.shape[0] - n, eeg.data.shape[0]) / eeg.rate
    window = {
        "eeg": ModalityWindow(eeg.data[-n:], eeg_times, eeg.rate, eeg.channels),
        "face": ModalityWindow(face.data, LSL_ORIGIN + face.timestamps, face.rate, face.channels),
    }
    output = predictor.predict(window)
    np.testing.assert_allclose(output.probabilities["valence"], expected, atol=1e-4)
    assert output.valence == pytest.approx(2 * expected[1] - 1, abs=2e-4)


def test_deploy_refuses_a_damaged_bundle(trained_run: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, out, _ = trained_run
    broken = tmp_path / "broken"
    (broken / "model").mkdir(parents=True)
    for name in ("model.json", "model.safetensors"):
        (broken / "model" / name).write_bytes((out / "model" / name).read_bytes())
    weights = broken / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    target = tmp_path / "live"
    with pytest.raises(ValueError, match=r"model\.safetensors"):
        main(["deploy", str(broken), "--to", str(target)])
    assert not target.exists() or not list(target.iterdir()), "nothing is copied when validation fails"


def test_report_is_rebuilt_from_the_run_folder(trained_run: tuple[Path, Path, Path], capsys) -> None:
    _, out, _ = trained_run
    (out / "metrics.json").unlink()
    main(["report", str(out)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_folds"] == 1 and metrics["folds"][0]["test_subjects"] == ["s03"]
    assert "valence: mean +/- std over subjects [bootstrap 95 % interval], n=1" in capsys.readouterr().out


def test_deploy_names_follow_the_shared_rule_with_a_clean_message(tmp_path: Path, capsys) -> None:
    from models import registry
    from models.bundle import save_bundle
    from offline.export import deploy

    run = tmp_path / "run"
    save_bundle(registry.build("tcn-eeg", channels=[8], eeg_channels=["Cz"]), run / "model", "model", trained=True)
    target = tmp_path / "live"
    for bad in ("a/b", "..", ".", "S01\n", "x" * 65):
        with pytest.raises(SystemExit) as exit_info:
            main(["deploy", str(run), "--to", str(target), "--name", bad])
        assert exit_info.value.code == 2
        assert f"argument --name: bundle name {bad!r} must be 1-64 letters" in capsys.readouterr().err
        with pytest.raises(ValueError, match="bundle name"):
            deploy(run, target, bad)
    assert not target.exists() or not list(target.iterdir()), "nothing is copied under a refused name"
    deploy(run, target, "good.name-1")
    assert sorted(p.name for p in target.iterdir()) == ["good.name-1.json", "good.name-1.safetensors"]
