"""The eye tracker as a live source: the demo tracker and real LSL gaze streams in Pupil Labs Core's and in Pupil
Labs Neon's lsl-relay layout, recorded like EEG; the features of a live window equal those of the same samples read
back from the file; a tracker without pupil is refused to eye models with the reason."""

from __future__ import annotations

import time

import numpy as np
import pylsl
import pytest

from models.eye_features import EYE_CHANNELS, recording_features, window_features
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.session_file import read_session
from realtime.sources import SourceError
from realtime.sources.eye import DEMO_RATE, EYE_LAYOUTS, eye_layout, make_eye_source
from realtime.status import format_status
from tests.support.waiting import wait_for

PUPIL_CORE = ("confidence", "norm_pos_x", "norm_pos_y", "gaze_point_3d_x", "gaze_point_3d_y", "gaze_point_3d_z",
              "eye_center0_3d_x", "eye_center0_3d_y", "eye_center0_3d_z", "eye_center1_3d_x", "eye_center1_3d_y",
              "eye_center1_3d_z", "gaze_normal0_x", "gaze_normal0_y", "gaze_normal0_z", "gaze_normal1_x",
              "gaze_normal1_y", "gaze_normal1_z", "diameter0_2d", "diameter1_2d", "diameter0_3d", "diameter1_3d")


def _columns(data: np.ndarray, channels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _, (x, y, p1, p2, v) = eye_layout(channels)
    return data[:, [x, y]], data[:, [p1, p2]], data[:, v] > 0.5


def test_the_demo_tracker_is_recorded_and_live_features_equal_recorded_ones(tmp_path, lsl_name):
    path = tmp_path / "eye.h5"
    pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", eye="demo", camera="none", model="",
                                       app_name=lsl_name, record=str(path)))
    pipeline.start()
    try:
        buffer = pipeline.streams["eye"].buffer
        wait_for(lambda: buffer.total >= 9 * DEMO_RATE, timeout=30)
        pipeline.status()
        time.sleep(0.5)
        assert "| eye 1" in format_status(pipeline.status())  # its rate, beside the EEG's
        live, live_ts = buffer.latest(int(4 * DEMO_RATE))
        time.sleep(1.0)  # a recorder flush
    finally:
        pipeline.stop()
    eye = read_session(path).streams["eye"]
    assert eye.rate == DEMO_RATE and eye.channels == EYE_LAYOUTS["emolive demo"]
    assert np.all(np.diff(eye.timestamps) > 0) and len(eye.data) >= 9 * DEMO_RATE
    rows = np.flatnonzero(np.isin(eye.timestamps, live_ts))
    assert len(rows) == len(live_ts)
    on_file = window_features(*_columns(eye.data[rows], eye.channels), DEMO_RATE)
    np.testing.assert_allclose(window_features(*_columns(live, eye.channels), DEMO_RATE), on_file, rtol=1e-6)
    features = recording_features(*_columns(eye.data, eye.channels), DEMO_RATE)
    assert len(features) >= 2 and np.isfinite(features).all()
    assert features[:, 28].max() > 0  # saccades happen (saccade_frequency)


def test_a_pupil_core_stream_on_lsl_is_read_whole_and_its_layout_found(tmp_path, lsl_name):
    info = pylsl.StreamInfo(f"{lsl_name}-gaze", "Gaze", len(PUPIL_CORE), 200.0, pylsl.cf_float32, f"{lsl_name}-pc")
    info.set_channel_labels(list(PUPIL_CORE))
    outlet = pylsl.StreamOutlet(info)
    path = tmp_path / "core.h5"
    pipeline = Pipeline(PipelineConfig(eeg=None, eye=f"lsl:name={lsl_name}-gaze", camera="none", model="",
                                       app_name=lsl_name, record=str(path)))
    pipeline.start()
    sample = np.zeros(len(PUPIL_CORE), np.float32)
    sample[PUPIL_CORE.index("confidence")], sample[PUPIL_CORE.index("diameter0_3d")] = 0.95, 3.2
    try:
        t0 = pylsl.local_clock()
        for k in range(400):
            outlet.push_sample(sample, t0 + k / 200.0)
            time.sleep(0.003)
        wait_for(lambda: pipeline.streams["eye"].buffer.total == 400, timeout=10)
        time.sleep(1.0)
    finally:
        pipeline.stop()
    session = read_session(path)
    eye = session.streams["eye"]
    assert f"source_id='{lsl_name}-pc'" in session.attrs["eye_source"]
    assert eye.channels == (*EYE_CHANNELS, *PUPIL_CORE) and eye.rate == 200.0 and len(eye.data) == 400
    np.testing.assert_array_equal(eye.data[:, len(EYE_CHANNELS):], np.tile(sample, (400, 1)))  # as sent
    np.testing.assert_allclose(eye.data[0, :5], [0, 0, 3.2, 0, 0.95], rtol=1e-6)  # mapped: x, y, pupils, valid
    assert eye_layout(eye.channels)[0] == "emolive demo"  # the mapped columns lead


