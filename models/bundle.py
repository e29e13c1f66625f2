"""The checkpoint bundle: ``<name>.safetensors`` (weights) + ``<name>.json`` (manifest), written atomically.

The manifest (``models.manifest.Manifest``) holds the spec, whether the weights were trained, the
normalisation statistics, provenance and the weights file's SHA-256. Loading rebuilds the network
from the manifest through the registry and accepts the weights only if they are a genuine
safetensors file with exactly the tensor names and shapes that network has; a pickle, a zip
(torch.save) or a damaged file is refused with a message saying which. Nothing is unpickled.
Before the network is built, the manifest must validate (its config within the bounds of
``models.manifest``), the weights file must lie inside the bundle's folder, its safetensors
header must parse and declare at most ``MAX_PARAMETERS`` values (no more than its bytes can
hold), and building stops once the network registers far more parameters than the header
declares (``MAX_BUILD_FACTOR``), so a manifest cannot make the loader build an arbitrarily
large model.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch.nn.modules.module import register_module_parameter_registration_hook

from models import registry
from models.base import EmotionModel
from models.contracts import ModelSpec
from models.files import atomic_write, atomic_write_text, sha256_file
from models.identifiers import inside
from models.manifest import FORMAT, BundleError, Manifest, Normalisation, Weights, check_normalisation

MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on its JSON header
MAX_WEIGHT_BYTES = 2**31  # 2 GiB
MAX_PARAMETERS = 250_000_000  # values declared by the weights' header, checked before the model is built
#: A network may register, while it is built, MAX_BUILD_FACTOR parameter values per value its weights file declares
#: (weight norm registers a weight, then its magnitude and direction: about twice what it keeps), and at least
#: MIN_BUILD_BOUND (so that the weights of another small network get the report of what does not fit).
MAX_BUILD_FACTOR, MIN_BUILD_BOUND = 4, 10_000_000


@dataclass
class Bundle:
    """A loaded checkpoint: the network (eval mode) and everything its manifest says."""

    model: EmotionModel
    spec: ModelSpec
    trained: bool
    normalisation: Normalisation
    provenance: dict[str, Any]
    model_id: str
    manifest_path: Path


def code_version() -> str:
    """``git describe --always --dirty`` of the source tree, or "unknown" outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"], cwd=Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=5, check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_bundle(
    model: EmotionModel,
    directory: str | Path,
    name: str,
    trained: bool,
    normalisation: Normalisation | None = None,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write ``<directory>/<name>.safetensors`` then ``<name>.json`` (each atomically); return the manifest path.

    ``provenance`` should give dataset, protocol, fold and metrics; code version and date are added.
    """
    if not model.architecture:
        raise BundleError("the model was not built by models.registry.build, so it cannot be rebuilt from a manifest")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    spec = model.spec()
    normalisation = {
        m: {k: [float(v) for v in stats[k]] for k in ("mean", "std")} for m, stats in (normalisation or {}).items()
    }
    check_normalisation(spec, normalisation)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    weights = directory / f"{name}.safetensors"
    atomic_write(weights, lambda tmp: save_file(tensors, str(tmp), metadata={"format": FORMAT}))
    manifest = Manifest(
        spec=spec,
        trained=bool(trained),
        normalisation=normalisation,
        provenance={
            "dataset": None, "protocol": None, "fold": None, "metrics": {},
            **(provenance or {}),
            "code_version": code_version(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        weights=Weights(weights.name, sha256_file(weights)),
    )
    text = json.dumps(manifest.to_json(), indent=2, allow_nan=False)
    path = directory / f"{name}.json"
    atomic_write_text(path, text)
    return path


PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")
PICKLE_REFUSAL = ("pickled checkpoints (torch.save, pickle) are never loaded, since unpickling can run arbitrary "
                  "code; save the weights as a bundle (<name>.json + <name>.safetensors, models.bundle.save_bundle)")


def pickled_checkpoints(folder: Path) -> list[Path]:
    """Files in ``folder`` that look like pickled checkpoints (.pt, .pkl, ...), which are ignored, never loaded."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES and p.is_file())


def resolve_manifest(path: str | Path) -> Path:
    """The manifest a path designates: the .json itself, the .json beside a .safetensors, or in a directory
    the only bundle there (the most recently written one when there are several)."""
    path = Path(path)
    if path.is_dir():
        manifests = sorted((p for p in path.glob("*.json") if p.with_suffix(".safetensors").exists()),
                           key=lambda p: p.stat().st_mtime)
        if not manifests:
            ignored = ", ".join(p.name for p in pickled_checkpoints(path))
            raise BundleError(f"no checkpoint bundle (<name>.json beside <name>.safetensors) in directory {path}"
                              + (f"; ignored {ignored}: {PICKLE_REFUSAL}" if ignored else ""))
        return manifests[-1]
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    if not path.is_file():
        raise BundleError(f"checkpoint manifest {path} not found (a bundle is <name>.json + <name>.safetensors)")
    return path


def _weights_path(manifest_path: Path, weights: Weights) -> Path:
    """The weights file a manifest names, refused unless it lies inside the bundle's folder and exists."""
    path = manifest_path.parent / weights.file
    try:
        inside(manifest_path.parent, path, "weights file")
        found = path.is_file()
    except (OSError, ValueError) as exc:  # UnsafeNameError, or a name the file system refuses (NUL, too long)
        raise BundleError(f"{manifest_path}: {exc}") from None
    if not found:
        raise BundleError(f"weights file {path} not found")
    return path


