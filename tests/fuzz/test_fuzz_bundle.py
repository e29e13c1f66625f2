"""Fuzz the checkpoint bundle loader: damaged manifests, manifests with any value for any key (configs up to the
bounds included), damaged weights and safetensors headers with any value give a Bundle or a BundleError naming
the bundle's files, quickly (an edited config cannot make the loader build a huge network)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from models import registry
from models.bundle import BundleError, load_bundle, save_bundle
from models.manifest import MAX_CONFIG_INT
from tests.support.mutations import JSON, check, damaged, edited, fuzz, replaced

SMALL = {"channels": [8, 8], "eeg_channels": ["Fz", "Cz", "Pz"]}
BIG = st.sampled_from([MAX_CONFIG_INT, -1, 0, [MAX_CONFIG_INT] * 40, [MAX_CONFIG_INT, 1], {"eeg": {}}])
CONFIG_KEYS = st.sampled_from(["channels", "kernel_size", "dropout", "gap_dropout", "eeg_channels", "branches"])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_bundle(registry.build("tcn-eeg", **SMALL), tmp_path_factory.mktemp("bundle"), "tcn", trained=True)


def _load_with(manifest: Path, text: bytes | None = None, weights: bytes | None = None) -> None:
    """Load the bundle with the given manifest and/or weights: a Bundle or a BundleError naming its folder."""
    with replaced(manifest, text), replaced(manifest.with_suffix(".safetensors"), weights):
        check(lambda: load_bundle(manifest), BundleError, str(manifest.parent))


def _without_sha(manifest: Path) -> bytes:
    """The manifest without the weights' SHA-256, so that damaged weights reach the safetensors parser."""
    document = json.loads(manifest.read_text())
    del document["weights"]["sha256"]
    return json.dumps(document).encode()


@fuzz(600)
@given(st.data())
def test_damaged_manifests(bundle: Path, data: st.DataObject) -> None:
    _load_with(bundle, text=data.draw(damaged(bundle.read_bytes(), edge=4096)))


@st.composite
def wrong_manifests(draw: st.DrawFn, manifest: dict[str, Any]) -> Any:
    """The manifest with values at any depth replaced or removed, or with config entries at or past the bounds."""
    if draw(st.booleans()):
        return draw(edited(manifest))
    config = dict(manifest["spec"]["config"])
    for _ in range(draw(st.integers(1, 3))):
        config[draw(CONFIG_KEYS)] = draw(BIG | JSON)
    return {**manifest, "spec": {**manifest["spec"], "config": config}}


@fuzz(500)
@given(st.data())
def test_manifests_with_wrong_values(bundle: Path, data: st.DataObject) -> None:
    document = data.draw(wrong_manifests(json.loads(bundle.read_text())))
    _load_with(bundle, text=json.dumps(document).encode())


@fuzz(500)
@given(st.data())
def test_damaged_weights(bundle: Path, data: st.DataObject) -> None:
    weights = bundle.with_suffix(".safetensors").read_bytes()
    _load_with(bundle, text=_without_sha(bundle), weights=data.draw(damaged(weights, edge=2048)))


@fuzz(500)
@given(st.data())
def test_weights_with_wrong_headers(bundle: Path, data: st.DataObject) -> None:
    weights = bundle.with_suffix(".safetensors").read_bytes()
    length = int.from_bytes(weights[:8], "little")
    header = data.draw(edited(json.loads(weights[8 : 8 + length])))
    raw = json.dumps(header).encode()
    _load_with(bundle, text=_without_sha(bundle), weights=struct.pack("<Q", len(raw)) + raw + weights[8 + length :])


def test_a_config_cannot_build_a_network_larger_than_its_weights(bundle: Path) -> None:
    document = json.loads(bundle.read_text())
    document["spec"]["config"]["channels"] = [MAX_CONFIG_INT] * 40  # within the config bounds: 3 G parameters
    refused = r"tcn\.json: the config builds a network of more than \d+ parameter values"
    with replaced(bundle, json.dumps(document).encode()), pytest.raises(BundleError, match=refused):
        load_bundle(bundle)
