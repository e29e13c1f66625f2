"""Properties of the networks: causality of the sequence models, SATA's saliency, ST-AlignNet's ablation switches."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models import registry
from models.contracts import EEG, FACE
from models.tcn import CausalConv
from models.transforms import n_steps

SMALL_TCN = {"channels": [16, 16]}
SMALL_LFAN = {"branches": {"face": {"features": "frames", "feature_dim": 8, "channels": [16, 16, 8]},
                           "eeg": {"features": "band_power", "channels": [12, 12]}},
              "eeg_channels": ["Fz", "Cz", "Pz"], "targets": ["valence", "arousal"]}


@pytest.mark.parametrize(("name", "overrides"), [("tcn-eeg", SMALL_TCN), ("lfan", SMALL_LFAN),
                                                 ("lstm-fusion", {"hidden": [8, 4]})])
def test_outputs_up_to_t_ignore_inputs_after_t(name: str, overrides: dict) -> None:
    torch.manual_seed(0)
    model = registry.build(name, **overrides).eval()
    spec = model.spec()
    x = {m: torch.randn(2, n_steps(i), i.feature_dim) for m, i in spec.inputs.items()}
    t = 40
    changed = {m: v.clone() for m, v in x.items()}
    for v in changed.values():
        v[:, t + 1:] = torch.randn_like(v[:, t + 1:]) * 3
    with torch.no_grad():
        a, b = model(x), model(changed)
    for key in a:
        torch.testing.assert_close(a[key][:, : t + 1], b[key][:, : t + 1], rtol=0, atol=1e-6)
        assert not torch.allclose(a[key][:, t + 1:], b[key][:, t + 1:])  # the change is visible after t


def _small_stalignnet(**overrides) -> torch.nn.Module:
    config = {"eeg_channels": ["C3", "Cz", "C4", "Pz"], "face_dim": 8, "window_seconds": 1.0, "eeg_rate": 32.0,
              "face_rate": 8.0, "d_model": 16, "heads": 2, "bsa_layers": 1, "hidden": 16, "targets": ["valence"]}
    return registry.build("stalignnet-valence", **{**config, **overrides})


def _burst_batch(batch: int, generator: torch.Generator) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """32 steps of +-1.5 offsets of random sign; one 2-step burst of +-3 at a random place, its sign the label.

    The background's offsets sum to about as much as the burst, so averaging over time cannot
    classify reliably: the model has to find the burst.
    """
    sign = 2 * torch.randint(0, 2, (batch, 32, 1), generator=generator) - 1
    eeg = 1.5 * sign + 0.3 * torch.randn(batch, 32, 4, generator=generator)
    labels = torch.randint(0, 2, (batch,), generator=generator)
    start = torch.randint(0, 31, (batch,), generator=generator)
    mask = torch.zeros(batch, 32, dtype=torch.bool)
    for b in range(batch):
        mask[b, start[b]:start[b] + 2] = True
        eeg[b, start[b]:start[b] + 2] = 3.0 * (2 * labels[b] - 1) + 0.3 * torch.randn(2, 4, generator=generator)
    return {EEG: eeg, FACE: torch.randn(batch, 8, 8, generator=generator)}, labels, mask


def test_sata_saliency_sums_to_one_and_finds_the_salient_burst() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    # tokens that only see their own step (no temporal convolution, no BSA mixing): SATA alone must find the burst
    model = _small_stalignnet(use_bsa=False, temporal_levels=0)
    test_x, test_y, test_mask = _burst_batch(128, g)
    with torch.no_grad():
        before = model.eval()(test_x)["saliency"]
    torch.testing.assert_close(before.sum(dim=1), torch.ones(128))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(150):
        x, y, _ = _burst_batch(32, g)
        optimiser.zero_grad()
        F.cross_entropy(model(x)["valence"], y).backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        out = model(test_x)
    saliency = out["saliency"]
    torch.testing.assert_close(saliency.sum(dim=1), torch.ones(128))
    assert (out["valence"].argmax(dim=1) == test_y).float().mean() > 0.95
    on_burst_before = (before * test_mask).sum(dim=1).mean()
    on_burst_after = (saliency * test_mask).sum(dim=1).mean()
    assert on_burst_before < 0.15  # 2 of 32 steps: about 1/16 of the attention before training
    assert on_burst_after > 0.5, float(on_burst_after)


@pytest.mark.parametrize(("use_bsa", "use_sata"), [(False, True), (True, False), (False, False)])
def test_ablations_build_and_run(use_bsa: bool, use_sata: bool) -> None:
    model = _small_stalignnet(use_bsa=use_bsa, use_sata=use_sata).eval()
    assert (model.bsa is None) != use_bsa and (model.sata is None) != use_sata
    x, _, _ = _burst_batch(3, torch.Generator().manual_seed(0))
    out = model(x)
    assert out["valence"].shape == (3, 2)
    assert ("saliency" in out) == use_sata


def test_bsa_layers_and_xavier_init() -> None:
    model = _small_stalignnet(bsa_layers=3)
    assert len(model.bsa) == 3
    w = model.heads["valence"][0].weight  # Linear(16 -> 16): Xavier-uniform bound sqrt(6 / (16 + 16))
    assert w.abs().max() <= (6 / 32) ** 0.5 and w.abs().max() > 0.8 * (6 / 32) ** 0.5
    assert model.inputs[EEG].channels == ("C3", "Cz", "C4", "Pz") and n_steps(model.inputs[EEG]) == 32


@pytest.mark.parametrize(("c_in", "c_out", "dilation"), [(8, 16, 1), (128, 128, 8), (256, 64, 4), (16, 16, 2)])
def test_causal_conv_equals_a_padded_and_chomped_weight_normalised_conv(c_in: int, c_out: int,
                                                                         dilation: int) -> None:
    torch.manual_seed(0)
    conv = CausalConv(c_in, c_out, 5, dilation)
    with torch.no_grad():
        conv.weight_g.mul_(torch.rand_like(conv.weight_g) + 0.5)
    x = torch.randn(2, c_in, 40)
    w = conv.weight_g * conv.weight_v / conv.weight_v.norm(dim=(1, 2), keepdim=True)
    reference = F.conv1d(x, w, conv.bias, padding=4 * dilation, dilation=dilation)[..., : -4 * dilation]
    torch.testing.assert_close(conv(x), reference)  # with gradients
    with torch.inference_mode():
        torch.testing.assert_close(conv(x), reference)  # cached weight, GEMM path for small dilated inputs
        with torch.no_grad():
            conv.weight_v.mul_(2.0)  # weight norm: scaling v changes nothing ...
            conv.weight_g.mul_(2.0)  # ... scaling g doubles the kernel, and the cache must notice
        torch.testing.assert_close(conv(x) - conv.bias[:, None], 2 * (reference - conv.bias[:, None]))
