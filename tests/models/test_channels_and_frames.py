"""Channel mapping by name (and spline interpolation), and irregular frames put onto a model's time grid."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from models.channels import MONTAGE, MissingChannels, channel_map
from models.contracts import ModalityWindow
from models.resample import fill_from_nearest, hold_last, time_grid
from models.transforms import MissingModality, compute_features, frames_input


def test_channels_are_matched_by_name_not_position() -> None:
    have = ("Cz", "FP1", "Oz", "Pz")
    data = np.arange(4.0)[None].repeat(3, axis=0)  # column j holds j
    out = channel_map(have, ("Pz", "Fp1", "Cz")).apply(data)
    np.testing.assert_array_equal(out[0], [3.0, 1.0, 0.0])  # "FP1" found for "Fp1" case-insensitively


def test_a_missing_channel_is_named() -> None:
    with pytest.raises(MissingChannels, match=r"lacks channels the model needs: T7, O2 \(stream has Cz, Pz\)"):
        channel_map(("Cz", "Pz"), ("Cz", "T7", "O2"))


def test_interpolation_estimates_a_smooth_field_from_neighbours() -> None:
    pos = mne.channels.make_standard_montage(MONTAGE).get_positions()["ch_pos"]
    want = ("Fz", "Cz", "C3", "C4", "Pz", "FC1", "FC2", "CP1", "CP2")
    have = (*(c for c in want if c != "Cz"), "F3", "F4", "P3", "P4")
    field = np.array([[pos[c][0] * 100 + pos[c][1] * 50 + 3.0 for c in have]])  # smooth over the scalp
    cmap = channel_map(have, want, interpolate=True)
    assert cmap.interpolated == ("Cz",)
    out = cmap.apply(field)
    true_cz = pos["Cz"][0] * 100 + pos["Cz"][1] * 50 + 3.0
    assert out[0, want.index("Cz")] == pytest.approx(true_cz, abs=0.5)
    np.testing.assert_array_equal(out[0, [i for i, c in enumerate(want) if c != "Cz"]],
                                  [field[0, have.index(c)] for c in want if c != "Cz"])


def test_interpolation_needs_enough_neighbours() -> None:
    with pytest.raises(MissingChannels, match=r"fewer than 3 present neighbours: O2 \(0 within"):
        channel_map(("Fp1", "Fp2", "Fz", "F3", "F4"), ("Fz", "O2"), interpolate=True)
    with pytest.raises(MissingChannels, match="no colin27_1020 position for channels EXG1"):
        channel_map(("EXG1", "Cz"), ("Cz", "Pz"), interpolate=True)


def test_hold_last_marks_gaps_as_missing() -> None:
    ts = np.array([0.05, 0.15, 0.25, 1.45])
    values = np.arange(4.0)[:, None]
    grid = time_grid(1.6, 9, 5.0)  # 0.0 .. 1.6 every 0.2 s
    out, valid = hold_last(values, ts, grid, max_gap=0.3)
    np.testing.assert_allclose(grid, np.arange(9) * 0.2, atol=1e-12)
    np.testing.assert_array_equal(valid, [False, True, True, False, False, False, False, False, True])
    np.testing.assert_array_equal(out[valid, 0], [1, 2, 3])
    filled = fill_from_nearest(out, valid)
    np.testing.assert_array_equal(filled[:, 0], [1, 1, 2, 2, 2, 2, 3, 3, 3])  # nearest valid step, no zeros


def test_frames_transform_refuses_sparse_or_stale_faces() -> None:
    spec = frames_input("face", 3, steps=10, step_rate=10.0, max_gap_seconds=0.25, max_missing_fraction=0.3)
    ts = 50.0 + np.arange(30) / 30.0  # 1 s of frames at 30 fps
    window = ModalityWindow(np.random.default_rng(0).standard_normal((30, 3)), ts, 30.0, ())
    assert compute_features(spec, window).shape == (10, 3)
    with pytest.raises(MissingModality, match=r"face: 100% of the 1 s window has no frame within 0.25 s "
                                              r"\(newest frame 1.5 s old"):
        compute_features(spec, window, t_end=ts[-1] + 1.5)
    gappy = ModalityWindow(window.data[:12], ts[:12], 30.0, ())  # face lost after 0.4 s
    with pytest.raises(MissingModality, match="face: 40% of the 1 s window"):
        compute_features(spec, gappy, t_end=ts[-1])
    with pytest.raises(ValueError, match="NaN or infinite samples in channels 1"):
        compute_features(spec, ModalityWindow(np.where(np.arange(3) == 1, np.nan, window.data), ts, 30.0, ()))
