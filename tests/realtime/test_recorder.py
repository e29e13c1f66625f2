"""The recorder on real ring buffers and a real HDF5 file: readable while written, overruns counted."""

from __future__ import annotations

import time

import numpy as np
import pytest

from realtime.live_stream import LiveStream
from realtime.prediction import Prediction
from realtime.recorder import FLUSH_SECONDS, Recorder
from realtime.ring_buffer import RingBuffer
from realtime.session_file import read_session


def prediction(t: float, model_id: str = "face-prior@fixed") -> Prediction:
    return Prediction(time=t, published=t + 0.01, valence=0.1 * t, arousal=-0.1, model_id=model_id, trained=False,
                      available={"eeg": True, "expression": False}, model_state="uncalibrated prior")


def test_session_file_is_readable_while_recording_and_complete_after(tmp_path):
    eeg = RingBuffer(3, 10_000)
    expr = RingBuffer(7, 100)
    streams = [LiveStream("eeg", eeg, ("Fz", "Cz", "Pz"), 256.0), LiveStream("expression", expr, tuple("abcdefg"), 0.0)]
    rec = Recorder(tmp_path / "s.h5", streams, {"app": "test"})
    rec.start()
    for i in range(4):
        eeg.write(np.full((256, 3), i, np.float32), i + np.arange(256) / 256)
        expr.write(np.eye(7, dtype=np.float32)[[i]], np.array([i + 0.5]))
        rec.add_prediction(prediction(float(i), model_id=f"m{i % 2}"))
    rec.add_marker(1.25, "stimulus onset")
    time.sleep(2 * FLUSH_SECONDS + 0.2)
    live = read_session(tmp_path / "s.h5")  # SWMR read while the writer holds the file
    assert live.streams["eeg"].data.shape == (1024, 3)
    rec.stop()

    s = read_session(tmp_path / "s.h5")
    assert s.attrs["app"] == "test"
    assert s.streams["eeg"].channels == ("Fz", "Cz", "Pz") and s.streams["eeg"].rate == 256
    np.testing.assert_array_equal(s.streams["eeg"].data[:, 0], np.repeat(np.arange(4), 256))
    np.testing.assert_array_equal(s.streams["expression"].timestamps, [0.5, 1.5, 2.5, 3.5])
    assert list(s.predictions["model_id"]) == ["m0", "m1", "m0", "m1"]
    assert not s.predictions["trained"].any() and list(s.predictions["model_state"]) == ["uncalibrated prior"] * 4
    np.testing.assert_allclose(s.predictions["valence"], [0, 0.1, 0.2, 0.3])
    assert s.predictions["available_eeg"].all() and not s.predictions["available_expression"].any()
    assert s.markers == [(1.25, "stimulus onset")]
    assert rec.status().samples_lost == 0 and rec.status().samples_written == {"eeg": 1024, "expression": 4}


def test_samples_overwritten_before_the_recorder_read_them_are_counted(tmp_path):
    eeg = RingBuffer(1, 100)
    rec = Recorder(tmp_path / "o.h5", [LiveStream("eeg", eeg, ("Cz",), 100.0)])
    eeg.write(np.arange(250, dtype=np.float32)[:, None], np.arange(250) / 100)  # 150 gone before the thread runs
    rec.start()
    rec.stop()
    status = rec.status()
    assert status.samples_lost == 150 and status.overruns == 1
    np.testing.assert_array_equal(read_session(tmp_path / "o.h5").streams["eeg"].data[:, 0], np.arange(150, 250))


def test_reading_something_that_is_not_a_session_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_session(tmp_path / "none.h5")
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5 session file"):
        read_session(tmp_path / "bad.h5")


@pytest.mark.parametrize("suffix", [".h5", ".xdf"])
def test_an_existing_session_file_is_not_overwritten_unless_asked(tmp_path, suffix):
    path = tmp_path / f"kept{suffix}"
    path.write_bytes(b"an earlier session")
    streams = [LiveStream("eeg", RingBuffer(1, 100), ("Cz",), 100.0)]
    with pytest.raises(FileExistsError, match=rf"kept\{suffix} exists; refusing to overwrite it"):
        Recorder(path, streams)
    assert path.read_bytes() == b"an earlier session"
    rec = Recorder(path, streams, overwrite=True)
    rec.start()
    rec.stop()
    assert read_session(path).streams["eeg"].channels == ("Cz",)
