"""Saving trained models as checkpoint bundles and deploying a run's model into the live app's model folder.

Deployment copies the bundle under a new name into the target folder, weights first and the
manifest last, each through a temporary file and a rename, so a watcher of that folder (the live
app's hot-swap) never sees a manifest whose weights are incomplete.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

from models.base import EmotionModel
from models.bundle import load_bundle, resolve_manifest, save_bundle
from models.files import atomic_write, atomic_write_text
from models.identifiers import check_name
from models.manifest import Manifest

BUNDLE_NAME = "model"


def _finite(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become None (manifests are strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def save_model(folder: Path, model: EmotionModel, normalisation: dict[str, dict[str, list[float]]],
               provenance: dict[str, Any]) -> Path:
    """Write ``folder/model.{safetensors,json}``; returns the manifest path."""
    return save_bundle(model.cpu(), folder, BUNDLE_NAME, trained=True, normalisation=normalisation,
                       provenance=_finite(provenance))


def deploy(run_dir: Path, target: Path, name: str | None = None) -> Path:
    """Validate the run's exported bundle, then copy it into ``target`` as ``<name>.*``; returns the manifest path."""
    run_dir, target = Path(run_dir), Path(target)
    name = check_name(name or run_dir.resolve().name, "bundle name")  # before anything is read or copied
    manifest = resolve_manifest(run_dir / "model")
    bundle = load_bundle(manifest)  # refuses a damaged or mismatched bundle before anything is copied
    if not bundle.trained:
        raise ValueError(f"{manifest}: the bundle is marked untrained; nothing to deploy")
    target.mkdir(parents=True, exist_ok=True)
    atomic_write(target / f"{name}.safetensors", lambda tmp: shutil.copyfile(manifest.with_suffix(".safetensors"), tmp))
    copied = Manifest.read(manifest).renamed(f"{name}.safetensors")  # same bytes, same SHA-256, new name
    atomic_write_text(target / f"{name}.json", json.dumps(copied.to_json(), indent=2, allow_nan=False))
    return target / f"{name}.json"
