"""Choosing an LSL stream as labs need it, and refusing streams whose declarations are not EEG.

Real outlets in this process (loopback only); every stream name is unique to its test.
"""

from __future__ import annotations

import math

import pylsl
import pytest

from realtime.lsl_select import parse_selection
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.session_file import read_session
from realtime.sources import SourceError, make_source
from realtime.sources.lsl_inlet import LslInletSource


def outlet(name: str, source_id: str, rate: float = 128.0, channels: int = 4,
           fmt: int = pylsl.cf_float32, stream_type: str = "EEG") -> pylsl.StreamOutlet:
    """A real LSL outlet (a one-second buffer, so a huge declared rate allocates nothing here)."""
    info = pylsl.StreamInfo(name, stream_type, channels, rate, fmt, source_id)
    return pylsl.StreamOutlet(info, 0, 1)


@pytest.mark.parametrize(("rate", "channels", "fmt", "said"), [
    (1e9, 8, pylsl.cf_float32, "declares 1e+09 Hz, beyond the bound of 50000 Hz"),
    # liblsl's resolver hands non-finite rates on as 0 (irregular): refused all the same
    (math.inf, 8, pylsl.cf_float32, "regular, finite sampling rate; the source declares"),
    (math.nan, 8, pylsl.cf_float32, "regular, finite sampling rate; the source declares"),
    (0.0, 8, pylsl.cf_float32, "regular, finite sampling rate; the source declares 0.0 Hz"),
    (256.0, 100_000, pylsl.cf_float32, "declares 100000 channels; EEG must have 1 to 1024"),
    (256.0, 8, pylsl.cf_string, "carries strings, not EEG samples"),
])
def test_streams_declaring_what_eeg_cannot_be_are_refused_before_an_inlet_exists(
        lsl_name, rate, channels, fmt, said, monkeypatch):
    created = []
    real_inlet = pylsl.StreamInlet
    monkeypatch.setattr(pylsl, "StreamInlet", lambda *a, **k: created.append(a) or real_inlet(*a, **k))
    out = outlet(lsl_name, lsl_name, rate, channels, fmt)
    source = LslInletSource({"name": lsl_name}, resolve_timeout=5.0)
    with pytest.raises(SourceError, match=said.replace("+", r"\+")):
        source.open()
    assert created == [] and source.buffer is None
    del out


def test_an_ambiguous_selection_lists_the_candidates_and_source_id_picks_one(lsl_name, tmp_path):
    outlets = [outlet(lsl_name, f"{lsl_name}-amp{i}") for i in (1, 2)]
    with pytest.raises(SourceError, match="2 streams match") as refused:
        make_source(f"lsl:name={lsl_name},type=EEG").open()
    assert f"source_id='{lsl_name}-amp1'" in str(refused.value) and f"source_id='{lsl_name}-amp2'" in str(refused.value)
    assert str(refused.value).count("host='") == 2

    path = tmp_path / "chosen.h5"
    pipeline = Pipeline(PipelineConfig(eeg=f"lsl:source_id={lsl_name}-amp2", camera="none", model="",
                                       app_name=lsl_name, record=str(path)))
    pipeline.start()
    try:
        shown = pipeline.status().streams["eeg"].description
        assert f"source_id='{lsl_name}-amp2'" in shown and f"name='{lsl_name}'" in shown and "host=" in shown
    finally:
        pipeline.stop()
    assert f"source_id='{lsl_name}-amp2'" in read_session(path).attrs["eeg_source"]
    del outlets


def test_selections_are_parsed_strictly():
    assert parse_selection("") == {}
    assert parse_selection("name=Amp, host=lab-pc") == {"name": "Amp", "host": "lab-pc"}
    for bad, said in (("colour=red", "KEY one of name, type, source_id, host"), ("name", "KEY=VALUE"),
                      ("name=", "non-empty"), ("name=a'b", "without quotes"), ("name=a,name=b", "once")):
        with pytest.raises(SourceError, match=said):
            parse_selection(bad)
    with pytest.raises(SourceError, match="name different streams"):
        make_source("lsl:name=A", stream_name="B")
    assert make_source("lsl", stream_name="B").selection == {"name": "B"}
    assert make_source("lsl").selection == {"type": "EEG"}
