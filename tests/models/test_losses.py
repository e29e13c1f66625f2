"""CCC loss and the regression metrics against their textbook definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.losses import ccc, ccc_loss, regression_metrics


def _ccc_reference(x: np.ndarray, y: np.ndarray) -> float:
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def test_ccc_matches_the_definition_per_sequence() -> None:
    rng = np.random.default_rng(3)
    y = rng.standard_normal((4, 50))
    x = 0.6 * y + 0.3 + 0.4 * rng.standard_normal((4, 50))
    got = ccc(torch.tensor(x), torch.tensor(y)).numpy()
    np.testing.assert_allclose(got, [_ccc_reference(a, b) for a, b in zip(x, y, strict=True)], rtol=1e-6)
    assert ccc_loss(torch.tensor(x), torch.tensor(y)).item() == pytest.approx(1 - got.mean(), rel=1e-6)


def test_ccc_punishes_bias_and_scale_unlike_pcc() -> None:
    y = np.sin(np.linspace(0, 6, 100))
    same = regression_metrics(y, y)
    assert same == pytest.approx({"rmse": 0.0, "pcc": 1.0, "ccc": 1.0})
    shifted = regression_metrics(0.5 * y + 0.5, y)
    assert shifted["pcc"] == pytest.approx(1.0)
    assert shifted["ccc"] == pytest.approx(_ccc_reference(0.5 * y + 0.5, y)) and shifted["ccc"] < 0.6
    assert shifted["rmse"] == pytest.approx(np.sqrt(np.mean((0.5 - 0.5 * y) ** 2)))
    assert np.isnan(regression_metrics(np.zeros(5), y[:5])["pcc"])
