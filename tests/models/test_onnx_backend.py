"""The ONNX Runtime forward pass of every registered model matches torch's, on random and live-like inputs; the
export is cached by the weights, rebuilt when they change or the file is damaged; auto falls back to torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import models.onnx_backend
from models import registry
from models.onnx_backend import OnnxForward, OnnxUnavailable, input_shapes
from models.predictor import NetworkPredictor
from models.transforms import NotLive, check_live
from tests.support.windows import feature_batch, make_window

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


def _batches(model: torch.nn.Module, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Random feature windows: standard normal (probabilities for expression inputs), and with a lost burst of
    NaN rows where an input is gap-aware."""
    spec = model.spec()
    batches = [feature_batch(spec, rng), feature_batch(spec, rng)]
    gappy = feature_batch(spec, rng)
    for m, inp in spec.inputs.items():
        if inp.params.get("gaps"):
            gappy[m][:, 10:40] = np.nan
    return [*batches, gappy]


@pytest.mark.parametrize("name", registry.names())
def test_onnx_runtime_gives_torchs_outputs(name: str, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOLIVE_ONNX_CACHE", str(cache))
    torch.manual_seed(0)
    model = registry.build(name).eval()
    spec = model.spec()
    in_torch = NetworkPredictor(model, spec, name, trained=False, device="cpu", backend="torch")
    in_onnx = NetworkPredictor(model, spec, name, trained=False, device="cpu", backend="onnx")
    assert (in_torch.backend, in_onnx.backend) == ("torch", "onnx")
    for batch in _batches(model, np.random.default_rng(0)):
        expected, got = in_torch.forward(batch), in_onnx.forward(batch)
        assert sorted(got) == sorted(expected)
        for key, value in expected.items():
            assert np.isfinite(value).all(), f"{name}: torch gave non-finite {key}"
            assert np.abs(got[key] - value).max() <= TOLERANCE, f"{name}: {key} differs"
    try:
        check_live(spec, name)
    except NotLive:
        return  # dataset-feature inputs: no live window to build
    window = make_window(in_torch)
    a, b = in_torch.predict(window), in_onnx.predict(window)
    assert np.isfinite(a.valence) or np.isfinite(a.arousal) or a.probabilities
    for x, y in ((a.valence, b.valence), (a.arousal, b.arousal)):
        assert (np.isnan(x) and np.isnan(y)) or abs(x - y) <= TOLERANCE
    for target, p in a.probabilities.items():
        assert np.abs(b.probabilities[target] - p).max() <= TOLERANCE
    assert b.modality_weights == pytest.approx(a.modality_weights, abs=TOLERANCE)


def test_the_export_is_cached_by_the_weights_and_rebuilt_when_damaged(tmp_path: Path) -> None:
    model = registry.build("tcn-eeg").eval()
    spec = model.spec()
    first = OnnxForward(model, spec, tmp_path)
    again = OnnxForward(model, spec, tmp_path)
    assert first.exported and not again.exported and again.path == first.path
    with torch.no_grad():
        next(model.parameters()).add_(0.5)
    changed = OnnxForward(model, spec, tmp_path)
    assert changed.exported and changed.path != first.path
    changed.path.write_bytes(b"not an onnx graph")
    repaired = OnnxForward(model, spec, tmp_path)
    assert repaired.exported
    batch = {m: np.zeros(s, dtype=np.float32) for m, s in input_shapes(spec).items()}
    with torch.inference_mode():
        expected = model({m: torch.from_numpy(x) for m, x in batch.items()})
    assert np.abs(repaired(batch)["valence"] - expected["valence"].numpy()).max() <= TOLERANCE


def test_auto_falls_back_to_torch_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models.onnx_backend, "onnx_runtime_version", lambda: None)
    model = registry.build("tcn-eeg").eval()
    auto = NetworkPredictor(model, model.spec(), "tcn-eeg", trained=False, device="cpu", backend="auto")
    assert auto.backend == "torch" and any("onnxruntime is not installed" in n for n in auto.notes)
    with pytest.raises(OnnxUnavailable, match="onnxruntime is not installed"):
        NetworkPredictor(model, model.spec(), "tcn-eeg", trained=False, device="cpu", backend="onnx")
    with pytest.raises(ValueError, match="backend must be"):
        NetworkPredictor(model, model.spec(), "tcn-eeg", trained=False, device="cpu", backend="tensorrt")
