"""The SEED-IV reader on files written in SEED-IV's real format (MAT v5, ``eeg_feature_smooth/{1,2,3}/{s}_{date}.mat``
with ``de_LDS{k}``, ``de_movingAve{k}``, ``psd_*`` of (62, n, 5); ``eye_feature_smooth/...`` with ``eye_{k}`` of
(31, n)): shapes, the ReadMe's labels per session, subject ids, the channel-major EEG layout SEED-V's models read,
eye alignment, errors naming what is wrong, and short trainings of ``cmt-seedv`` and ``r2gfanet`` on it."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from models.channels import SEEDV_CHANNELS
from offline.__main__ import main
from offline.aggregation import chance_interval
from offline.datasets import read
from offline.datasets.reader import DatasetError
from offline.datasets.seediv import SESSION_ORDER
from offline.datasets.seedv import BANDS, DE_NAMES
from tests.support.small_settings import SMALL_CMT, SMALL_CMT_TRAINING, SMALL_R2GFANET

#: SEED-IV's ReadMe, copied here so the reader's table is checked against it (0 neutral, 1 sad, 2 fear, 3 happy).
README_LABELS = {
    1: [1, 2, 3, 0, 2, 0, 0, 1, 0, 1, 2, 1, 1, 1, 2, 3, 2, 2, 3, 3, 0, 3, 0, 3],
    2: [2, 1, 3, 0, 0, 2, 0, 2, 3, 3, 2, 3, 2, 0, 1, 1, 2, 1, 0, 3, 0, 1, 3, 1],
    3: [1, 2, 2, 1, 3, 3, 3, 1, 1, 2, 1, 0, 2, 3, 3, 0, 2, 3, 0, 0, 2, 0, 1, 0],
}
DATES = {1: "20160518", 2: "20161125", 3: "20161126"}


def eeg_file(root: Path, subject: int, session: int) -> Path:
    return root / "eeg_feature_smooth" / str(session) / f"{subject}_{DATES[session]}.mat"


def eye_file(root: Path, subject: int, session: int) -> Path:
    return root / "eye_feature_smooth" / str(session) / f"{subject}_{DATES[session]}.mat"


def write_seediv(root: Path, subjects: tuple[int, ...] = (1, 2), windows: tuple[int, int] = (3, 6),
                 planted: bool = False, seed: int = 0) -> Path:
    """SEED-IV's feature folders: per session and subject an EEG file (DE and PSD, both smoothings) and an eye file
    whose window count differs from the EEG's by up to one (as SEED-V's do); noise, plus a class mean if planted."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, (4, 62, 1, 5))
    for session, labels in README_LABELS.items():
        for subject in subjects:
            eeg: dict[str, np.ndarray] = {}
            eye: dict[str, np.ndarray] = {}
            for k, emotion in enumerate(labels, 1):
                n = int(rng.integers(*windows))
                for name in ("de_movingAve", "de_LDS", "psd_movingAve", "psd_LDS"):
                    eeg[f"{name}{k}"] = rng.normal(0, 1, (62, n, 5)) + (centres[emotion] if planted else 0.0)
                eye[f"eye_{k}"] = rng.normal(0, 1, (31, n + int(rng.integers(-1, 2))))
            for path, variables in ((eeg_file(root, subject, session), eeg), (eye_file(root, subject, session), eye)):
                path.parent.mkdir(parents=True, exist_ok=True)
                scipy.io.savemat(path, variables, do_compression=True)
    return root


def edit(path: Path, **changes: np.ndarray | None) -> None:
    """Rewrite a MAT file with some variables replaced (None: removed)."""
    variables = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    for key, value in changes.items():
        if value is None:
            del variables[key]
        else:
            variables[key] = value
    scipy.io.savemat(path, variables, do_compression=True)


@pytest.fixture(scope="module")
def seediv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_seediv(tmp_path_factory.mktemp("seediv"))


