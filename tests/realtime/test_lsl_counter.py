"""End to end over real LSL, with the sender in another process: nothing lost, true time stamps, recovery.

One sender process, one pipeline (this is the suite's long test, about 35 s): 22 s of a 32-channel
256 Hz counter stream must be recorded once each, in order, with the sender's time stamps; then
the sender is killed and restarted under the same source_id, and the app must report the gap
and record the new samples within 5 s, without a restart.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from realtime.pipeline import Pipeline, PipelineConfig
from realtime.session_file import read_session
from tests.support.waiting import wait_for

RESTART_COUNT = 1_000_000



@pytest.mark.slow
def test_every_sample_once_then_recovers_after_outlet_restart(counter_sender, lsl_name, tmp_path):
    path = tmp_path / "session.h5"
    counter_sender.start("--wait-consumer")
    pipeline = Pipeline(PipelineConfig(eeg="lsl", eeg_stream=lsl_name, camera="none", model="", app_name=lsl_name,
                                       record=str(path)))
    pipeline.start()
    try:
        buffer = pipeline.source.buffer
        wait_for(lambda: buffer.total >= 22 * 256, timeout=40)
        counter_sender.kill()
        wait_for(lambda: not pipeline.status().streams["eeg"].connected, timeout=5)
        assert pipeline.status().running

        counter_sender.start("--start-count", str(RESTART_COUNT))
        resumed_after = wait_for(lambda: buffer.latest(1)[0][0, 0] >= RESTART_COUNT, timeout=5)
        time.sleep(1.5)  # > one recorder flush: the new samples must be in the file, read while recording
        live = read_session(path).streams["eeg"].data[:, 0]
        assert (live >= RESTART_COUNT).any(), "samples after the restart were not recorded within 5 s"
        status = pipeline.status().streams["eeg"]
        assert status.connected and status.gaps == 1 and status.gap_seconds > 0
        assert "gap" in status.problem
    finally:
        pipeline.stop()
    assert resumed_after < 5

    eeg = read_session(path).streams["eeg"]
    assert eeg.channels[:3] == ("counter", "ts_seconds", "ts_fraction") and eeg.rate == 256 and len(eeg.channels) == 32
    counter = eeg.data[:, 0].astype(np.int64)
    before, after = counter[counter < RESTART_COUNT], counter[counter >= RESTART_COUNT]
    # every sample of the first sender, exactly once, in order, from its first one
    np.testing.assert_array_equal(before, np.arange(len(before)))
    assert len(before) >= 22 * 256
    # the restarted sender's samples are contiguous too (those sent before the reconnection never reached us)
    np.testing.assert_array_equal(np.diff(after), 1)
    # time stamps within 10 ms of the sender's own, carried in channels 2 and 3
    sent = eeg.data[:, 1].astype(np.float64) + eeg.data[:, 2].astype(np.float64)
    assert np.abs(eeg.timestamps - sent).max() < 0.010
    assert np.all(np.diff(eeg.timestamps) > 0)
