"""Retraining with calibration sessions: ``python -m offline train`` reads a real recorded session beside DEAP trials
(channels matched by name) or on its own, and ``offline deploy`` puts the result where the live app hot-swaps from."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from models.contracts import ModalityWindow
from models.predictor import load_predictor
from offline.__main__ import main
from offline.datasets import DatasetError, read
from offline.datasets.deap import EEG_CHANNELS
from offline.datasets.sessions import session_blocks
from offline.runner import fold_folder
from realtime.session_file import read_session
from tests.support.calibration_sessions import RATINGS, SUBJECT
from tests.support.dataset_files import write_deap_preprocessed, write_mahnob_features
from tests.support.small_settings import SMALL_STALIGNNET, SMALL_TRAINING


def _session_channels(path: Path) -> list[str]:
    with h5py.File(path, "r") as f:
        return [c.decode() if isinstance(c, bytes) else str(c) for c in f["eeg"].attrs["channels"]]


def _train(*args: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        main(["train", "--model", "stalignnet-valence", *SMALL_STALIGNNET, *SMALL_TRAINING, *args])


def test_sessions_train_beside_deap_trials_and_the_deployed_bundle_runs_on_the_session_stream(recorded_session,
                                                                                              tmp_path):
    deap = write_deap_preprocessed(tmp_path / "deap", n_subjects=3, n_trials=6, seconds=4.0, planted=True, seed=5,
                                   videos=True)
    channels = _session_channels(recorded_session.path)
    common = [c for c in channels if c in EEG_CHANNELS]  # the synthetic board's 16 names; DEAP has 10 of them
    assert 0 < len(common) < len(channels)
    out = tmp_path / "runs" / "deap-plus-s01"
    _train("--dataset", "deap", "--root", str(deap), "--sessions", str(recorded_session.path.parent),
           "--protocol", "holdout", "--test-subjects", "s03", "--out", str(out), "--face-cache", str(tmp_path / "fc"),
           "--model-set", f"eeg_channels={json.dumps(common)}", "--set", "epochs=2")

    config = json.loads((out / "config.json").read_text())
    assert config["run"]["dataset_options"]["sessions"] == [str(recorded_session.path.parent.resolve())]
    result = json.loads((out / "folds" / "holdout" / "result.json").read_text())
    fitted = result["trials"]["train"] + result["trials"]["val"]
    blocks = sorted(k for k in fitted if k.startswith(f"{SUBJECT}/"))
    assert [k.rsplit("/", 1)[1] for k in blocks] == [f"stimulus-0{i}" for i in range(1, len(RATINGS) + 1)]
    assert not any(k.startswith(f"{SUBJECT}/") for k in result["trials"]["test"])

    live = tmp_path / "live"  # the folder app.py --weights-dir watches
    main(["deploy", str(out), "--to", str(live)])
    assert sorted(p.name for p in live.iterdir()) == ["deap-plus-s01.json", "deap-plus-s01.safetensors"]
    predictor = load_predictor(str(live))
    assert predictor.trained and list(predictor.spec.inputs["eeg"].channels) == common

    # The deployed model runs on the session's own 16-channel stream, its channels picked by name.
    session = read_session(recorded_session.path)
    eeg, face = session.streams["eeg"], session.streams["face"]
    n = int(4 * eeg.rate)
    recent = face.timestamps > eeg.timestamps[-1] - 4
    window = {"eeg": ModalityWindow(eeg.data[-n:], eeg.timestamps[-n:], eeg.rate, eeg.channels),
              "face": ModalityWindow(face.data[recent], face.timestamps[recent], face.rate, face.channels)}
    output = predictor.predict(window)
    assert np.isfinite(output.valence) and -1 <= output.valence <= 1


def test_calibration_sessions_are_a_dataset_of_their_own(recorded_session, tmp_path):
    out = tmp_path / "runs" / "s01-kfold"
    channels = _session_channels(recorded_session.path)
    _train("--dataset", "calibration", "--root", str(recorded_session.path.parent), "--protocol", "kfold",
           "--out", str(out), "--no-final", "--model-set", f"eeg_channels={json.dumps(channels)}",
           "--set", "epochs=1")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_folds"] == len(RATINGS)  # k = 3: one rated block tested per fold
    tested = sorted(k for fold in (out / "folds").iterdir()
                    for k in json.loads((fold / "result.json").read_text())["trials"]["test"])
    assert tested == sorted(f"{SUBJECT}/{recorded_session.path.stem}/stimulus-0{i}" for i in (1, 2, 3))


def test_sessions_that_cannot_join_a_dataset_are_refused_with_the_reason(recorded_session, tmp_path):
    features = write_mahnob_features(tmp_path / "mf")
    with pytest.raises(DatasetError, match=r"no EEG channel name in common with mahnob-features \(session: Fz, C3"):
        read("mahnob-features", features, sessions=[recorded_session.path])
    with pytest.raises(DatasetError, match="give their folder as the root"):
        read("calibration", recorded_session.path.parent, sessions=[recorded_session.path])
    with pytest.raises(FileNotFoundError, match="no calibration session at"):
        read("calibration", tmp_path / "nowhere")


def test_a_session_subject_id_that_would_leave_the_run_folder_is_refused_naming_the_file(recorded_session, tmp_path):
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    evil = sessions / "evil.h5"
    shutil.copyfile(recorded_session.path, evil)
    with h5py.File(evil, "r+") as f:
        f.attrs["subject"] = "../../x"
    runs = tmp_path / "runs"
    with pytest.raises(ValueError, match=r"evil\.h5: subject id '\.\./\.\./x' must be 1-64 letters"):
        _train("--dataset", "calibration", "--root", str(sessions), "--protocol", "kfold", "--out",
               str(runs / "evil"), "--no-final", "--model-set", f"eeg_channels={json.dumps(_session_channels(evil))}",
               "--set", "epochs=1")
    assert not runs.exists() or [p.name for p in runs.iterdir()] == ["evil"]  # no fold folder beside the run
    assert not list(tmp_path.rglob("x-k*"))
    for bad in ("S01\n", "..", ".", "a/b", "", "-x"):
        with h5py.File(evil, "r+") as f:
            f.attrs["subject"] = bad
        with pytest.raises(ValueError, match=r"evil\.h5"):
            session_blocks(evil)


def test_fold_folders_stay_inside_the_run_folder(tmp_path):
    assert fold_folder(tmp_path, "S01-k0") == tmp_path / "folds" / "S01-k0"
    for bad in ("../../x-k0", "..", "a/b", "S01\n-k0"):
        with pytest.raises(ValueError, match="fold name"):
            fold_folder(tmp_path, bad)
