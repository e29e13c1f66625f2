"""Leak guard on SEED-V (5 emotions): the Cross-Modal Transformer and R2GFANet (small configs) score chance under
the cross-session-block protocol and LOSO when labels are independent of the features, and learn a planted class
signal; the chance interval is the 5-class one."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from offline.__main__ import main
from offline.aggregation import chance_interval
from tests.support.dataset_files import write_seedv
from tests.support.small_settings import SMALL_CMT, SMALL_CMT_TRAINING, SMALL_R2GFANET

PROTOCOLS = ["seedv-blocks", "loso"]
MODELS = {"cmt-seedv": SMALL_CMT, "r2gfanet": SMALL_R2GFANET}


@pytest.fixture(scope="module")
def null_seedv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_seedv(tmp_path_factory.mktemp("seedv_null"), subjects=(1, 2, 3), planted=False, seed=5)


@pytest.fixture(scope="module")
def planted_seedv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_seedv(tmp_path_factory.mktemp("seedv_planted"), subjects=(1, 2, 3), planted=True, seed=5)


def _train(root: Path, out: Path, protocol: str, model: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        main(["train", "--dataset", "seedv", "--root", str(root), "--model", model, "--protocol", protocol,
              "--out", str(out), "--no-final", *MODELS[model], *SMALL_CMT_TRAINING])
    return json.loads((out / "metrics.json").read_text())["targets"]["emotion"]["summary"]


def test_chance_interval_is_the_binomial_one_for_the_given_chance() -> None:
    for n, p in ((135, 0.2), (40, 0.5), (7, 0.2)):
        lo, hi = chance_interval(n, p)
        assert lo <= p <= hi
        inside = binom.cdf(round(hi * n), n, p) - binom.cdf(round(lo * n) - 1, n, p)
        assert inside >= 0.95
    lo, hi = chance_interval(135, 0.2)
    assert hi < 0.3, "a 5-class chance interval lies around 1/5, far below 1/2"
    guesses = np.random.default_rng(0).integers(0, 5, (2000, 135)) == np.random.default_rng(1).integers(0, 5, 135)
    accuracy = guesses.mean(axis=1)
    assert 0.93 <= np.mean((accuracy >= lo) & (accuracy <= hi)) <= 1.0
    with pytest.raises(ValueError):
        chance_interval(10, 1.0)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_independent_labels_give_five_class_chance(null_seedv: Path, tmp_path: Path, protocol: str, model: str) -> None:
    summary = _train(null_seedv, tmp_path / protocol, protocol, model)
    pooled = summary["pooled_trials"]
    assert pooled["n"] == 3 * 45, "every trial of every subject is tested once"
    lo, hi = chance_interval(pooled["n"], 1 / 5)
    assert (lo, hi) == tuple(summary["chance_interval_95"])
    assert lo <= pooled["accuracy"] <= hi, f"{protocol}: accuracy {pooled['accuracy']:.3f} outside chance [{lo}, {hi}]"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_planted_emotion_signal_is_learned(planted_seedv: Path, tmp_path: Path, protocol: str, model: str) -> None:
    summary = _train(planted_seedv, tmp_path / protocol, protocol, model)
    pooled = summary["pooled_trials"]
    _, hi = chance_interval(pooled["n"], 1 / 5)
    assert pooled["accuracy"] > max(hi, 0.8), f"planted {protocol} accuracy {pooled['accuracy']:.3f}"
    assert np.trace(np.asarray(summary["confusion"])) == round(pooled["accuracy"] * pooled["n"])
