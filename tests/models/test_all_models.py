"""One test through every registered model: build, run on a live-like window, learn, save, reload, same outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models import registry
from models.bundle import load_bundle, save_bundle
from models.contracts import ModelSpec
from models.losses import ccc_loss
from models.predictor import NetworkPredictor, load_predictor
from models.transforms import fit_normalisation, n_steps
from tests.support.windows import MakeWindow


def _task(spec: ModelSpec, batch: int = 4) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Random inputs with a planted, learnable relation to the targets (via feature 0 of the first input)."""
    g = torch.Generator().manual_seed(0)
    x = {m: torch.randn(batch, n_steps(i), i.feature_dim, generator=g) for m, i in spec.inputs.items()}
    first = next(iter(x))
    labels = torch.arange(batch) % 2
    x[first][labels == 1, :, 0] += 1.5
    y = {}
    for target, kind in spec.targets.items():
        y[target] = torch.tanh(x[first][..., 0]) if kind == "continuous" else labels
    return x, y


def _loss(out: dict[str, torch.Tensor], y: dict[str, torch.Tensor], spec: ModelSpec) -> torch.Tensor:
    return sum(
        ccc_loss(out[t].reshape(y[t].shape), y[t]) if kind == "continuous" else F.cross_entropy(out[t], y[t])
        for t, kind in spec.targets.items()
    )


def _check_output(output, spec: ModelSpec) -> None:
    for target in ("valence", "arousal"):
        value = getattr(output, target)
        if target in spec.targets:
            assert -1.0 <= value <= 1.0
        else:
            assert np.isnan(value)
    if output.saliency is not None:
        assert output.saliency.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", registry.names())
def test_every_registered_model(name: str, tmp_path, window_for: MakeWindow) -> None:
    torch.manual_seed(0)
    model = registry.build(name)
    spec = model.spec()
    assert spec.architecture == name and json.loads(json.dumps(spec.to_json())) == spec.to_json()

    # 1. a forward pass on a live-like window, through the spec's transforms
    before = NetworkPredictor(model, spec, f"{name}@test", trained=False, device="cpu")
    _check_output(before.predict(window_for(before)), spec)

    # 2. a few optimisation steps lower the loss on a small learnable task
    x, y = _task(spec)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not model.trainable:
        assert trainable == []
    else:
        model.train()
        small = sum(p.numel() for p in trainable) < 200_000  # the LSTM baselines: take larger steps
        optimiser = torch.optim.Adam(trainable, lr=1e-2 if small else 1e-3)
        losses = []
        for _ in range(12):
            optimiser.zero_grad()
            loss = _loss(model(x), y, spec)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses

    # 3. save, load: identical outputs, from the network and through the predictor
    model.eval()
    # normalisation statistics as training would fit them (a fixed model reads its inputs as they are)
    norm = {m: fit_normalisation(v.numpy()) for m, v in x.items()} if model.trainable else {}
    manifest = save_bundle(model, tmp_path, name, trained=model.trainable, normalisation=norm,
                           provenance={"dataset": "synthetic", "protocol": "test", "fold": 0, "metrics": {}})
    bundle = load_bundle(tmp_path)  # a directory holding one bundle
    assert bundle.manifest_path == manifest and bundle.trained == model.trainable
    with torch.inference_mode():
        a, b = model(x), bundle.model(x)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    loaded = load_predictor(str(manifest), device="cpu")
    sha = json.loads(manifest.read_text())["weights"]["sha256"]
    assert loaded.model_id == f"{name}@{sha[:8]}" and loaded.normalisation == norm
    original = NetworkPredictor(model, spec, "original", trained=True, normalisation=norm, device="cpu")
    window = window_for(original, seed=1)
    got, want = loaded.predict(window), original.predict(window)
    _check_output(got, spec)
    assert (got.valence, got.arousal, got.confidence) == pytest.approx((want.valence, want.arousal, want.confidence),
                                                                       nan_ok=True)
    assert (got.saliency is None) == (want.saliency is None)
    if got.saliency is not None:
        np.testing.assert_array_equal(got.saliency, want.saliency)
    assert got.modality_weights == want.modality_weights
