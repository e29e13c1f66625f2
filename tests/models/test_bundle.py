"""Checkpoint bundles: what a manifest records, where it is found, and every damaged or unsafe bundle refused."""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from models import registry
from models.bundle import BundleError, load_bundle, save_bundle
from models.manifest import FORMAT_VERSION
from models.predictor import load_predictor

SMALL = {"channels": [8, 8], "eeg_channels": ["Fz", "Cz", "Pz"]}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = registry.build("tcn-eeg", **SMALL)
    return save_bundle(model, tmp_path, "tcn", trained=True, normalisation=None,
                       provenance={"dataset": "mahnob-features", "protocol": "loso", "fold": 3,
                                   "metrics": {"ccc": 0.31}})


def test_manifest_records_the_contract_and_provenance(bundle: Path) -> None:
    manifest = json.loads(bundle.read_text())
    assert manifest["format_version"] == FORMAT_VERSION and manifest["trained"] is True
    spec = manifest["spec"]
    assert spec["architecture"] == "tcn-eeg" and spec["config"]["channels"] == [8, 8]
    assert spec["targets"] == {"valence": "continuous"}
    eeg = spec["inputs"]["eeg"]
    assert (eeg["transform"], eeg["channels"], eeg["rate"], eeg["feature_dim"]) == ("eeg_band_power",
                                                                                   ["Fz", "Cz", "Pz"], 4.0, 18)
    prov = manifest["provenance"]
    assert (prov["dataset"], prov["protocol"], prov["fold"], prov["metrics"]) == ("mahnob-features", "loso", 3,
                                                                                 {"ccc": 0.31})
    assert prov["code_version"] and prov["date"].startswith(time.strftime("%Y"))
    assert manifest["weights"]["file"] == "tcn.safetensors" and len(manifest["weights"]["sha256"]) == 64
    assert sorted(p.name for p in bundle.parent.iterdir()) == ["tcn.json", "tcn.safetensors"]  # no temp files left


def test_a_bundle_is_found_by_json_safetensors_or_directory(bundle: Path, tmp_path: Path) -> None:
    for path in (bundle, bundle.with_suffix(".safetensors"), tmp_path):
        assert load_bundle(path).manifest_path == bundle
    time.sleep(0.01)
    newer = save_bundle(registry.build("tcn-eeg", **SMALL), tmp_path, "newer", trained=False)
    (tmp_path / "report.json").write_text("{}")  # not a bundle: no weights beside it
    os.utime(tmp_path / "report.json")
    assert load_bundle(tmp_path).manifest_path == newer
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no checkpoint bundle"):
        load_bundle(tmp_path / "empty")


def test_pickled_weights_are_refused(bundle: Path) -> None:
    weights = bundle.with_suffix(".safetensors")
    weights.write_bytes(pickle.dumps({"eeg.weight": [1.0, 2.0]}))
    with pytest.raises(BundleError, match="is a Python pickle, not safetensors; refusing"):
        load_bundle(bundle)


def test_torch_save_zip_is_refused(bundle: Path) -> None:
    weights = bundle.with_suffix(".safetensors")
    torch.save(registry.build("tcn-eeg", **SMALL).state_dict(), weights)
    with pytest.raises(BundleError, match=r"is a zip archive \(a torch.save checkpoint\?\)"):
        load_bundle(bundle)


def test_truncated_or_swapped_weights_are_refused(bundle: Path) -> None:
    weights = bundle.with_suffix(".safetensors")
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="does not match the SHA-256 in its manifest"):
        load_bundle(bundle)
    manifest = json.loads(bundle.read_text())
    del manifest["weights"]["sha256"]
    bundle.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="is not a valid safetensors file"):
        load_bundle(bundle)


