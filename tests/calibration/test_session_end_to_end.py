"""A full headless calibration session, read back with plain h5py, adapted, and run live as the subject's profile."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import h5py
import numpy as np
import pytest

from offline.datasets.sessions import read_calibration, session_blocks
from offline.windowing import make_windows
from tests.support.calibration_sessions import RATINGS, ROOT, SUBJECT

BLOCKS = ["baseline-eyes-open", "baseline-eyes-closed", "stimulus-01", "stimulus-02", "stimulus-03"]


def test_the_session_file_holds_every_stream_marker_and_rating_for_a_plain_hdf5_reader(recorded_session):
    with h5py.File(recorded_session.path, "r") as f:  # plain h5py, none of our code
        assert f.attrs["subject"] == SUBJECT and "[stimuli]" in f.attrs["protocol"]
        eeg_ts = f["eeg/timestamps"][()]
        assert f["eeg/data"].shape == (eeg_ts.size, 16) and f["eeg"].attrs["rate"] == 250
        for stream, width in (("face", 128), ("expression", 7)):
            assert f[f"{stream}/data"].shape[1] == width and f[f"{stream}/data"].shape[0] > 50
        assert f["predictions/model_id"].shape[0] > 40
        blocks = f["tables/blocks"]
        names = [n.decode() for n in blocks["name"][()]]
        onset, offset = blocks["onset"][()], blocks["offset"][()]
        ratings = (f["tables/ratings/valence"][()], f["tables/ratings/arousal"][()])
        markers = [m.decode() for m in f["markers/text"][()]]
        marker_times = f["markers/time"][()]
    assert names == BLOCKS
    np.testing.assert_allclose(offset - onset, [4, 3, 4, 4, 4], atol=0.3)
    assert np.all(onset[1:] >= offset[:-1])
    # the EEG covers every block at 250 Hz, without holes
    for a, b in zip(onset, offset, strict=True):
        inside = (eeg_ts >= a) & (eeg_ts <= b)
        assert inside.sum() >= 0.98 * (b - a) * 250
    assert [tuple(map(int, r)) for r in zip(*ratings, strict=True)] == list(RATINGS)
    for name, a, b in zip(names, onset, offset, strict=True):
        np.testing.assert_allclose(marker_times[markers.index(f"onset {name}")], a)
        np.testing.assert_allclose(marker_times[markers.index(f"offset {name}")], b)
    assert "rating stimulus-01 valence=7 arousal=6" in markers


def test_blocks_become_trials_that_offline_windowing_accepts(recorded_session):
    blocks = session_blocks(recorded_session.path, labels="face")
    assert [b.trial.trial.split("/")[1] for b in blocks] == BLOCKS
    assert [b.kind for b in blocks] == ["baseline"] * 2 + ["stimulus"] * 3
    stimulus = blocks[2].trial
    assert stimulus.ratings == {"valence": 7.0, "arousal": 6.0} and stimulus.subject == SUBJECT
    assert stimulus.signals["eeg"].data.shape[1] == 16 and stimulus.signals["face"].timestamps is not None
    # face-prior traces from the recorded expressions (the distillation teacher), on -1..1
    assert all(np.abs(b.trial.traces["valence"].data).max() <= 1 for b in blocks if "valence" in b.trial.traces)

    trials = read_calibration(recorded_session.path.parent)  # the offline-reader entry point: rated blocks only
    assert [t.ratings["valence"] for t in trials] == [7.0, 5.0, 2.0]
    from models import registry

    model = registry.build("tcn-eeg", steps=4, eeg_channels=list(trials[0].signals["eeg"].channels))
    ws = make_windows(trials, range(len(trials)), model.spec(), hop_seconds=0.5)
    assert ws.inputs["eeg"].shape[1:] == (4, 16 * 6)
    np.testing.assert_allclose(np.unique(ws.targets["valence"]), sorted({(v - 5) / 4 for v, _ in RATINGS}))


def _adapt(recorded_session, mode: str, *extra: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "calibration", "adapt", "--subject", SUBJECT, "--sessions",
         str(recorded_session.path.parent), "--base", "tcn-eeg", "--model-set", "steps=4", "--mode", mode,
         "--epochs", "15", "--out", str(recorded_session.folder / "profiles" / SUBJECT), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    manifest = json.loads(out.stdout.strip().splitlines()[-1])["profile"]
    return json.loads(open(manifest).read()) | {"path": manifest}


def test_adapted_profile_has_provenance_and_runs_live_through_app_subject(recorded_session):
    finetuned = _adapt(recorded_session, "finetune")
    prov = finetuned["provenance"]
    assert finetuned["trained"] and prov["subject"] == SUBJECT and prov["dataset"] == "calibration"
    assert prov["sessions"] == [str(recorded_session.path.resolve())]
    assert prov["adaptation"]["mode"] == "finetune" and prov["adaptation"]["labels"] == "ratings"
    assert prov["adaptation"]["normalisation_from"]["eeg"].startswith("subject baseline blocks")
    assert prov["adaptation"]["windows"] >= 6
    losses = prov["adaptation"]["train_loss"]
    assert losses[-1] < losses[0]
    assert len(finetuned["normalisation"]["eeg"]["mean"]) == 16 * 6

    app = subprocess.run(
        [sys.executable, "app.py", "--subject", SUBJECT, "--profiles", str(recorded_session.folder / "profiles"),
         "--eeg", "brainflow:synthetic", "--cam", "none", "--no-gui", "--lsl-loopback", "--duration", "5",
         "--name", f"profile-{uuid.uuid4().hex[:8]}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert app.returncode == 0, app.stderr[-2000:]
    sha = finetuned["weights"]["sha256"][:8]
    lines = [x for x in app.stdout.splitlines() if "model " in x]
    assert lines and all(f"model tcn-eeg@{sha}" in x and "untrained" not in x for x in lines)
    assert re.search(r"V=[+-]\d\.\d\d", lines[-1]), lines[-1]  # the profile predicts on the live stream


def test_app_says_when_a_subject_has_no_profile(tmp_path):
    app = subprocess.run([sys.executable, "app.py", "--subject", "nobody", "--profiles", str(tmp_path), "--no-gui",
                          "--lsl-loopback"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert app.returncode == 2 and "no profile for subject nobody" in app.stderr


def test_head_only_finetuning_changes_the_head_and_nothing_else(recorded_session):
    from calibration.adapt import AdaptSettings, adapt, load_base
    from models.bundle import load_bundle

    channels = tuple(session_blocks(recorded_session.path)[0].trial.signals["eeg"].channels)
    base = load_base("tcn-eeg", channels, {"steps": 4})
    before = {k: v.clone() for k, v in base.model.state_dict().items()}
    manifest = adapt(SUBJECT, [recorded_session.path], base, recorded_session.folder / "head",
                     AdaptSettings(mode="finetune", layers="head", epochs=5))
    after = load_bundle(manifest).model.state_dict()
    changed = sorted(k for k in before if not np.allclose(before[k].numpy(), after[k].numpy()))
    assert changed == ["head.bias", "head.weight"]


def test_distillation_learns_the_face_prior_valence_without_any_rating(recorded_session):
    from calibration.adapt import AdaptSettings, adapt, load_base

    channels = tuple(session_blocks(recorded_session.path)[0].trial.signals["eeg"].channels)
    base = load_base("tcn-eeg", channels, {"steps": 4})
    manifest = adapt(SUBJECT, [recorded_session.path], base, recorded_session.folder / "distill",
                     AdaptSettings(mode="distill", layers="last:2", epochs=15))
    prov = json.loads(manifest.read_text())["provenance"]["adaptation"]
    assert prov["labels"] == "face" and prov["layers"] == "last:2"
    # baseline blocks count too: the teacher needs a face, not a rating
    assert any("baseline" in b for b in prov["blocks"]) and prov["windows"] > 9
    assert prov["train_loss"][-1] < prov["train_loss"][0]


def test_adaptation_refuses_what_it_cannot_do(recorded_session):
    from calibration.adapt import AdaptationError, AdaptSettings, adapt, load_base, trainable_names

    channels = tuple(session_blocks(recorded_session.path)[0].trial.signals["eeg"].channels)
    with pytest.raises(AdaptationError, match="distill needs continuous targets"):
        adapt(SUBJECT, [recorded_session.path], load_base("stalignnet", channels), recorded_session.folder / "x",
              AdaptSettings(mode="distill"))
    with pytest.raises(AdaptationError, match="other subjects given for S02: S01"):
        adapt("S02", [recorded_session.path], load_base("tcn-eeg", channels, {"steps": 4}),
              recorded_session.folder / "x", AdaptSettings(mode="normalise"))
    with pytest.raises(AdaptationError, match=r"eeg window of tcn-eeg: it needs 25.75 s, the longest block with eeg "
                                              r"lasts 4.0"):
        adapt(SUBJECT, [recorded_session.path], load_base("tcn-eeg", channels), recorded_session.folder / "x",
              AdaptSettings(mode="finetune"))
    model = load_base("tcn-eeg", channels, {"steps": 4}).model
    with pytest.raises(AdaptationError, match="layers must be head, last:N"):
        trainable_names(model, "last:0")
    assert trainable_names(model, "last:1") == ["head.weight", "head.bias"]


def test_distillation_takes_the_profiles_trained_teacher_and_names_it(recorded_session):
    """A teacher in <profile>/teacher/ (here a face TCN that always says valence -0.7) replaces the face prior."""
    import torch

    from calibration.adapt import AdaptSettings, adapt, load_base
    from models import registry
    from models.bundle import load_bundle, save_bundle
    from models.transforms import normalise
    from offline.training import predict

    teacher = registry.build("tcn-face", steps=4, channels=[4])
    with torch.no_grad():
        teacher.head.weight.zero_()
        teacher.head.bias.fill_(float(np.arctanh(-0.7)))
    profile = recorded_session.folder / "teacher-profile"
    dim = teacher.spec().inputs["face"].feature_dim
    manifest = save_bundle(teacher, profile / "teacher", "teacher", trained=True,
                           normalisation={"face": {"mean": [0.0] * dim, "std": [1.0] * dim}}, provenance={})
    channels = tuple(session_blocks(recorded_session.path)[0].trial.signals["eeg"].channels)
    student = adapt(SUBJECT, [recorded_session.path], load_base("tcn-eeg", channels, {"steps": 4}), profile,
                    AdaptSettings(mode="distill", layers="head", epochs=60, lr=1e-2))
    assert student.parent == profile, "the profile itself, not its teacher folder"
    prov = json.loads(student.read_text())["provenance"]["adaptation"]
    assert prov["teacher"] == load_bundle(manifest).model_id
    bundle = load_bundle(student)
    blocks = [b.trial for b in session_blocks(recorded_session.path, labels="face") if "valence" in b.trial.traces]
    ws = make_windows(blocks, range(len(blocks)), bundle.spec, 0.5)
    ws.inputs = {m: normalise(v, bundle.normalisation[m]).astype(np.float32) for m, v in ws.inputs.items()}
    learned = predict(bundle.model, ws, torch.device("cpu"), amp=False)["valence"]
    prior = float(np.mean(np.concatenate([t.traces["valence"].data[:, 0] for t in blocks])))
    assert abs(prior + 0.7) > 0.3, f"the demo's face prior ({prior:+.2f}) must differ from the teacher's -0.7"
    student = float(np.median(learned))
    assert abs(student + 0.7) < abs(student - prior), \
        f"the student ({student:+.2f}) learned the face prior's valence ({prior:+.2f}), not the teacher's"
    untaught = adapt(SUBJECT, [recorded_session.path], load_base("tcn-eeg", channels, {"steps": 4}),
                     recorded_session.folder / "no-teacher", AdaptSettings(mode="distill", epochs=1))
    assert json.loads(untaught.read_text())["provenance"]["adaptation"]["teacher"].startswith("face-prior")