def _safetensors_header(path: Path) -> dict[str, Any] | None:
    """The JSON header of a safetensors file (8-byte little-endian length, then JSON), or None if it has none."""
    with open(path, "rb") as f:
        head = f.read(8)
        length = int.from_bytes(head, "little")
        if len(head) < 8 or not 2 <= length <= min(MAX_HEADER_BYTES, path.stat().st_size - 8):
            return None
        raw = f.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return header if isinstance(header, dict) else None


def _declared_parameters(header: dict[str, Any]) -> int | None:
    """The number of values the header's tensors declare, or None when an entry is not a tensor description."""
    total = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            return None
        total += math.prod(shape)
    return total


def _check_weights_file(path: Path) -> int:
    """The number of values the header of weights file ``path`` declares. Refused before anything is built: a file
    too large, a pickle or zip, not safetensors, or whose header declares more than MAX_PARAMETERS values."""
    size = path.stat().st_size
    if size > MAX_WEIGHT_BYTES:
        raise BundleError(f"weights file {path} holds {size} bytes, beyond the bound of {MAX_WEIGHT_BYTES}")
    header = _safetensors_header(path)
    if header is None:
        with open(path, "rb") as f:
            head = f.read(4)
        if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # PROTO opcode + protocol 2-5
            raise BundleError(f"weights file {path} is a Python pickle, not safetensors; refusing to load it "
                              "(unpickling can run arbitrary code)")
        if head.startswith(b"PK\x03\x04"):
            raise BundleError(f"weights file {path} is a zip archive (a torch.save checkpoint?), not safetensors; "
                              "refusing to load it (it would be unpickled)")
        raise BundleError(f"weights file {path} is not a valid safetensors file: no readable header")
    declared = _declared_parameters(header)
    if declared is None:
        raise BundleError(f"weights file {path} is not a valid safetensors file: its header describes no tensors")
    if declared > MAX_PARAMETERS:
        raise BundleError(f"weights file {path} declares {declared} parameters, beyond the bound of "
                          f"{MAX_PARAMETERS}")
    if declared > 2 * size:  # no safetensors dtype takes less than half a byte per value
        raise BundleError(f"weights file {path} declares {declared} values in {size} bytes")
    return declared


def _read_weights(path: Path, sha256: str | None) -> dict[str, torch.Tensor]:
    """The tensors of a weights file that passed ``_check_weights_file``, if its SHA-256 is the manifest's."""
    if sha256 is not None and sha256_file(path) != sha256:
        raise BundleError(f"weights file {path} does not match the SHA-256 in its manifest "
                          "(replaced, truncated or from another bundle)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise BundleError(f"weights file {path} is not a valid safetensors file: {exc}") from None


def _check_tensors(path: Path, arch: str, expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> None:
    problems = [f"missing {k}" for k in expected if k not in found]
    problems += [f"unexpected {k}" for k in found if k not in expected]
    problems += [
        f"{k} has shape {tuple(found[k].shape)}, the architecture needs {tuple(v.shape)}"
        for k, v in expected.items() if k in found and found[k].shape != v.shape
    ]
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise BundleError(f"{path}: weights do not fit architecture {arch}: {'; '.join(problems[:5])}{more}")


@contextmanager
def _parameter_bound(limit: int, what: str) -> Iterator[None]:
    """While open, modules built on this thread registering more than ``limit`` parameter values in all raise
    BundleError at that registration, before the values are initialised (so an edited config cannot build a
    network far larger than its weights file, exhausting memory or time)."""
    thread, count = threading.get_ident(), 0

    def add(_module: torch.nn.Module, _name: str, parameter: torch.nn.Parameter | None) -> None:
        nonlocal count
        if parameter is not None and threading.get_ident() == thread:
            count += parameter.numel()
            if count > limit:
                raise BundleError(f"{what} builds a network of more than {limit} parameter values, far more "
                                  "than its weights file declares")

    handle = register_module_parameter_registration_hook(add)
    try:
        yield
    finally:
        handle.remove()


def load_bundle(path: str | Path, device: str = "cpu") -> Bundle:
    """Load and validate a bundle (see ``resolve_manifest`` for what ``path`` may be); the model is in eval mode."""
    manifest_path = resolve_manifest(path)
    manifest = Manifest.read(manifest_path)  # every field checked, the config within bounds
    spec = manifest.spec
    weights_path = _weights_path(manifest_path, manifest.weights)
    declared = _check_weights_file(weights_path)  # before the model is built: a pickle or too many values stop here
    try:
        with _parameter_bound(max(MAX_BUILD_FACTOR * declared, MIN_BUILD_BOUND), f"{manifest_path}: the config"):
            model = registry.build(spec.architecture, **spec.config)
    except BundleError:
        raise
    except Exception as exc:  # a config read from a file can make a constructor fail in any way
        raise BundleError(f"{manifest_path}: cannot rebuild the model from its manifest: "
                          f"{type(exc).__name__}: {exc}") from None
    built = model.spec()
    manifest.check_built(built, manifest_path)
    tensors = _read_weights(weights_path, manifest.weights.sha256)
    _check_tensors(weights_path, spec.architecture, model.state_dict(), tensors)
    model.load_state_dict(tensors, strict=True)
    sha = manifest.weights.sha256 or sha256_file(weights_path)
    return Bundle(
        model=model.to(device).eval(),
        spec=built,  # the manifest's spec as JSON (checked above), with the class names the network gives it
        trained=manifest.trained,
        normalisation=manifest.normalisation,
        provenance=manifest.provenance,
        model_id=f"{spec.architecture}@{sha[:8]}",
        manifest_path=manifest_path,
    )