def test_missing_or_malformed_manifest_is_refused(bundle: Path) -> None:
    text = bundle.read_text()
    bundle.unlink()
    with pytest.raises(BundleError, match=r"tcn.json not found \(a bundle is <name>.json \+ <name>.safetensors\)"):
        load_bundle(bundle.with_suffix(".safetensors"))
    bundle.write_text(text[:-20])
    with pytest.raises(BundleError, match="is not valid JSON"):
        load_bundle(bundle)
    manifest = json.loads(text)
    del manifest["spec"], manifest["trained"]
    bundle.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="lacks required keys: spec, trained"):
        load_bundle(bundle)
    bundle.write_text(json.dumps({**json.loads(text), "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(BundleError, match="format version"):
        load_bundle(bundle)


def test_unknown_architecture_or_edited_contract_is_refused(bundle: Path) -> None:
    manifest = json.loads(bundle.read_text())
    bundle.write_text(json.dumps({**manifest, "spec": {**manifest["spec"], "architecture": "resnet-9000"}}))
    with pytest.raises(BundleError, match=r"cannot rebuild the model.*unknown model 'resnet-9000'"):
        load_bundle(bundle)
    edited = json.loads(json.dumps(manifest))
    edited["spec"]["inputs"]["eeg"]["channels"] = ["O1", "O2", "Oz"]
    bundle.write_text(json.dumps(edited))
    with pytest.raises(BundleError, match="the manifest's spec differs"):
        load_bundle(bundle)


def test_weights_whose_shapes_do_not_match_the_architecture_are_refused(bundle: Path) -> None:
    weights = bundle.with_suffix(".safetensors")
    other = registry.build("tcn-eeg", **{**SMALL, "channels": [8, 4]}).state_dict()
    save_file({k: v.contiguous() for k, v in other.items()}, str(weights))
    manifest = json.loads(bundle.read_text())
    del manifest["weights"]["sha256"]
    bundle.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"weights do not fit architecture tcn-eeg: .*has shape \(4, 8, 5\), "
                                          r"the architecture needs \(8, 8, 5\)"):
        load_bundle(bundle)
    save_file({"head.weight": torch.zeros(1, 8)}, str(weights))
    with pytest.raises(BundleError, match=r"missing tcn\.blocks\.0"):
        load_bundle(bundle)


def test_dataset_feature_models_are_refused_live(tmp_path: Path) -> None:
    model = registry.build("tcn-eeg", branches={"eeg": {"features": "precomputed", "feature_dim": 128}},
                           channels=[8])
    path = save_bundle(model, tmp_path, "mahnob", trained=True)
    assert load_bundle(path).spec.inputs["eeg"].transform == "precomputed"  # fine offline
    with pytest.raises(ValueError, match=r"reads dataset features that cannot be computed from live streams: "
                                         r"eeg \(precomputed\)"):
        load_predictor(str(path), device="cpu")


def _rewrite_weights(bundle: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    """Write ``tensors`` as the bundle's weights (real safetensors) and drop the manifest's SHA-256."""
    weights = bundle.with_suffix(".safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(weights), metadata=metadata)
    manifest = json.loads(bundle.read_text())
    manifest["weights"].pop("sha256", None)
    bundle.write_text(json.dumps(manifest))
    return weights


def test_a_safetensors_file_whose_header_length_is_128_mod_256_is_not_called_a_pickle(bundle: Path) -> None:
    tensors = registry.build("tcn-eeg", **SMALL).state_dict()
    for pad in range(0, 512, 8):  # the header is padded to 8 bytes, so one of 32 paddings lands on 128 mod 256
        weights = _rewrite_weights(bundle, tensors, {"format": "emolive-checkpoint", "pad": "x" * pad})
        if int.from_bytes(weights.read_bytes()[:8], "little") % 256 == 128:
            break
    assert weights.read_bytes()[0] == 0x80  # the byte a pickle of protocol 2+ starts with
    loaded = load_bundle(bundle)
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in tensors.items())


def test_weights_outside_the_bundle_folder_are_refused(bundle: Path, tmp_path: Path) -> None:
    inner = tmp_path / "bundle"
    inner.mkdir()
    manifest = json.loads(bundle.read_text())
    bundle.with_suffix(".safetensors").rename(tmp_path / "elsewhere.safetensors")  # genuine weights, right SHA
    for file in ("../elsewhere.safetensors", str(tmp_path / "elsewhere.safetensors")):
        (inner / "tcn.json").write_text(json.dumps({**manifest, "weights": {**manifest["weights"], "file": file}}))
        with pytest.raises(BundleError, match="leaves its folder"):
            load_bundle(inner / "tcn.json")


def test_oversized_configs_and_weights_are_refused_before_the_model_is_built(bundle: Path, monkeypatch) -> None:
    built = []
    monkeypatch.setattr(registry, "build", lambda *a, **k: built.append(a) or pytest.fail("model was built"))
    manifest = json.loads(bundle.read_text())
    for key, value, said in (("channels", [8, 100_000], "100000"), ("channels", [8] * 5000, "5000 items")):
        edited = json.loads(json.dumps(manifest))
        edited["spec"]["config"][key] = value
        bundle.write_text(json.dumps(edited))
        with pytest.raises(BundleError, match=rf"config.*{said}.*bound"):
            load_bundle(bundle)
    bundle.write_text(json.dumps(manifest))
    header = json.dumps({"huge": {"dtype": "F32", "shape": [100_000, 100_000], "data_offsets": [0, 4]}}).encode()
    bundle.with_suffix(".safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    del manifest["weights"]["sha256"]
    bundle.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"declares 10000000000 parameters"):
        load_bundle(bundle)
    assert not built


def test_a_classifier_bundle_carries_its_class_names_rebuilt_not_stored(tmp_path: Path) -> None:
    """The manifest's spec JSON holds no class names (bundles saved before they existed load the same); the loaded
    spec has them from the network its config rebuilds."""
    path = save_bundle(registry.build("cmt-seedv", steps=2), tmp_path, "cmt", trained=True)
    assert "classes" not in json.loads(path.read_text())["spec"]
    spec = load_predictor(str(path), device="cpu").spec
    assert spec.classes == {"emotion": ("disgust", "fear", "sad", "neutral", "happy")}
    assert spec.class_names("emotion", 5) == spec.classes["emotion"] and spec.class_names("emotion", 3) == (
        "class0", "class1", "class2")
    binary = load_predictor("stalignnet", device="cpu").spec
    assert binary.classes == {} and binary.class_names("valence", 2) == ("low", "high")
