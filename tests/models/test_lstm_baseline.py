"""The LSTM baseline has the reference network's structure (Soleymani et al. 2016, ``networkSeq``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from models import registry
from models.transforms import n_steps

SIZES = {"lstm-eeg": (64, 32), "lstm-face": (19, 10), "lstm-fusion": (83, 42)}


def _inputs(model: nn.Module, batch: int = 3) -> dict[str, torch.Tensor]:
    return {m: torch.randn(batch, n_steps(i), i.feature_dim) for m, i in model.spec().inputs.items()}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_layers_in_the_reference_order_with_linear_dense_32(name: str) -> None:
    model = registry.build(name)
    kinds = [type(m) for m in model.children()]
    assert kinds == [nn.LSTM, nn.LSTM, nn.Dropout, nn.Dropout, nn.Linear, nn.Dropout, nn.Linear]
    assert (model.lstm1.hidden_size, model.lstm2.hidden_size) == SIZES[name]
    assert (model.dense.in_features, model.dense.out_features) == (SIZES[name][1], 32)
    assert (model.head.in_features, model.head.out_features) == (32, 1)
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.4, 0.4, 0.4]


def test_nothing_but_dropout_between_dense_and_output() -> None:
    """The output is head(dropout(dense(h))): no activation after the Dense(32) layer or the output."""
    torch.manual_seed(0)
    model = registry.build("lstm-fusion", hidden=[8, 4]).eval()
    x = _inputs(model)
    seen: dict[str, torch.Tensor] = {}
    model.lstm2.register_forward_hook(lambda _m, _i, out: seen.__setitem__("h", out[0]))
    with torch.no_grad():
        y = model(x)["valence"]
        want = model.head(model.dense(seen["h"]))[..., 0]
    torch.testing.assert_close(y, want)


def test_output_is_not_bounded_by_tanh() -> None:
    torch.manual_seed(0)
    model = registry.build("lstm-eeg").eval()
    with torch.no_grad():
        model.head.bias.fill_(3.0)
        y = model(_inputs(model))["valence"]
    assert (y > 1.0).all()
    with torch.no_grad():
        model.head.bias.fill_(-3.0)
        assert (model(_inputs(model))["valence"] < -1.0).all()


def test_dropout_is_active_only_while_training() -> None:
    torch.manual_seed(0)
    model = registry.build("lstm-face")
    x = _inputs(model)
    with torch.no_grad():
        model.eval()
        a, b = model(x)["valence"], model(x)["valence"]
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        model.train()
        c, d = model(x)["valence"], model(x)["valence"]
    assert not torch.allclose(c, d) and not torch.allclose(a, c)


def test_dropout_and_dense_width_can_be_set() -> None:
    model = registry.build("lstm-eeg", dropout=0.0, dense=16)
    assert all(m.p == 0.0 for m in model.modules() if isinstance(m, nn.Dropout))
    assert (model.dense.out_features, model.head.in_features) == (16, 16)
