"""XDF in and out: the real Recorder writes .xdf, real pyxdf reads it back bit for bit, read_session and replay
read it like an HDF5 session, and a file cut off while recording or not XDF at all is handled clearly."""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import pyxdf

from calibration.session import TABLES
from models.classes import BINARY_CLASSES, SEEDV_EMOTIONS
from offline.datasets.sessions import session_blocks
from realtime import xdf_writer
from realtime.live_stream import LiveStream
from realtime.prediction import Prediction
from realtime.recorder import FLUSH_SECONDS, FrameRecording, Recorder
from realtime.replay_player import load_recording
from realtime.ring_buffer import RingBuffer
from realtime.session_file import read_session
from realtime.session_layout import class_table
from realtime.sources.replay import ReplaySource
from realtime.xdf_writer import XdfWriter
from tests.support.waiting import wait_for

EEG_CHANNELS = ("Fz", "Cz", "Pz")
EXPRESSION_CHANNELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
RATE, BATCHES = 256, 4
T0 = 5000.123456789  # an LSL clock reading with all its digits
ATTRS = {"app": "xdftest", "subject": "S01", "calibration_version": 1, "protocol": "[blocks]\nname = 'a & <b>'"}
BLOCK = {"name": "film-01", "kind": "stimulus", "media": "clip <1> & co.mp4", "stimulus": "", "onset": T0 + 1.0,
         "offset": T0 + 3.0}
RATING = {"block": "film-01", "valence": 7.0, "arousal": 3.0, "time": T0 + 3.5, "response_seconds": 1.5}


@dataclass
class Recorded:
    xdf: Path
    h5: Path
    eeg: np.ndarray
    eeg_times: np.ndarray
    expression: np.ndarray
    expression_times: np.ndarray
    predictions: list[Prediction]


#: Class probabilities of predictions 0-3: SEED-V's emotions, none (a regression model swapped in), two binary
#: targets (another class layout), the emotions again (with 1/3: shortest exact text round-trips it).
CLASSES = [({"emotion": SEEDV_EMOTIONS}, {"emotion": np.array([0.1, 0.2, 0.3, 0.15, 0.25])}), ({}, {}),
           ({"valence": BINARY_CLASSES, "arousal": BINARY_CLASSES},
            {"valence": np.array([0.4, 0.6]), "arousal": np.array([0.7, 0.3])}),
           ({"emotion": SEEDV_EMOTIONS}, {"emotion": np.array([1 / 3, 1 / 6, 1 / 6, 1 / 6, 1 / 6])})]


def prediction(i: int) -> Prediction:
    t = T0 + i + 0.999
    classes, probabilities = CLASSES[i]
    return Prediction(time=t, published=t + 0.0123, valence=0.1 * i, arousal=float("nan") if i == 2 else -0.25,
                      model_id=f"m{i % 2}", trained=i == 3, available={"eeg": True, "expression": i % 2 == 0},
                      face_valence=float("nan") if i % 2 else 0.5, face_arousal=1 / 3,
                      model_state="trained" if i == 3 else "untrained", classes=classes, probabilities=probabilities)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Recorded:
    """The same live session recorded at once to .xdf and .h5 by two real Recorders on real ring buffers."""
    folder = tmp_path_factory.mktemp("xdf")
    rng = np.random.default_rng(7)
    eeg_data = np.column_stack([np.arange(BATCHES * RATE), rng.normal(0, 20, (BATCHES * RATE, 2))]).astype(np.float32)
    eeg_times = T0 + np.arange(BATCHES * RATE) / RATE + rng.uniform(0, 1e-4, BATCHES * RATE)
    expression = rng.dirichlet(np.ones(7), BATCHES).astype(np.float32)
    expression_times = T0 + np.arange(BATCHES) + 0.5
    eeg, expr = RingBuffer(3, 10_000), RingBuffer(7, 100)
    streams = [LiveStream("eeg", eeg, EEG_CHANNELS, float(RATE)),
               LiveStream("expression", expr, EXPRESSION_CHANNELS, 0.0)]
    recorders = [Recorder(folder / "s.xdf", streams, ATTRS, TABLES), Recorder(folder / "s.h5", streams, ATTRS, TABLES)]
    for rec in recorders:
        rec.start()
    predictions = [prediction(i) for i in range(BATCHES)]
    for i in range(BATCHES):  # several write passes, so several Samples chunks per stream
        batch = slice(i * RATE, (i + 1) * RATE)
        eeg.write(eeg_data[batch], eeg_times[batch])
        expr.write(expression[[i]], expression_times[[i]])
        for rec in recorders:
            rec.add_prediction(predictions[i])
            if i == 1:
                rec.add_marker(T0 + 1.25, "stimulus onset")
            if i == 3:  # a calibration block and its rating
                rec.add_row("blocks", BLOCK)
                rec.add_row("ratings", RATING)
        time.sleep(FLUSH_SECONDS + 0.1)
    for rec in recorders:
        rec.stop()
        assert rec.status().samples_lost == 0 and not rec.status().error
    return Recorded(folder / "s.xdf", folder / "s.h5", eeg_data, eeg_times, expression, expression_times, predictions)