def test_a_pupil_labs_neon_relay_stream_is_recorded_shown_and_refused_to_eye_models_with_the_reason(tmp_path,
                                                                                                    lsl_name):
    """Neon through Pupil Labs' lsl-relay as its outlets.py builds it: type Gaze, double64, irregular, channels x and y
    (scene-camera pixels) with its channel metadata; no pupil, no validity."""
    from models import registry
    from models.predictor import NetworkPredictor

    info = pylsl.StreamInfo(f"{lsl_name}_Gaze", "Gaze", 2, pylsl.IRREGULAR_RATE, pylsl.cf_double64, f"{lsl_name}_Gaze")
    acquisition = info.desc().append_child("acquisition")
    acquisition.append_child_value("manufacturer", "Pupil Labs")
    acquisition.append_child_value("model", "Neon")
    channels = info.desc().append_child("channels")
    for axis in "xy":
        channel = channels.append_child("channel")
        for key, value in (("label", axis), ("eye", "both"), ("metatype", f"Screen{axis.upper()}"),
                           ("unit", "pixels"), ("coordinate_system", "world")):
            channel.append_child_value(key, value)
    outlet = pylsl.StreamOutlet(info)
    model = registry.build("cmt-seedv", steps=2)
    path = tmp_path / "neon.h5"
    pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", eye=f"lsl:name={lsl_name}_Gaze", camera="none",
                                       model="", app_name=lsl_name, record=str(path)),
                        predictor=NetworkPredictor(model, model.spec(), "cmt-seedv@untrained", False, device="cpu"))
    pipeline.start()
    rng = np.random.default_rng(4)
    gaze = np.column_stack([rng.uniform(0, 1600, 300), rng.uniform(0, 1200, 300)])
    gaze[100:110] = np.nan  # the relay passes on whatever the Companion sends
    try:
        source = pipeline.eye_source
        assert source is not None and source.layout == "Pupil Labs Neon (lsl-relay)" and source.rate == 0.0
        assert source.lacks == ("pupil_x", "pupil_y", "valid")
        assert pipeline.model_problem == (
            "model cmt-seedv@untrained needs eye features: the eye tracker (Pupil Labs Neon (lsl-relay)) sends no "
            "pupil_x, pupil_y, valid: its stream has gaze_x, gaze_y only, so eye features cannot be computed (it is "
            "recorded and shown)")
        t0 = pylsl.local_clock()
        times = t0 + np.cumsum(rng.uniform(0.010, 0.020, 300))  # irregular, about 66 Hz
        for row, t in zip(gaze, times, strict=True):
            outlet.push_sample(row.tolist(), float(t))
            time.sleep(0.002)
        wait_for(lambda: pipeline.streams["eye"].buffer.total == 300, timeout=10)
        assert pipeline.status().streams["eye"].gaps == 0
        latest = pipeline.status().latest
        assert latest is not None and latest.problems["model"] == pipeline.model_problem
        assert np.isnan(latest.valence) and not latest.probabilities  # nothing invented for the missing pupil
        time.sleep(1.0)
    finally:
        pipeline.stop()
    eye = read_session(path).streams["eye"]
    assert eye.channels == ("gaze_x", "gaze_y", "x", "y") and eye.rate == 0.0 and len(eye.data) == 300
    np.testing.assert_array_equal(eye.data[:, 2:], gaze.astype(np.float32))  # as sent
    np.testing.assert_array_equal(eye.data[:, :2], eye.data[:, 2:])  # mapped: gaze only
    np.testing.assert_allclose(eye.timestamps, times, atol=1e-3)
    assert eye_layout(("x", "y"))[0] == "Pupil Labs Neon (lsl-relay)"
    assert eye_layout(PUPIL_CORE)[0] == "Pupil Labs Core"  # its labels hold no bare x / y: the richer layout wins


