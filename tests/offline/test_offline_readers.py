"""Readers load fixtures written in the real formats (and the real MAHNOB features) with the right shapes,
labels, channel order by name and subject ids; damaged or missing files are errors naming the file."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from offline.datasets import DatasetError, read
from offline.datasets.deap import EEG_CHANNELS
from offline.datasets.pickles import load_file, loads
from tests.support.dataset_files import (
    GENEVA_ORDER,
    write_deap_original,
    write_deap_preprocessed,
    write_mahnob_features,
    write_mahnob_sessions,
    write_seedv,
)

REAL_MAHNOB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mahnob_features"


def test_deap_preprocessed_shapes_labels_and_video_order(tmp_path: Path) -> None:
    root = write_deap_preprocessed(tmp_path, n_subjects=2, n_trials=4, seconds=4.0)
    raw = load_file(root / "data_preprocessed_python" / "s02.dat")
    trials = read("deap", root)
    assert len(trials) == 8 and {t.subject for t in trials} == {"s01", "s02"}
    t = next(t for t in trials if t.subject == "s02" and t.trial == "03")
    assert t.signals["eeg"].data.shape == (4 * 128, 32) and t.signals["eeg"].channels == EEG_CHANNELS
    assert t.signals["physio"].data.shape == (4 * 128, 8)
    np.testing.assert_allclose(t.signals["eeg"].data, raw["data"][2, :32, 384:].T, rtol=1e-6)  # baseline cut
    assert t.ratings["valence"] == pytest.approx(raw["labels"][2, 0])


def test_deap_face_videos_mapped_through_experiment_id_and_missing_ones_warn(tmp_path: Path) -> None:
    root = write_deap_preprocessed(tmp_path, n_subjects=1, n_trials=3, seconds=2.0)
    rows = (root / "participant_ratings.csv").read_text().splitlines()[1:]
    presented = {int(r.split(",")[1]): int(r.split(",")[2]) for r in rows}  # Trial -> Experiment_id
    videos = root / "face_video" / "s01"
    videos.mkdir(parents=True)
    (videos / "s01_trial01.avi").write_bytes(b"placeholder file: only the mapping is read here")
    with pytest.warns(UserWarning, match="s01_trial02.avi: face video missing"):
        trials = read("deap", root)
    with_video = [t for t in trials if "face" in t.videos]
    assert [t.trial for t in with_video] == [f"{presented[1]:02d}"]


def test_deap_original_bdf_reorders_geneva_channels_and_decodes_status(tmp_path: Path) -> None:
    root = write_deap_original(tmp_path, subjects=(1, 23), n_trials=3, seconds=3.0, status_label="")
    trials = read("deap", root, source="original")
    assert len(trials) == 6
    for t in trials:
        assert t.signals["eeg"].channels == EEG_CHANNELS
        assert t.signals["eeg"].data.shape == (3 * 512, 32)  # exactly the code-4 span
    # Reordering by name: s01 was written in the Geneva order; compare one channel against its source position.
    import edfio

    bdf = edfio.read_bdf(root / "data_original" / "s01.bdf")
    fz_written = bdf.signals[GENEVA_ORDER.index("Fz")].data
    first = trials[0]
    start = 512  # 1 s fixation before the first video
    np.testing.assert_allclose(first.signals["eeg"].data[:, EEG_CHANNELS.index("Fz")], fz_written[start:start + 1536],
                               atol=0.01)
    ratings_rows = (root / "participant_ratings.csv").read_text().splitlines()[1:]
    first_row = ratings_rows[0].split(",")
    assert first.trial == f"{int(first_row[2]):02d}" and first.ratings["valence"] == pytest.approx(float(first_row[4]))


def test_mahnob_sessions_cut_at_status_events(tmp_path: Path) -> None:
    root = write_mahnob_sessions(tmp_path, subjects=(1, 3), sections=(2, 4), seconds=3.0, margin=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no videos in this fixture
        trials = read("mahnob", root)
    assert [(t.subject, t.trial) for t in trials] == [("P01", "02"), ("P01", "04"), ("P03", "02"), ("P03", "04")]
    assert all(t.signals["eeg"].data.shape == (3 * 256, 32) for t in trials)
    assert all(1 <= t.ratings["valence"] <= 9 for t in trials)


def test_mahnob_session_without_two_status_events_is_an_error_naming_the_file(tmp_path: Path) -> None:
    root = write_mahnob_sessions(tmp_path, subjects=(1,), sections=(2,), seconds=2.0, margin=1.0, status_events=3)
    with pytest.raises(DatasetError, match=r"Part_1_S_Trial1_emotion\.bdf: expected exactly two Status events"):
        read("mahnob", root, videos=False)


def test_mahnob_session_without_ratings_is_skipped_with_a_warning(tmp_path: Path) -> None:
    from tests.support.dataset_files import write_session_xml

    root = write_mahnob_sessions(tmp_path, subjects=(1,), sections=(2, 4), seconds=2.0, margin=1.0)
    write_session_xml(root / "Sessions" / "4" / "session.xml", 4, 1, None, 4)
    with pytest.warns(UserWarning, match="no felt"):
        trials = read("mahnob", root, videos=False)
    assert [t.trial for t in trials] == ["02"]


def test_mahnob_features_fixture(tmp_path: Path) -> None:
    root = write_mahnob_features(tmp_path, participants=(2, 7), n_trials=2)
    trials = read("mahnob-features", root)
    assert [t.subject for t in trials] == ["P02", "P02", "P07", "P07"]
    t = trials[0]
    n = t.traces["valence"].data.shape[0]
    assert t.signals["eeg"].data.shape == (n, 128) and t.signals["face"].data.shape == (n, 38)
    assert t.signals["face_all"].data.shape == (n, 327) and t.signals["gaze"].data.shape == (n, 2)


@pytest.mark.skipif(not REAL_MAHNOB.is_dir(), reason=f"real MAHNOB features not present at {REAL_MAHNOB}")
def test_real_mahnob_features() -> None:
    trials = read("mahnob-features", REAL_MAHNOB)
    assert len(trials) == 172
    assert sorted({t.subject for t in trials}) == [f"P{p:02d}" for p in (2, 3, 5, 6, 7, 8, 13, 14, 16, 20, 21, 22, 24,
                                                                          25, 27, 29)]
    for t in trials:
        n = t.traces["valence"].data.shape[0]
        assert 100 < n < 500 and t.signals["eeg"].data.shape == (n, 128)
        assert np.abs(t.traces["valence"].data).max() <= 1.0


def test_mahnob_features_target_mismatch_names_the_file(tmp_path: Path) -> None:
    import scipy.io

    root = write_mahnob_features(tmp_path, participants=(2,), n_trials=1)
    path = root / "Features" / "P2-features-resamp4hz-trial-2.mat"
    feats = scipy.io.loadmat(path)
    feats["target"] = feats["target"] * 0.5
    scipy.io.savemat(path, {k: v for k, v in feats.items() if not k.startswith("__")})
    with pytest.raises(DatasetError, match=r"P2-features-resamp4hz-trial-2\.mat: 'target' is not 2 x"):
        read("mahnob-features", root)


def test_seedv_sessions_blocks_and_eye_alignment(tmp_path: Path) -> None:
    root = write_seedv(tmp_path, subjects=(1, 2), windows=(3, 5))
    trials = read("seedv", root)
    assert len(trials) == 90 and {t.subject for t in trials} == {"S01", "S02"}
    t = trials[16]  # session 2, second trial (fear)
    assert (t.session, t.block, t.ratings["emotion"]) == (2, 0, 1.0)
    assert t.signals["eeg"].data.shape[1] == 310 and t.signals["eye"].data.shape[1] == 33
    assert all(x.signals["eeg"].data.shape[0] == x.signals["eye"].data.shape[0] for x in trials)
    assert sorted({x.block for x in trials}) == [0, 1, 2]


@pytest.mark.parametrize("damage", ["truncate", "missing"])
def test_damaged_or_missing_files_name_the_file(tmp_path: Path, damage: str) -> None:
    deap = write_deap_preprocessed(tmp_path / "deap", n_subjects=2, n_trials=2, seconds=1.0)
    seed = write_seedv(tmp_path / "seedv", subjects=(1,), windows=(2, 3))
    dat = deap / "data_preprocessed_python" / "s02.dat"
    npz = seed / "Eye_movement_features" / "1_123.npz"
    if damage == "truncate":
        dat.write_bytes(dat.read_bytes()[:5000])
        npz.write_bytes(npz.read_bytes()[:300])
    else:
        dat.unlink()
        (deap / "data_preprocessed_python" / "s03.dat").write_bytes(b"")  # an empty file is damaged too
        npz.unlink()
    with pytest.raises(DatasetError, match=r"s0[23]\.dat"):
        read("deap", deap)
    with pytest.raises(DatasetError, match=r"Eye_movement_features/1_123\.npz"):
        read("seedv", seed)


def test_restricted_unpickler_refuses_code() -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    with pytest.raises(DatasetError, match=r"evil\.dat: .*refusing to load (__builtin__|builtins)\.print"):
        loads(pickle.dumps({"data": Evil()}, protocol=2), "evil.dat")