def by_name(path: Path) -> dict[str, dict]:
    streams, _ = pyxdf.load_xdf(path, dejitter_timestamps=False)
    return {s["info"]["name"][0]: s for s in streams}


def labels(stream: dict) -> list[str]:
    return [c["label"][0] for c in stream["info"]["desc"][0]["channels"][0]["channel"]]


def chunks(path: Path) -> list[tuple[int, int, int, int, int]]:
    """(start, end, tag, stream id or 0, samples in it or 0) of every chunk, walked with the spec's length fields."""
    data = path.read_bytes()
    assert data[:4] == b"XDF:"
    out, pos = [], 4
    while pos < len(data):
        width = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 1 + width], "little")
        content = pos + 1 + width
        tag = struct.unpack("<H", data[content : content + 2])[0]
        stream_id = n = 0
        if tag in (xdf_writer.STREAM_HEADER, xdf_writer.SAMPLES, xdf_writer.CLOCK_OFFSET, xdf_writer.STREAM_FOOTER):
            stream_id = struct.unpack("<I", data[content + 2 : content + 6])[0]
        if tag == xdf_writer.SAMPLES:
            n_width = data[content + 6]
            n = int.from_bytes(data[content + 7 : content + 7 + n_width], "little")
        out.append((pos, content + length, tag, stream_id, n))
        pos = content + length
    assert pos == len(data)
    return out


def test_pyxdf_reads_back_every_stream_exactly(recorded):
    streams = by_name(recorded.xdf)
    assert set(streams) == {"xdftest-eeg", "xdftest-expression", "xdftest-predictions", "xdftest-prediction-models",
                            "xdftest-prediction-classes", "xdftest-markers", "xdftest-table-blocks",
                            "xdftest-table-ratings"}
    eeg = streams["xdftest-eeg"]
    assert eeg["info"]["type"] == ["EEG"] and eeg["info"]["channel_format"] == ["float32"]
    assert labels(eeg) == list(EEG_CHANNELS) and float(eeg["info"]["nominal_srate"][0]) == RATE
    assert eeg["time_series"].dtype == np.float32
    np.testing.assert_array_equal(eeg["time_series"], recorded.eeg)
    np.testing.assert_array_equal(eeg["time_stamps"], recorded.eeg_times)  # clock sync on: still bit for bit
    footer = eeg["footer"]["info"]
    assert footer["sample_count"] == [str(BATCHES * RATE)]
    assert float(footer["first_timestamp"][0]) == recorded.eeg_times[0]
    assert float(footer["last_timestamp"][0]) == recorded.eeg_times[-1]

    expression = streams["xdftest-expression"]
    assert labels(expression) == list(EXPRESSION_CHANNELS) and float(expression["info"]["nominal_srate"][0]) == 0
    np.testing.assert_array_equal(expression["time_series"], recorded.expression)
    np.testing.assert_array_equal(expression["time_stamps"], recorded.expression_times)

    predictions = streams["xdftest-predictions"]
    assert predictions["info"]["channel_format"] == ["double64"] and predictions["info"]["type"] == ["Emotion"]
    assert labels(predictions) == ["published", "valence", "arousal", "face_valence", "face_arousal", "trained",
                                   "available_eeg", "available_expression"]
    ps = recorded.predictions
    np.testing.assert_array_equal(predictions["time_stamps"], [p.time for p in ps])
    np.testing.assert_array_equal(predictions["time_series"],  # NaN where the model gave none
                                  [[p.published, p.valence, p.arousal, p.face_valence, p.face_arousal, p.trained,
                                    p.available["eeg"], p.available["expression"]] for p in ps])
    models = streams["xdftest-prediction-models"]
    assert models["time_series"] == [[p.model_id, p.model_state] for p in ps]
    np.testing.assert_array_equal(models["time_stamps"], [p.time for p in ps])
    classes = streams["xdftest-prediction-classes"]
    assert labels(classes) == ["class_labels", "class_probabilities"] and classes["info"]["type"] == ["EmotionClasses"]
    assert classes["time_series"][1] == ["", ""]  # no classes
    assert classes["time_series"][2] == ["valence:low,valence:high,arousal:low,arousal:high", "0.4,0.6,0.7,0.3"]
    np.testing.assert_array_equal(classes["time_stamps"], [p.time for p in ps])
    markers = streams["xdftest-markers"]
    assert markers["info"]["type"] == ["Markers"] and markers["time_series"] == [["stimulus onset"]]
    assert markers["time_stamps"].tolist() == [T0 + 1.25]
    blocks = streams["xdftest-table-blocks"]
    assert labels(blocks) == list(BLOCK) and blocks["time_series"] == [[str(v) for v in BLOCK.values()]]

    tags = [tag for _, _, tag, _, _ in chunks(recorded.xdf)]
    assert tags[0] == xdf_writer.FILE_HEADER and tags.count(xdf_writer.STREAM_HEADER) == 8
    assert tags.count(xdf_writer.CLOCK_OFFSET) == 8 and tags[-8:] == [xdf_writer.STREAM_FOOTER] * 8
    assert tags.count(xdf_writer.SAMPLES) >= BATCHES  # one per stream and write pass, at least


