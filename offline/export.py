"""Saving trained models as checkpoint bundles and deploying a run's model into the live app's model folder.

Deployment copies the bundle under a new name into the target folder, weights first and the
manifest last, each through a temporary file and a rename, so a watcher of that folder (the live
app's hot-swap) never sees a manifest whose weights are incomplete.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from models.base import EmotionModel
from models.bundle import load_bundle, resolve_manifest, save_bundle

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


def _atomic_copy(src: Path, dst: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def deploy(run_dir: Path, target: Path, name: str | None = None) -> Path:
    """Validate the run's exported bundle, then copy it into ``target`` as ``<name>.*``; returns the manifest path."""
    run_dir, target = Path(run_dir), Path(target)
    manifest = resolve_manifest(run_dir / "model")
    bundle = load_bundle(manifest)  # refuses a damaged or mismatched bundle before anything is copied
    if not bundle.trained:
        raise ValueError(f"{manifest}: the bundle is marked untrained; nothing to deploy")
    name = name or run_dir.resolve().name
    target.mkdir(parents=True, exist_ok=True)
    _atomic_copy(manifest.with_suffix(".safetensors"), target / f"{name}.safetensors")
    text = json.loads(manifest.read_text(encoding="utf-8"))
    text["weights"]["file"] = f"{name}.safetensors"  # same bytes, same SHA-256, new name
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.json.", suffix=".tmp", dir=target)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(text, f, indent=2, allow_nan=False)
    os.replace(tmp, target / f"{name}.json")
    return target / f"{name}.json"
