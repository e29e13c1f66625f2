"""The recipes of docs/architecture.md, followed step by step: each test adds a tiny model, EEG source or dataset
reader defined in this module, and nothing else is edited. If one of these tests needs a change elsewhere, the recipe
it follows is missing a step."""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from models import registry
from models.base import REGISTRY, EmotionModel, register
from models.bundle import save_bundle
from models.contracts import EEG, ModelSpec
from models.predictor import NetworkPredictor, load_predictor
from models.transforms import band_power_input
from offline import datasets
from offline.__main__ import main as offline_main
from offline.datasets.reader import DatasetError, FunctionReader, numeric_array
from offline.trials import Signal, Trial
from realtime import clock
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.prediction import Prediction
from realtime.sources.base import EegSource
from tests.support.waiting import wait_for
from tests.support.windows import make_window

EIGHT_CHANNELS = ("Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4")

# ---- Add a model ---------------------------------------------------------------------------------------------------


class MeanBandPower(EmotionModel):
    """Recipe step 1: valence = tanh of a linear map of the window's mean relative EEG band power."""

    def __init__(self, eeg_channels: list[str], steps: int = 4) -> None:
        super().__init__()
        self.input = band_power_input(eeg_channels, steps=steps)  # a transform of models/transforms.py
        self.linear = nn.Linear(self.input.feature_dim, 1)

    def spec(self) -> ModelSpec:
        return ModelSpec(self.architecture, self.config, {"valence": "continuous"}, {EEG: self.input})

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"valence": torch.tanh(self.linear(inputs[EEG].mean(dim=1)))[:, 0]}  # (B,): window-level


MODEL_NAME = "mean-band-power"


@pytest.fixture
def registered_model() -> Iterator[str]:
    """Recipe steps 2-3 (``@register``; importing the module in models/zoo.py runs it), undone afterwards so the
    global registry, and the parametrisation of tests/models/test_all_models.py, stay as they are."""
    registry.names()  # the zoo's own models first, as on any first lookup
    register(MODEL_NAME, {"eeg_channels": list(EIGHT_CHANNELS)}, "linear map of mean band power")(MeanBandPower)
    yield MODEL_NAME
    del REGISTRY[MODEL_NAME]


def test_add_a_model(registered_model: str, tmp_path: Path) -> None:
    """Add a model: subclass EmotionModel, @register it; the registry builds it, a bundle round-trips, it runs live."""
    assert registered_model in registry.names()
    model = registry.build(registered_model)
    assert isinstance(model, MeanBandPower) and model.spec().architecture == registered_model

    manifest = save_bundle(model, tmp_path, registered_model, trained=False)
    loaded = load_predictor(str(manifest), device="cpu")
    assert loaded.model_id.startswith(f"{registered_model}@") and isinstance(loaded.model, MeanBandPower)

    window = make_window(loaded)  # 250 Hz EEG on the model's channels, as the live ring buffer hands it over
    output = loaded.predict(window)
    assert math.isfinite(output.valence) and -1.0 <= output.valence <= 1.0 and math.isnan(output.arousal)
    original = NetworkPredictor(model, model.spec(), "original", trained=False, device="cpu")
    assert output.valence == pytest.approx(original.predict(window).valence)


# ---- Add an EEG source ---------------------------------------------------------------------------------------------


class SineSource(EegSource):
    """Recipe step 1: eight channels at 250 Hz, channel k a sine of 6 + 2k Hz, stamped on the LSL clock."""

    CHANNELS = EIGHT_CHANNELS
    RATE = 250.0

    def __init__(self) -> None:
        super().__init__("sine generator")
        self.closed = False

    @classmethod
    def signal(cls, timestamps: np.ndarray) -> np.ndarray:
        """Microvolts (n, 8) at the given times."""
        frequencies = 6.0 + 2.0 * np.arange(len(cls.CHANNELS))
        return 20.0 * np.sin(2 * np.pi * frequencies * timestamps[:, None])

    def _open(self) -> tuple[tuple[str, ...], float]:
        return self.CHANNELS, self.RATE  # a device would connect here, raising SourceError if it cannot

    def _acquire(self) -> None:
        start, sent = clock.now(), 0
        while not self.stopping:
            due = int((clock.now() - start) * self.RATE)  # samples the generator has produced by now
            if due > sent:
                timestamps = start + np.arange(sent, due) / self.RATE
                self._deliver(self.signal(timestamps), timestamps)
                sent = due
            self._sleep(0.02)

    def _close(self) -> None:
        self.closed = True