def test_every_trial_with_the_readme_labels_sessions_blocks_and_subjects(seediv: Path) -> None:
    trials = read("seediv", seediv)
    assert len(trials) == 2 * 3 * 24 and [t.subject for t in trials[::72]] == ["S01", "S02"]
    assert {k: list(v) for k, v in SESSION_ORDER.items()} == README_LABELS
    for subject in ("S01", "S02"):
        for session, labels in README_LABELS.items():
            ours = [t for t in trials if t.subject == subject and t.session == session]
            assert [t.trial for t in ours] == [f"{session}-{k:02d}" for k in range(1, 25)]
            assert [int(t.ratings["emotion"]) for t in ours] == labels
            assert [t.block for t in ours] == [0] * 8 + [1] * 8 + [2] * 8
            assert np.bincount(labels).tolist() == [6, 6, 6, 6]
    t = trials[72 + 24 + 4]  # S02, session 2, trial 5 (neutral)
    assert (t.subject, t.trial, t.session, t.block, t.ratings["emotion"]) == ("S02", "2-05", 2, 0, 0.0)
    assert t.source == str(eeg_file(seediv, 2, 2)) and t.dataset == "seediv"
    assert t.signals["eeg"].channels == DE_NAMES and t.signals["eeg"].rate == 0.25
    assert t.signals["eye"].data.shape[1] == 31 and t.signals["eye"].data.dtype == np.float32
    assert [t.subject for t in read("seediv", seediv, subjects=["S02"])] == ["S02"] * 72


def test_eeg_rows_are_channel_major_like_seedv_and_the_source_picks_the_smoothing(tmp_path: Path) -> None:
    root = write_seediv(tmp_path, subjects=(1,))
    path = eeg_file(root, 1, 3)
    planted = {"de_LDS": (2, "T8", 3, 7.0), "de_movingAve": (1, "O1", 0, -3.0)}  # window, channel, band, value
    for source, (window, channel, band, value) in planted.items():
        array = np.zeros((62, 4, 5))
        array[SEEDV_CHANNELS.index(channel), window, band] = value
        edit(path, **{f"{source}5": array})
    for source, (window, channel, band, value) in planted.items():
        data = next(t for t in read("seediv", root, source=source) if t.trial == "3-05").signals["eeg"].data
        column = SEEDV_CHANNELS.index(channel) * 5 + band  # channel-major, as SEED-V's 310 columns
        assert DE_NAMES[column] == f"{channel}_{BANDS[band]}"
        assert data.shape == (4, 310) and data[window, column] == value and np.count_nonzero(data) == 1
    with pytest.raises(ValueError, match="unknown SEED-IV source 'psd_LDS'"):
        read("seediv", root, source="psd_LDS")


@pytest.mark.parametrize("extra", [-2, 3])
def test_eye_rows_are_aligned_to_the_eeg_by_truncating_the_longer(tmp_path: Path, extra: int) -> None:
    root = write_seediv(tmp_path, subjects=(1,))
    eye = np.arange(31 * (6 + extra), dtype=np.float64).reshape(31, 6 + extra)
    edit(eeg_file(root, 1, 1), de_LDS7=np.ones((62, 6, 5)))
    edit(eye_file(root, 1, 1), eye_7=eye)
    trial = next(t for t in read("seediv", root) if t.trial == "1-07")
    n = min(6, 6 + extra)
    assert trial.signals["eeg"].data.shape == (n, 310) and trial.signals["eye"].data.shape == (n, 31)
    np.testing.assert_array_equal(trial.signals["eye"].data, eye.T[:n])
    assert all(len(t.signals["eeg"].data) == len(t.signals["eye"].data) for t in read("seediv", root))


def test_without_eye_features_only_the_eeg_folder_is_read(tmp_path: Path) -> None:
    root = write_seediv(tmp_path, subjects=(1,))
    for path in sorted((root / "eye_feature_smooth").rglob("*.mat")):
        path.unlink()
    trials = read("seediv", root, eye=False)
    assert len(trials) == 72 and all(set(t.signals) == {"eeg"} for t in trials)
    with pytest.raises(DatasetError, match=r"eye_feature_smooth/1: no \{subject\}_\{date\}\.mat files"):
        read("seediv", root)