def test_every_channel_format_and_boundary_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(xdf_writer, "BOUNDARY_SECONDS", 0.0)  # a Boundary chunk before every Samples chunk
    path = tmp_path / "formats.xdf"
    rng = np.random.default_rng(3)
    n = 300  # more than 255 samples: a 4-byte sample count
    times = T0 + np.arange(n) / 100
    values = {"float32": rng.normal(size=(n, 2)).astype(np.float32), "double64": rng.normal(size=(n, 2)),
              "int32": rng.integers(-2**31, 2**31 - 1, (n, 2), dtype=np.int32)}
    strings = [[f"é{i}" * (i % 90), ""] for i in range(n)]  # values over 255 bytes too
    writer = XdfWriter(path)
    ids = {fmt: writer.add_stream(fmt, "Test", fmt, 100, [{"label": "a"}, {"label": "b"}]) for fmt in values}
    text = writer.add_stream("string", "Test", "string", 100, [{"label": "a"}, {"label": "b"}])
    for fmt, v in values.items():
        writer.write_samples(ids[fmt], v[:100], times[:100])
        writer.write_samples(ids[fmt], v[100:], times[100:])
    writer.write_samples(text, strings, times)
    writer.close()
    writer.close()  # once only

    streams = by_name(path)
    for fmt, v in values.items():
        assert streams[fmt]["time_series"].dtype == v.dtype
        np.testing.assert_array_equal(streams[fmt]["time_series"], v)
        np.testing.assert_array_equal(streams[fmt]["time_stamps"], times)
    assert streams["string"]["time_series"] == strings
    tags = [tag for _, _, tag, _, _ in chunks(path)]
    assert tags.count(xdf_writer.BOUNDARY) == tags.count(xdf_writer.SAMPLES) == 7
    with pytest.raises(ValueError, match="channel format 'int8'"):
        XdfWriter(tmp_path / "other.xdf").add_stream("x", "Test", "int8", 1, [{"label": "a"}])


