"""Eye-movement features: events found where they were planted, the 33 features in SEED-V's layout."""

from __future__ import annotations

import numpy as np
import pytest

from models.eye_features import (
    FEATURE_NAMES,
    N_FEATURES,
    EyeSettings,
    detect_events,
    recording_features,
    window_features,
)

RATE = 120.0


def planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """4 s of gaze in degrees: fixations joined by 40 ms saccades, one 150 ms blink, a 0.5 Hz pupil oscillation."""
    rng = np.random.default_rng(seed)
    n = int(4 * RATE)
    t = np.arange(n) / RATE
    gaze = np.zeros((n, 2))
    points = [(0.0, 0.0), (8.0, 0.0), (8.0, 6.0), (0.0, 6.0)]
    plan = [(0.0, 0.9), (0.94, 1.9), (1.94, 2.9), (2.94, 4.0)]  # fixation spans; 40 ms saccades between
    for (a, b), p in zip(plan, points, strict=True):
        gaze[(t >= a) & (t < b)] = p
    for k, (start, _) in enumerate(plan[1:], 1):
        moving = (t >= start - 0.04) & (t < start)
        frac = (t[moving] - (start - 0.04)) / 0.04
        gaze[moving] = np.outer(1 - frac, points[k - 1]) + np.outer(frac, points[k])
    gaze += rng.normal(0, 0.02, gaze.shape)
    valid = np.ones(n, bool)
    valid[(t >= 2.3) & (t < 2.45)] = False  # a blink inside the third fixation
    pupil = np.column_stack([3.5 + 0.3 * np.sin(2 * np.pi * 0.5 * t), 3.4 + 0.3 * np.sin(2 * np.pi * 0.5 * t)])
    pupil[~valid] = np.nan
    return gaze, pupil, valid, {"saccades": 3, "blinks": 1}


def test_events_are_found_where_they_were_planted():
    gaze, _, valid, truth = planted()
    events = detect_events(gaze, valid, RATE)
    assert len(events.saccades) == truth["saccades"] and len(events.blinks) == truth["blinks"]
    assert (events.blinks[0, 1] - events.blinks[0, 0]) / RATE == pytest.approx(0.15, abs=1.5 / RATE)
    saccade_seconds = (events.saccades[:, 1] - events.saccades[:, 0]) / RATE
    np.testing.assert_allclose(saccade_seconds, 0.04, atol=2 / RATE)
    assert len(events.fixations) == 5  # four planted, the third split in two by the blink
    long_loss = valid.copy()
    long_loss[: int(RATE)] = False  # a second without tracking is data loss, not a blink
    assert len(detect_events(gaze, long_loss, RATE).blinks) == 1


def test_the_33_features_in_seedv_order_say_what_was_planted():
    gaze, pupil, valid, _ = planted()
    f = dict(zip(FEATURE_NAMES, window_features(gaze, pupil, valid, RATE), strict=True))
    assert N_FEATURES == 33 and len(set(FEATURE_NAMES)) == 33 and all(np.isfinite(list(f.values())))
    assert f["blink_frequency"] == pytest.approx(0.25) and f["saccade_frequency"] == pytest.approx(0.75)
    assert f["blink_duration_mean"] == pytest.approx(0.15, abs=1.5 / RATE)
    assert f["saccade_amplitude_mean"] == pytest.approx((8 + 6 + 8) / 3, rel=0.05)
    assert f["pupil_x_mean"] == pytest.approx(3.5, abs=0.05) and f["pupil_y_mean"] == pytest.approx(3.4, abs=0.05)
    de = [f[f"pupil_x_de_{band}hz"] for band in ("0_0.2", "0.2_0.4", "0.4_0.6", "0.6_1")]
    assert int(np.argmax(de)) == 2  # the 0.5 Hz oscillation
    assert f["fixation_duration_max"] == pytest.approx(1.06 - 0.04, abs=0.03)
    assert f["saccade_latency_average"] == pytest.approx(0.96, abs=0.03)


def test_windows_of_a_recording_and_windows_without_a_pupil():
    gaze, pupil, valid, _ = planted()
    rows = recording_features(np.tile(gaze, (3, 1)), np.tile(pupil, (3, 1)), np.tile(valid, 3), RATE)
    assert rows.shape == (3, N_FEATURES)
    np.testing.assert_allclose(rows[0], window_features(gaze, pupil, valid, RATE), rtol=1e-6)
    lost = np.zeros(len(gaze), bool)
    f = window_features(gaze, pupil, lost, RATE, EyeSettings())
    assert np.isnan(f[:12]).all() and (f[12:] == 0).all()  # nothing tracked: no pupil, no events