def test_bad_input_is_an_error_naming_what_is_wrong(tmp_path: Path) -> None:
    root = write_seediv(tmp_path, subjects=(1, 2))

    def refused(pattern: str) -> None:
        with pytest.raises(DatasetError, match=pattern):
            read("seediv", root)

    with pytest.raises(DatasetError, match=r"empty/eeg_feature_smooth/1: folder not found"):
        read("seediv", tmp_path / "empty")
    (root / "eye_feature_smooth" / "3").rename(tmp_path / "eye3")
    refused(r"eye_feature_smooth/3: folder not found")
    (tmp_path / "eye3").rename(root / "eye_feature_smooth" / "3")

    edit(eeg_file(root, 2, 2), de_LDS7=None, de_LDS20=None)
    refused(r"eeg_feature_smooth/2/2_20161125\.mat: missing keys de_LDS7, de_LDS20")
    edit(eeg_file(root, 2, 2), de_LDS7=np.zeros((62, 3, 5)), de_LDS20=np.zeros((62, 3, 4)))
    refused(r"2/2_20161125\.mat: 'de_LDS20' has shape \(62, 3, 4\), expected \(62, n, 5\)")
    edit(eeg_file(root, 2, 2), de_LDS20=np.zeros((62, 3, 5)))

    edit(eye_file(root, 1, 3), eye_24=np.zeros((33, 4)))
    refused(r"eye_feature_smooth/3/1_20161126\.mat: 'eye_24' has 33 features per window, earlier trials 31")
    edit(eye_file(root, 1, 3), eye_24=np.zeros((31, 4, 1)))
    refused(r"'eye_24' has shape \(31, 4, 1\), expected \(features, n\)")
    edit(eye_file(root, 1, 3), eye_24=np.zeros((31, 4)))

    eye_file(root, 2, 1).rename(eye_file(root, 2, 1).with_name("2_20160601.mat"))  # matched by subject number
    assert len(read("seediv", root)) == 144
    eeg_file(root, 2, 2).rename(tmp_path / "moved.mat")
    refused(r"eeg_feature_smooth/2: no file of subject 2 \(2_\{date\}\.mat\)")
    (tmp_path / "moved.mat").rename(eeg_file(root, 2, 2))

    (root / "eeg_feature_smooth" / "1" / "2_20170101.mat").write_bytes(eeg_file(root, 2, 1).read_bytes())
    refused(r"eeg_feature_smooth/1: two files of subject 2: 2_20160518\.mat, 2_20170101\.mat")
    (root / "eeg_feature_smooth" / "1" / "2_20170101.mat").unlink()
    (root / "eeg_feature_smooth" / "1" / "notes_x.mat").write_bytes(b"")
    refused(r"notes_x\.mat: not named \{subject number\}_\{date\}\.mat")
    (root / "eeg_feature_smooth" / "1" / "notes_x.mat").unlink()

    whole = eeg_file(root, 1, 1).read_bytes()
    eeg_file(root, 1, 1).write_bytes(whole[: len(whole) // 2])  # scipy reads a cut file's first variables
    refused(r"eeg_feature_smooth/1/1_20160518\.mat: missing keys de_LDS1[0-9], ")
    eeg_file(root, 1, 1).write_bytes(bytes(300))
    refused(r"eeg_feature_smooth/1/1_20160518\.mat: not a readable MAT file")


@pytest.fixture(scope="module")
def planted_seediv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_seediv(tmp_path_factory.mktemp("seediv_planted"), subjects=(1, 2, 3), windows=(5, 7), planted=True,
                        seed=3)


@pytest.mark.parametrize(("model", "small"), [("cmt-seedv", SMALL_CMT), ("r2gfanet", SMALL_R2GFANET)])
@pytest.mark.parametrize(("protocol", "fold", "tested"), [
    ("seedv-blocks", "S01-b0", [f"S01/{s}-{k:02d}" for s in (1, 2, 3) for k in range(1, 9)]),  # block 0 of each session
    ("loso", "S01", [f"S01/{s}-{k:02d}" for s in (1, 2, 3) for k in range(1, 25)]),
])
def test_seedv_models_train_on_seediv_with_four_classes_and_its_31_eye_features(
        planted_seediv: Path, tmp_path: Path, model: str, small: list[str], protocol: str, fold: str,
        tested: list[str]) -> None:
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        main(["train", "--dataset", "seediv", "--root", str(planted_seediv), "--model", model, "--protocol", protocol,
              "--out", str(out), "--no-final", "--max-folds", "1", "--model-set", "n_classes=4", *small,
              *SMALL_CMT_TRAINING])
    result = json.loads((out / "folds" / fold / "result.json").read_text())
    assert sorted(result["trials"]["test"]) == sorted(tested)
    config = json.loads((out / "folds" / fold / "model" / "model.json").read_text())["spec"]["config"]
    assert config["n_classes"] == 4
    assert {m: b["feature_dim"] for m, b in config["branches"].items()} == {"eeg": 310, "eye": 31}
    summary = json.loads((out / "metrics.json").read_text())["targets"]["emotion"]["summary"]
    pooled = summary["pooled_trials"]
    assert pooled["n"] == len(tested) and np.shape(summary["confusion"]) == (4, 4)
    assert tuple(summary["chance_interval_95"]) == chance_interval(len(tested), 1 / 4)
    assert pooled["accuracy"] > summary["chance_interval_95"][1], "the planted emotion signal is learned"
