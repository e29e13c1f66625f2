"""The checkpoint manifest (``<name>.json`` of a bundle) as a typed, validated value: ``Manifest``.

It holds the format version, the ModelSpec (architecture = registry name, its constructor config,
targets, input contract), whether the weights were trained, the normalisation statistics per
modality, provenance (dataset, protocol, fold, metrics, code version, date) and the weights file
(its name beside the manifest and its SHA-256). ``Manifest.from_json`` checks every field and
raises BundleError naming the file and the field; it also keeps the config within
``MAX_CONFIG_INT``, ``MAX_CONFIG_ITEMS`` and ``MAX_CONFIG_DEPTH``, so that an edited config is
refused before anything is built from it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from models.contracts import ModelSpec

FORMAT = "emolive-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("format", "format_version", "spec", "trained", "normalisation", "provenance", "weights")
Normalisation = dict[str, dict[str, list[float]]]
MAX_CONFIG_INT = 4096  # largest number (channels, widths, dimensions) a manifest's config may hold
MAX_CONFIG_ITEMS = 1024  # longest list (layers, channel names) a manifest's config may hold
MAX_CONFIG_DEPTH = 8


class BundleError(ValueError):
    """A checkpoint bundle is missing, damaged, unsafe or does not match its architecture."""


@dataclass(frozen=True)
class Weights:
    """The weights file a manifest names (beside it) and, when recorded, its SHA-256 in hex."""

    file: str
    sha256: str | None = None


@dataclass(frozen=True)
class Manifest:
    """What a bundle's ``<name>.json`` says (see the module docstring); ``to_json`` writes it back as saved."""

    spec: ModelSpec
    trained: bool
    normalisation: Normalisation
    provenance: dict[str, Any]
    weights: Weights
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        weights: dict[str, Any] = {"file": self.weights.file}
        if self.weights.sha256 is not None:
            weights["sha256"] = self.weights.sha256
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "spec": self.spec.to_json(),
            "trained": self.trained,
            "normalisation": self.normalisation,
            "provenance": self.provenance,
            "weights": weights,
        }

    def check_built(self, built: ModelSpec, path: Path) -> None:
        """Refuse this manifest (read from ``path``) unless ``built``, the spec of the network built from its config,
        is exactly its spec as JSON."""
        if _canonical(built.to_json()) != _canonical(self.spec.to_json()):
            raise spec_differs(path, self.spec.architecture)

    def renamed(self, weights_file: str) -> Manifest:
        """This manifest naming another weights file (same bytes, same SHA-256): a bundle copied by another name."""
        return replace(self, weights=replace(self.weights, file=weights_file))

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """The manifest in file ``path``; BundleError naming the file when it is not JSON or not a valid manifest."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as exc:  # ValueError: bad UTF-8 or JSON, or an integer of > 4300 digits
            raise BundleError(f"checkpoint manifest {path} is not valid JSON: {exc}") from None
        return cls.from_json(document, path)

    @classmethod
    def from_json(cls, document: object, path: Path) -> Manifest:
        """Validate a parsed manifest read from ``path`` field by field (the first bad field raises BundleError)."""
        if not isinstance(document, dict):
            raise BundleError(f"checkpoint manifest {path} must hold a JSON object")
        missing = [k for k in REQUIRED_KEYS if k not in document]
        if missing:
            raise BundleError(f"checkpoint manifest {path} lacks required keys: {', '.join(missing)}")
        if document["format"] != FORMAT:
            raise BundleError(f"{path} is not a {FORMAT} manifest (format {document['format']!r})")
        version = document["format_version"]
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BundleError(f"{path} has format version {version!r}; this code reads up to {FORMAT_VERSION}")
        weights = _weights(path, document["weights"])
        try:
            spec = ModelSpec.from_json(document["spec"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"{path}: cannot rebuild the model from its manifest: {exc}") from None
        check_config_bounds(path, spec.config)
        if _canonical(spec.to_json()) != document["spec"]:
            raise spec_differs(path, spec.architecture)
        normalisation, trained, provenance = document["normalisation"], document["trained"], document["provenance"]
        try:
            check_normalisation(spec, normalisation)
        except BundleError as exc:
            raise BundleError(f"{path}: {exc}") from None
        if not isinstance(trained, bool) or not isinstance(provenance, dict):
            raise BundleError(f"{path}: 'trained' must be true or false and 'provenance' an object")
        return cls(spec, trained, normalisation, provenance, weights, version)


def named_weights_file(document: object) -> object:
    """The ``weights.file`` entry of a parsed manifest, the rest unchecked (None when it names none): what a watcher
    of bundles still being written needs before the manifest can be read as a ``Manifest``."""
    weights = document.get("weights") if isinstance(document, dict) else None
    return weights.get("file") if isinstance(weights, dict) else None


def _canonical(value: Any) -> Any:
    """``value`` as JSON reads it back (tuples become lists): how a spec is compared with a manifest's."""
    return json.loads(json.dumps(value))


def spec_differs(path: Path, architecture: str) -> BundleError:
    """The refusal of a manifest whose spec is not what the code builds from its config."""
    return BundleError(f"{path}: the manifest's spec differs from what {architecture} builds with its config "
                       "(edited manifest or incompatible code version)")


def _weights(path: Path, weights: object) -> Weights:
    """The manifest's ``weights`` entry: a .safetensors file name and an optional SHA-256 string."""
    if not isinstance(weights, dict) or not isinstance(weights.get("file"), str):
        raise BundleError(f"{path}: 'weights' must name the weights file")
    file, sha256 = weights["file"], weights.get("sha256")
    if (path.parent / file).suffix != ".safetensors":
        raise BundleError(f"{path}: weights file {file!r} must be a .safetensors file")
    if sha256 is not None and not isinstance(sha256, str):
        raise BundleError(f"{path}: 'weights' sha256 must be a hex string, got {type(sha256).__name__}")
    return Weights(file, sha256)


def check_normalisation(spec: ModelSpec, normalisation: object) -> None:
    """``normalisation`` must map inputs of ``spec`` to ``mean`` and ``std`` lists of finite numbers of its width."""
    if not isinstance(normalisation, dict):
        raise BundleError(f"normalisation must map modalities to statistics, got {type(normalisation).__name__}")
    for modality, stats in normalisation.items():
        if modality not in spec.inputs:
            raise BundleError(f"normalisation for {modality!r}, which is not an input of {spec.architecture}")
        dim = spec.inputs[modality].feature_dim
        for key in ("mean", "std"):
            values = stats.get(key) if isinstance(stats, dict) else None
            if not isinstance(values, list) or len(values) != dim or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
                raise BundleError(f"normalisation {modality}.{key} must have {dim} finite numbers")


def check_config_bounds(path: Path, value: object, where: str = "config", depth: int = 0) -> None:
    """Refuse a config whose numbers, lists or nesting exceed the MAX_CONFIG_* bounds (checked before building)."""
    if depth > MAX_CONFIG_DEPTH:
        raise BundleError(f"{path}: {where} is nested deeper than the bound of {MAX_CONFIG_DEPTH}")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_CONFIG_INT:
            raise BundleError(f"{path}: {where} is {value}, beyond the bound of {MAX_CONFIG_INT}")
    elif isinstance(value, list | dict):
        if len(value) > MAX_CONFIG_ITEMS:
            raise BundleError(f"{path}: {where} has {len(value)} items, beyond the bound of {MAX_CONFIG_ITEMS}")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            check_config_bounds(path, item, f"{where}.{key}" if isinstance(value, dict) else f"{where}[{key}]",
                                depth + 1)
