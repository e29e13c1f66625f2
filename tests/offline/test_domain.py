"""Domain adaptation of the cross-modal transformer: the reversal layer, DANN's schedule, and a LOSO run whose
subject classifier sees the training subjects only."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from models import registry
from offline.__main__ import main
from offline.domain import DOMAIN, dann_alpha, domain_loss
from tests.support.dataset_files import write_mahnob_features, write_seedv
from tests.support.small_settings import SMALL_CMT, SMALL_CMT_TRAINING

SMALL = {"d_model": 16, "heads": 2, "encoder_layers": 1, "ff_dim": 32, "hidden": 16, "steps": 2}


def test_the_subject_classifier_pushes_the_features_against_itself():
    torch.manual_seed(0)
    model = registry.build("cmt-seedv", domain_classes=3, **SMALL).eval()  # no dropout: comparable gradients
    x = {m: torch.randn(6, 2, i.feature_dim) for m, i in model.spec().inputs.items()}
    y = {DOMAIN: torch.tensor([0, 1, 2, 0, 1, 2])}
    probe = model.embed["eeg"].project.weight

    def grads(loss: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        model.zero_grad()
        loss.backward()
        return probe.grad.clone(), model.domain_head[0].weight.grad.clone()

    plain = grads(F.cross_entropy(model.domain_head(model.encode(x)), y[DOMAIN]))
    reversed_ = grads(domain_loss(0.1, total_batches=1)(model, x, y))  # first batch: alpha 0
    assert torch.count_nonzero(reversed_[0]) == 0  # alpha 0: nothing reaches the features yet ...
    torch.testing.assert_close(reversed_[1], 0.1 * plain[1])  # ... while the classifier learns
    late = domain_loss(0.1, total_batches=1)
    late(model, x, y)  # one call: progress 1 on the next
    features, head = grads(late(model, x, y))
    torch.testing.assert_close(features, -0.1 * dann_alpha(1.0) * plain[0], rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(head, 0.1 * plain[1])
    assert dann_alpha(0.0) == 0.0 and 0.98 < dann_alpha(1.0) < 1.0 and dann_alpha(0.3) < dann_alpha(0.6)


def test_a_loso_run_with_domain_adaptation_records_it_and_only_training_subjects_are_domains(tmp_path: Path):
    root = write_seedv(tmp_path / "seedv", subjects=(1, 2, 3, 4), planted=True, seed=5)
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        main(["train", "--dataset", "seedv", "--root", str(root), "--model", "cmt-seedv", "--protocol", "loso",
              "--out", str(out), "--no-final", "--set", "dann_weight=0.1", *SMALL_CMT, *SMALL_CMT_TRAINING])
    for result in sorted((out / "folds").glob("*/result.json")):
        r = json.loads(result.read_text())
        train_subjects = {key.split("/")[0] for key in r["trials"]["train"]}
        held_out = {key.split("/")[0] for side in ("val", "test") for key in r["trials"][side]}
        assert r["domain_adaptation"] == {"dann_weight": 0.1, "training_subjects": len(train_subjects)}
        assert len(train_subjects) >= 2 and not train_subjects & held_out
        manifest = json.loads((result.parent / "model" / "model.json").read_text())
        assert manifest["spec"]["config"]["domain_classes"] == len(train_subjects)
    mahnob = write_mahnob_features(tmp_path / "mf", participants=(2, 3, 5), n_trials=2, steps=(100, 130))
    with pytest.raises(ValueError, match="tcn-eeg has no subject classifier"):
        main(["train", "--dataset", "mahnob-features", "--root", str(mahnob), "--model", "tcn-eeg", "--protocol",
              "loso", "--out", str(tmp_path / "tcn"), "--no-final", "--set", "dann_weight=0.1", "--set",
              "hop_seconds=8", "--model-set", 'branches={"eeg":{"features":"precomputed","feature_dim":128}}'])