def test_add_an_eeg_source(lsl_name: str, eeg_predictor: NetworkPredictor) -> None:
    """Add an EEG source: subclass EegSource (_open, _acquire, _close) and hand it to Pipeline(config, source=...);
    the pipeline buffers it, predicts from it and lists its thread in the status."""
    source = SineSource()
    pipeline = Pipeline(PipelineConfig(eeg=None, camera="none", app_name=lsl_name), source=source,
                        predictor=eeg_predictor)
    predictions: list[Prediction] = []
    pipeline.subscribe(predictions.append)
    pipeline.start()
    try:
        # the model's 2.75 s lookback of band power: its first valence comes about 3 s after the start
        wait_for(lambda: any(math.isfinite(p.valence) for p in predictions), timeout=20.0)
        status = pipeline.status()
        data, timestamps = pipeline.buffers[EEG].latest(500)  # the newest 2 s
    finally:
        pipeline.stop()

    ran = [p for p in predictions if math.isfinite(p.valence)]
    assert ran and all(p.available[EEG] and -1.0 <= p.valence <= 1.0 for p in ran)
    assert ran[-1].model_id == "tcn-eeg@untrained" and eeg_predictor.spec.inputs[EEG].channels == SineSource.CHANNELS
    assert data.shape == (500, len(SineSource.CHANNELS))
    assert np.all(np.diff(timestamps) > 0) and timestamps[-1] >= ran[-1].newest_sample[EEG]
    np.testing.assert_allclose(data, SineSource.signal(timestamps), atol=1e-3)  # written as delivered
    stream = status.streams[EEG]
    assert stream.description == "sine generator" and stream.connected and stream.gaps == 0
    worker = next(w for w in status.workers if w.name == "eeg-source sine generator")
    assert worker.alive and worker.error is None
    assert source.closed and not source.is_alive()


# ---- Add a dataset reader ------------------------------------------------------------------------------------------

RATE = 4.0  # feature rows and valence samples per second
N_FEATURES = 16
FEATURE_NAMES = tuple(f"feature_{i:02d}" for i in range(N_FEATURES))


def read_tiny_npz(root: Path, subjects: list[str] | None = None) -> list[Trial]:
    """Recipe step 1: ``<subject>_<trial>.npz`` files holding ``features`` (steps, 16) at 4 Hz and ``valence``
    (steps,) in -1..1."""
    trials = []
    for path in sorted(Path(root).glob("*.npz")):
        subject, _, trial = path.stem.partition("_")
        if subjects and subject not in subjects:
            continue
        try:
            with np.load(path, allow_pickle=False) as file:
                features, valence = file["features"], file["valence"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise DatasetError(f"{path}: not a readable tiny-npz file ({type(exc).__name__}: {exc})") from exc
        features = numeric_array(features, f"{path}: 'features'").astype(np.float32)
        valence = numeric_array(valence, f"{path}: 'valence'").astype(np.float32)
        if features.shape[1:] != (N_FEATURES,) or valence.shape != features.shape[:1]:
            raise DatasetError(f"{path}: features {features.shape} and valence {valence.shape} disagree")
        if not (np.isfinite(features).all() and np.isfinite(valence).all()):
            raise DatasetError(f"{path}: NaN or infinite values")
        trials.append(Trial(dataset="tiny-npz", subject=subject, trial=trial,
                            signals={EEG: Signal(features, RATE, FEATURE_NAMES)},
                            traces={"valence": Signal(valence[:, None], RATE, ("valence",))}, source=str(path)))
    if not trials:
        raise DatasetError(f"{root}: no <subject>_<trial>.npz files")
    return trials


# recipe step 2 (feature rows at 4 Hz: precomputed), with the registration in the test
READER = FunctionReader("tiny-npz", read_tiny_npz, precomputed=True)


def write_tiny_npz(root: Path, n_subjects: int = 4, n_trials: int = 2, steps: int = 80) -> Path:
    """Recipe step 3: files in the dataset's format; a slow valence sine, also carried by the first four features."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for s in range(1, n_subjects + 1):
        for t in range(1, n_trials + 1):
            valence = 0.6 * np.sin(2 * np.pi * np.arange(steps) / RATE / rng.uniform(8, 16) + rng.uniform(0, 6))
            features = rng.normal(0, 1, (steps, N_FEATURES))
            features[:, :4] += 2 * valence[:, None]
            np.savez(root / f"S{s}_T{t}.npz", features=features.astype(np.float32), valence=valence)
    return root


def test_add_a_dataset_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Add a dataset reader: a read function wrapped as FunctionReader and added to READERS; read() returns its
    trials, a damaged file is a DatasetError naming it, and ``offline train --dataset`` trains on it."""
    monkeypatch.setitem(datasets.READERS, READER.name, READER)  # what adding it to READERS does
    root = write_tiny_npz(tmp_path / "tiny")
    assert "tiny-npz" in datasets.names()
    trials = datasets.read("tiny-npz", root)
    assert sorted({t.subject for t in trials}) == ["S1", "S2", "S3", "S4"] and len(trials) == 8
    assert trials[0].signals[EEG].data.shape == (80, N_FEATURES) and trials[0].traces["valence"].rate == RATE

    out = tmp_path / "run"
    offline_main(["train", "--dataset", "tiny-npz", "--root", str(root), "--protocol", "loso", "--out", str(out),
                  "--model", "tcn-eeg", "--model-set", "channels=[8]",
                  "--model-set", "steps=32", "--set", "epochs=3", "--set", "hop_seconds=4", "--set", "lr=1e-2",
                  "--set", "num_threads=1", "--set", "device=cpu", "--no-final"])
    summary = json.loads((out / "metrics.json").read_text())["targets"]["valence"]["summary"]["per_subject"]
    assert summary["ccc_subject"]["n"] == 4 and math.isfinite(summary["ccc_subject"]["mean"])

    damaged = root / "S2_T1.npz"
    damaged.write_bytes(damaged.read_bytes()[:100])
    with pytest.raises(DatasetError, match=re.escape(str(damaged))):
        datasets.read("tiny-npz", root)