def test_read_session_gives_what_the_hdf5_recording_gives(recorded):
    xdf, h5 = read_session(recorded.xdf), read_session(recorded.h5)
    assert xdf.attrs == h5.attrs == {"format": "emolive-session", "version": 1, **ATTRS}
    assert set(xdf.streams) == set(h5.streams) == {"eeg", "expression"}
    for name, stream in xdf.streams.items():
        other = h5.streams[name]
        assert stream.channels == other.channels and stream.rate == other.rate
        assert stream.data.dtype == other.data.dtype == np.float32
        np.testing.assert_array_equal(stream.data, other.data)
        np.testing.assert_array_equal(stream.timestamps, other.timestamps)
    np.testing.assert_array_equal(xdf.streams["eeg"].data, recorded.eeg)
    np.testing.assert_array_equal(xdf.streams["eeg"].timestamps, recorded.eeg_times)
    assert set(xdf.predictions) == set(h5.predictions)
    for key, values in xdf.predictions.items():
        assert values.dtype == h5.predictions[key].dtype, key
        if key != "class_probabilities":  # rows of different lengths: compared by layout below
            np.testing.assert_array_equal(values, h5.predictions[key], err_msg=key)
    emotions = tuple(f"emotion:{e}" for e in SEEDV_EMOTIONS)
    for session in (xdf, h5):  # every layout, exactly (float64 through the text of XDF too)
        table = class_table(session.predictions)
        assert list(table) == [emotions, ("valence:low", "valence:high", "arousal:low", "arousal:high")]
        rows, probabilities = table[emotions]
        np.testing.assert_array_equal(rows, [0, 3])
        np.testing.assert_array_equal(probabilities, [CLASSES[0][1]["emotion"], CLASSES[3][1]["emotion"]])
        assert session.predictions["class_labels"][1] == "" and len(session.predictions["class_probabilities"][1]) == 0
    assert list(xdf.predictions["model_id"]) == ["m0", "m1", "m0", "m1"]
    assert xdf.markers == h5.markers == [(T0 + 1.25, "stimulus onset")]
    assert set(xdf.tables) == set(h5.tables) == {"blocks", "ratings"}
    for name, table in xdf.tables.items():
        assert set(table) == set(h5.tables[name])
        for column, values in table.items():
            assert values.dtype == h5.tables[name][column].dtype
            np.testing.assert_array_equal(values, h5.tables[name][column])
    assert xdf.tables["blocks"]["media"][0] == BLOCK["media"] and xdf.tables["ratings"]["valence"][0] == 7.0


def test_the_calibration_reader_reads_an_xdf_session_as_it_reads_hdf5(recorded):
    (xdf,), (h5,) = session_blocks(recorded.xdf), session_blocks(recorded.h5)
    assert xdf.kind == h5.kind == "stimulus"
    assert xdf.trial.subject == "S01" and xdf.trial.ratings == h5.trial.ratings == {"valence": 7.0, "arousal": 3.0}
    assert set(xdf.trial.signals) == set(h5.trial.signals) == {"eeg", "expression"}
    for name, signal in xdf.trial.signals.items():
        np.testing.assert_array_equal(signal.data, h5.trial.signals[name].data)
    in_block = (recorded.eeg_times >= BLOCK["onset"]) & (recorded.eeg_times <= BLOCK["offset"])
    np.testing.assert_array_equal(xdf.trial.signals["eeg"].data, recorded.eeg[in_block])
    np.testing.assert_array_equal(xdf.trial.traces["valence"].data, h5.trial.traces["valence"].data)


def test_replay_of_an_xdf_session_delivers_its_eeg_in_order(recorded):
    data, channels, rate = load_recording(recorded.xdf)  # what the player pushes
    assert channels == EEG_CHANNELS and rate == RATE
    np.testing.assert_array_equal(data, recorded.eeg)
    source = ReplaySource(recorded.xdf)  # looping: the inlet joins after the first samples went out
    source.start()
    try:
        assert source.channels == EEG_CHANNELS and source.rate == RATE
        wait_for(lambda: source.buffer.total > len(recorded.eeg), timeout=20)
        got, times, _ = source.buffer.read_since(0)
    finally:
        source.stop()
    # from the first sample received on, every recorded sample once and in order (channel 0 counts them), through
    # the end of the file and round again; float32 exact through LSL
    first = int(got[0, 0])
    np.testing.assert_array_equal(got, recorded.eeg[(first + np.arange(len(got))) % len(recorded.eeg)])
    np.testing.assert_allclose(np.diff(times), 1 / RATE, atol=1e-4)