def test_the_eye_panel_draws_the_gaze_of_a_tracker_without_pupil(qtbot):
    from dashboard.eye_panel import EyePanel

    panel = EyePanel()
    qtbot.addWidget(panel)
    ts = 100 + np.arange(200) / 66
    gaze = np.column_stack([np.linspace(0, 1600, 200), np.full(200, 600.0)])
    gaze[50:60] = np.nan
    panel.update_from(np.column_stack([gaze, gaze]).astype(np.float32), ts, ("gaze_x", "gaze_y", "x", "y"), ts[-1])
    assert panel.samples_shown == 200 and panel.untracked_shown == 10  # no gaze: not tracked
    assert panel.message.textItem.toPlainText() == ""
    assert panel.pupil_message.textItem.toPlainText() == "this tracker sends no pupil diameter: gaze only"
    assert np.nanmax(panel.gaze_x.getData()[1]) == 1600 and np.isnan(panel.pupil.getData()[1]).all()


def test_unknown_eye_sources_and_layouts_are_said():
    with pytest.raises(SourceError, match="unknown eye source 'usb'"):
        make_eye_source("usb")
    with pytest.raises(ValueError, match="fit no known tracker layout"):
        eye_layout(("a", "b"))


@pytest.mark.parametrize("name", ["cmt-seedv", "r2gfanet"])
def test_eeg_and_eye_models_run_live_on_replayed_eeg_and_the_eye_tracker(tmp_path, lsl_name, name):
    """cmt-seedv and r2gfanet (2 steps of 4 s, untrained) predict emotions live from 62 SEED channels of EEG,
    replayed from a BDF file through LSL, and the demo eye tracker's raw samples turned into the 33 features
    per window."""
    import mne

    from models import registry
    from models.channels import SEEDV_CHANNELS
    from models.predictor import NetworkPredictor

    rate, seconds = 200.0, 30
    rng = np.random.default_rng(2)
    volts = rng.normal(0, 10e-6, (len(SEEDV_CHANNELS), int(rate * seconds)))
    raw = mne.io.RawArray(volts, mne.create_info(list(SEEDV_CHANNELS), rate, "eeg"), verbose="error")
    bdf = tmp_path / "seed62.bdf"
    mne.export.export_raw(bdf, raw, fmt="bdf", verbose="error")
    model = registry.build(name, steps=2)
    predictor = NetworkPredictor(model, model.spec(), f"{name}@untrained", trained=False, device="cpu")
    pipeline = Pipeline(PipelineConfig(eeg=f"replay:{bdf}", eye="demo", camera="none", model="",
                                       app_name=f"{lsl_name}-{name}"),
                        predictor=predictor)
    outputs = []
    pipeline.subscribe(lambda p: outputs.append(p) if "emotion" in p.probabilities else None)
    pipeline.start()
    try:
        assert pipeline.model_problem == ""
        wait_for(lambda: len(outputs) >= 3, timeout=40)
    finally:
        pipeline.stop()
    probs = outputs[-1].probabilities["emotion"]
    assert len(probs) == 5 and abs(sum(probs) - 1) < 1e-5
    assert outputs[-1].available == {"eeg": True, "eye": True}


def test_the_dashboard_draws_gaze_pupil_and_blinks_of_the_eye_tracker(qtbot, lsl_name):
    from dashboard.window import DashboardWindow

    pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", eye="demo", camera="none", model="",
                                       app_name=lsl_name))
    pipeline.start()
    window = DashboardWindow(pipeline)
    qtbot.addWidget(window)
    window.show()
    try:
        # the demo blinks every 2-6 s: within 10 s the panel has shown gaze, pupil and at least one blink
        qtbot.waitUntil(lambda: window.eye.samples_shown > 300 and window.eye.untracked_shown > 0, timeout=10_000)
        x, y = window.eye.pupil.getData()
        assert np.nanmax(y) > 3.0 and x.max() <= 0.0  # millimetres, seconds before now
    finally:
        window.close()
        pipeline.stop()
    plain = Pipeline(PipelineConfig(eeg="brainflow:synthetic", camera="none", model="", app_name=f"{lsl_name}-2"))
    assert DashboardWindow(plain).eye is None  # no eye tracker, no panel
