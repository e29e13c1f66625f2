"""A classifier live: its class probabilities on the ``<app>-classes`` LSL stream (read by a real pylsl inlet, as
LabRecorder would) and in the session file, through hot-swaps that change the class layout and drop it."""

from __future__ import annotations

import time

import numpy as np
import pylsl

from models import registry
from models.classes import SEEDV_EMOTIONS
from models.predictor import NetworkPredictor, load_predictor
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.prediction import Prediction
from realtime.session_file import read_session
from realtime.session_layout import class_table
from realtime.swap_policy import HotSwapPolicy
from tests.support.waiting import wait_for

EMOTIONS = tuple(f"emotion:{e}" for e in SEEDV_EMOTIONS)
FOUR = tuple(f"emotion:class{i}" for i in range(4))


def cmt(n_classes: int) -> NetworkPredictor:
    """cmt-seedv, untrained, on 2 steps of 4 s (8 s of EEG and eye), with ``n_classes`` emotion classes."""
    model = registry.build("cmt-seedv", steps=2, n_classes=n_classes)
    return NetworkPredictor(model, model.spec(), f"cmt-seedv-{n_classes}@untrained", trained=False, device="cpu")


def open_inlet(name: str, source_id: str) -> pylsl.StreamInlet:
    infos = pylsl.resolve_byprop("source_id", source_id, timeout=5.0)
    assert [i.name() for i in infos] == [name]
    inlet = pylsl.StreamInlet(infos[0], recover=False)
    inlet.open_stream(timeout=5.0)
    return inlet


def channel_desc(inlet: pylsl.StreamInlet) -> tuple[list[str], list[str], list[str]]:
    """(labels, targets, classes) of the channels in the stream's full description."""
    info = inlet.info(timeout=5.0)
    channel = info.desc().child("channels").child("channel")
    labels, targets, classes = [], [], []
    while not channel.empty():
        labels.append(channel.child_value("label"))
        targets.append(channel.child_value("target"))
        classes.append(channel.child_value("class"))
        channel = channel.next_sibling()
    return labels, targets, classes


def pull(inlet: pylsl.StreamInlet, until: float, timeout: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """The samples (values, time stamps) of ``inlet`` up to the one stamped ``until``."""
    values: list[list[float]] = []
    stamps: list[float] = []
    deadline = time.monotonic() + timeout
    while not stamps or stamps[-1] < until:
        assert time.monotonic() < deadline, f"no sample stamped {until} within {timeout} s"
        chunk, times = inlet.pull_chunk(timeout=0.2)
        values += chunk
        stamps += times
    return np.asarray(values), np.asarray(stamps)


def classified(published: list[Prediction], n: int, model_id: str) -> float:
    """Time of the ``n``-th prediction with class probabilities of ``model_id`` (waits for it)."""
    def mine() -> list[Prediction]:
        return [p for p in published if p.model_id == model_id and p.probabilities]

    wait_for(lambda: len(mine()) >= n, timeout=40)
    return mine()[n - 1].time


def test_class_probabilities_reach_lsl_and_the_session_file_across_layout_changes(tmp_path, lsl_name):
    path = tmp_path / "classes.h5"
    published: list[Prediction] = []
    pipeline = Pipeline(PipelineConfig(eeg="brainflow:synthetic", eye="demo", camera="none", model="",
                                       app_name=lsl_name, record=str(path)), predictor=cmt(5))
    pipeline.subscribe(published.append)
    pipeline.start()
    try:
        outlet = pipeline.classes_outlet
        assert outlet is not None and outlet.labels == EMOTIONS  # from the spec: there before any prediction
        first_source = outlet.source_id
        inlet = open_inlet(f"{lsl_name}-classes", first_source)
        labels, targets, classes = channel_desc(inlet)
        assert labels == list(EMOTIONS) and targets == ["emotion"] * 5 and classes == list(SEEDV_EMOTIONS)
        assert inlet.info().type() == "EmotionClasses" and inlet.info().channel_count() == 5

        values, stamps = pull(inlet, classified(published, 3, "cmt-seedv-5@untrained"))
        by_time = {p.time: p for p in published}
        for row, t in zip(values, stamps, strict=True):  # each sample is its prediction's probabilities, or NaN
            probabilities = by_time[t].probabilities
            if probabilities:
                np.testing.assert_allclose(row, probabilities["emotion"], rtol=1e-6)
            else:  # before 8 s of data: no prediction, no classes
                assert np.isnan(row).all()
        finite = np.isfinite(values).all(axis=1)
        assert finite.sum() >= 3
        np.testing.assert_allclose(values[finite].sum(axis=1), 1.0, rtol=1e-5)

        # a swap to a model of another layout: a new stream (new source id) with that layout
        four = cmt(4)
        verdict = HotSwapPolicy(pipeline).swap_in(four)
        assert verdict.accepted, verdict.reason
        wait_for(lambda: outlet.labels == FOUR, timeout=15)
        assert outlet.source_id != first_source
        inlet = open_inlet(f"{lsl_name}-classes", outlet.source_id)
        assert channel_desc(inlet)[0] == list(FOUR)
        values, _ = pull(inlet, classified(published, 2, "cmt-seedv-4@untrained"))
        assert values.shape[1] == 4 and np.isfinite(values[-1]).all()

        # a regression model: NaN in the current layout
        pipeline.swap_predictor(load_predictor("tcn-eeg", device="cpu"))
        wait_for(lambda: sum(p.model_id == "tcn-eeg@untrained" for p in published) >= 3, timeout=15)
        values, _ = pull(inlet, [p for p in published if p.model_id == "tcn-eeg@untrained"][2].time)
        assert np.isnan(values[-1]).all() and values.shape[1] == 4

        # back to the first layout: its source id again (a recording inlet would resume it)
        pipeline.swap_predictor(cmt(5))
        wait_for(lambda: outlet.labels == EMOTIONS, timeout=15)
        assert outlet.source_id == first_source
        n_published = len(published)
    finally:
        pipeline.stop()

    predictions = read_session(path).predictions
    assert len(predictions["time"]) >= n_published  # nothing lost: every prediction is a row
    table = class_table(predictions)
    assert list(table) == [EMOTIONS, FOUR]
    for labels_, (rows, probabilities) in table.items():
        ids = set(predictions["model_id"][rows])
        assert ids <= {"cmt-seedv-5@untrained", "cmt-seedv-4@untrained"} and len(ids) >= 1
        assert probabilities.shape[1] == len(labels_)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    regression = predictions["model_id"] == "tcn-eeg@untrained"
    assert regression.sum() >= 3
    assert all(label == "" for label in predictions["class_labels"][regression])
    assert all(len(row) == 0 for row in predictions["class_probabilities"][regression])
    by_time = {p.time: p for p in published}
    for t, row in zip(predictions["time"][table[EMOTIONS][0]], table[EMOTIONS][1], strict=True):
        if t in by_time:  # as published, to the last bit
            np.testing.assert_array_equal(row, by_time[t].probabilities["emotion"].astype(np.float64))