def test_a_file_cut_off_inside_its_last_chunk_reads_up_to_the_last_whole_chunk(recorded, tmp_path):
    eeg_id = list(by_name(recorded.xdf)).index("xdftest-eeg") + 1
    data = recorded.xdf.read_bytes()
    eeg_chunks = [(start, end, n) for start, end, tag, stream, n in chunks(recorded.xdf)
                  if tag == xdf_writer.SAMPLES and stream == eeg_id]
    start, end, last = eeg_chunks[-1]
    assert len(eeg_chunks) >= 2 and 0 < last < len(recorded.eeg)
    kept = len(recorded.eeg) - last

    cut = tmp_path / "cut.xdf"
    cut.write_bytes(data[: (start + end) // 2])  # a crash in the middle of writing the last EEG chunk
    eeg = by_name(cut)["xdftest-eeg"]  # plain pyxdf
    np.testing.assert_array_equal(eeg["time_series"], recorded.eeg[:kept])
    np.testing.assert_array_equal(eeg["time_stamps"], recorded.eeg_times[:kept])
    assert "footer" not in eeg

    for position in (start + 1, start + 3, (start + end) // 2, end - 2):  # in the length, the tag, the samples
        cut.write_bytes(data[:position])
        with pytest.warns(UserWarning, match=f"{cut} ends inside a chunk"):
            session = read_session(cut)
        np.testing.assert_array_equal(session.streams["eeg"].data, recorded.eeg[:kept])
        np.testing.assert_array_equal(session.streams["eeg"].timestamps, recorded.eeg_times[:kept])
        assert len(session.predictions["time"]) == len(session.predictions["model_id"])


def test_an_xdf_recorded_by_another_application_reads_its_eeg_and_markers(tmp_path):
    path = tmp_path / "labrecorder.xdf"
    writer = XdfWriter(path)  # no EmoLive header: streams of other applications, as LabRecorder records them
    gaze = writer.add_stream("Tobii", "Gaze", "float32", 60, [{"label": "x"}, {"label": "y"}])
    amp = writer.add_stream("MyAmp", "EEG", "double64", 500, [{"label": c, "unit": "microvolts"} for c in "ABCD"])
    unlabelled = writer.add_stream("Other", "EEG", "float32", 250, [{}, {}])
    events = writer.add_stream("Presentation", "Markers", "string", 0, [{"label": "event"}])
    eeg = np.random.default_rng(0).normal(size=(50, 4))
    writer.write_samples(gaze, np.zeros((5, 2)), T0 + np.arange(5))
    writer.write_samples(amp, eeg, T0 + np.arange(50) / 500)
    writer.write_samples(unlabelled, np.ones((5, 2)), T0 + np.arange(5))
    writer.write_samples(events, [["start"], ["end"]], [T0 + 0.01, T0 + 0.09])
    writer.close()

    session = read_session(path)
    assert set(session.streams) == {"eeg"} and session.streams["eeg"].channels == tuple("ABCD")
    assert session.streams["eeg"].rate == 500
    np.testing.assert_array_equal(session.streams["eeg"].data, eeg.astype(np.float32))
    assert session.markers == [(T0 + 0.01, "start"), (T0 + 0.09, "end")]
    assert load_recording(path)[1] == tuple("ABCD")

    writer = XdfWriter(tmp_path / "unlabelled.xdf")
    writer.write_samples(writer.add_stream("Other", "eeg", "float32", 250, [{}, {}]), np.ones((5, 2)), np.arange(5.0))
    writer.close()
    assert read_session(tmp_path / "unlabelled.xdf").streams["eeg"].channels == ("ch1", "ch2")


def test_an_xdf_without_eeg_or_that_is_not_xdf_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "markers-only.xdf"
    writer = XdfWriter(path)
    writer.add_stream("Presentation", "Markers", "string", 0, [{"label": "event"}])
    writer.close()
    with pytest.raises(ValueError, match=rf"{path} holds no stream of type EEG \(streams: 'Presentation' \(Markers\)"):
        read_session(path)
    with pytest.raises(ValueError, match=f"{path} holds no stream of type EEG"):
        load_recording(path)

    noise = tmp_path / "noise.xdf"
    noise.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(ValueError, match=f"{noise} is not an XDF file"):
        read_session(noise)
    damaged = tmp_path / "damaged.xdf"
    damaged.write_bytes(b"XDF:" + np.random.default_rng(2).bytes(4096))
    with pytest.raises(ValueError, match=f"{damaged} is a damaged XDF file"):
        read_session(damaged)


def test_xdf_recordings_refuse_frames(tmp_path):  # the overwrite refusal: tests/realtime/test_recorder.py
    streams = [LiveStream("eeg", RingBuffer(1, 100), ("Cz",), 100.0)]
    frames = FrameRecording(frames=None, frame_size=(64, 48))
    with pytest.raises(ValueError, match="frames are recorded to HDF5 only"):
        Recorder(tmp_path / "frames.xdf", streams, frames=frames)
    assert not (tmp_path / "frames.xdf").exists()
