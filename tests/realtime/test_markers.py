"""A stimulus program's marker stream: recorded with its time stamps, drawn on the traces, read as calibration blocks.

The stimulus program is a real LSL string outlet in this process; the app is the real pipeline on
BrainFlow's synthetic board with the real dashboard (offscreen).
"""

from __future__ import annotations

import time

import pylsl
import pytest

from dashboard.window import DashboardWindow
from offline.datasets.sessions import blocks_from_markers, session_blocks, to_unit
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.session_file import read_session
from realtime.sources import SourceError
from realtime.status import format_status, status_reasons
from tests.support.waiting import wait_for


def stimulus_outlet(name: str, source_id: str) -> pylsl.StreamOutlet:
    return pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, source_id))


def test_markers_of_a_stimulus_program_are_recorded_drawn_and_make_calibration_blocks(qtbot, lsl_name, tmp_path):
    stim = stimulus_outlet(f"{lsl_name}-stim", f"{lsl_name}-stim")
    path = tmp_path / "session.h5"
    pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", camera="none", model="", app_name=lsl_name,
                                       record=str(path), markers=f"lsl:name={lsl_name}-stim"))
    pipeline.start()
    window = DashboardWindow(pipeline, record_dir=tmp_path / "sessions")
    qtbot.addWidget(window)
    window.show()
    sent = []

    def send(text: str) -> None:
        t = pylsl.local_clock()
        stim.push_sample([text], t)
        sent.append((t, text))

    try:
        wait_for(lambda: pipeline.marker_inlet.connected, timeout=15)
        wait_for(lambda: pipeline.source.buffer.total > 250, timeout=10)
        send("session_start S07")
        for block, seconds in (("baseline-eyes-open", 1.5), ("stimulus-01", 2.0)):
            send(f"onset {block}")
            time.sleep(seconds)
            send(f"offset {block}")
        send("rating stimulus-01 valence=8 arousal=3")
        send("onset stimulus-02")  # never closed: no block
        pipeline.insert_marker("operator note")
        wait_for(lambda: pipeline.marker_inlet.received == len(sent), timeout=5)
        qtbot.waitUntil(lambda: window.traces.markers_shown == len(sent) + 1, timeout=5000)
        status = pipeline.status()
        assert f"markers {len(sent)}" in format_status(status)
        assert f"from LSL stream name='{lsl_name}-stim', type='Markers'" in status_reasons(status)["[markers]"]
        time.sleep(1.5)  # the EEG after the last offset, and a recorder flush
    finally:
        window.close()
        pipeline.stop()

    recorded = read_session(path).markers
    for t, text in sent:
        match = [r for r in recorded if r[1] == text]
        assert len(match) == 1 and abs(match[0][0] - t) < 0.02, (text, match, t)  # clock-sync estimate
    assert any(text == "operator note" for _, text in recorded)
    blocks = session_blocks(path)
    assert [(b.kind, b.trial.trial.split("/")[-1]) for b in blocks] == [
        ("baseline", "baseline-eyes-open"), ("stimulus", "stimulus-01")]
    stimulus = blocks[1].trial
    assert stimulus.subject == "S07" and stimulus.ratings == {"valence": 8.0, "arousal": 3.0}
    assert stimulus.signals["eeg"].data.shape[0] == pytest.approx(2.0 * 250, abs=10)
    assert float(stimulus.traces["valence"].data[0, 0]) == pytest.approx(to_unit(8.0))


def test_marker_grammar_and_bad_selections():
    subject, blocks, rated = blocks_from_markers([
        (1.0, "session_start p1"), (2.0, "onset a"), (3.0, "rating a valence=x arousal=2"), (4.0, "offset a"),
        (5.0, "offset never-opened"), (6.0, "rating a valence=2 arousal=9"), (7.0, "42")])
    assert subject == "p1" and blocks == {"name": ["a"], "kind": ["stimulus"], "onset": [2.0], "offset": [4.0]}
    assert rated == {"a": (2.0, 9.0)}
    for spec, said in (("udp:1234", "unknown marker source"), ("lsl:colour=red", "KEY one of")):
        with pytest.raises(SourceError, match=said):
            Pipeline(PipelineConfig(eeg=None, camera="none", model="", markers=spec)).start()


def test_two_matching_marker_streams_are_reported_with_both_candidates(lsl_name):
    outlets = [stimulus_outlet(f"{lsl_name}-m", f"{lsl_name}-m{i}") for i in (1, 2)]
    pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", camera="none", model="", app_name=lsl_name,
                                       markers=f"lsl:name={lsl_name}-m"))
    pipeline.start()
    try:
        wait_for(lambda: "2 streams match" in pipeline.status().marker_stream, timeout=15)  # a reason, shown once
        said = pipeline.status().marker_stream
        assert f"source_id='{lsl_name}-m1'" in said and f"source_id='{lsl_name}-m2'" in said
        assert pipeline.status().running  # EEG goes on
    finally:
        pipeline.stop()
    del outlets
