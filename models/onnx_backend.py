"""ONNX Runtime forward pass of a registered network, exported once per weights and input shapes and cached on disk.

The safetensors bundle stays the source of truth: the ``.onnx`` file is only a cache, named by a hash of
the architecture, its config, every weight, the batch-1 input shapes and the torch / ONNX Runtime
versions, so a changed model is exported again and a stale file is never run. A session runs with one
intra-op and one inter-op thread: the live predictor calls it from one worker thread, beside torch's own
threads in the same process, and a single-window forward pass gains nothing from more.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from models.base import EmotionModel
from models.contracts import ModelSpec
from models.transforms import get_transform, n_steps

#: Forward-pass backends of the live predictor ("auto": ONNX Runtime on the CPU when installed, else torch).
BACKENDS = ("auto", "torch", "onnx")
#: Where exported models are cached (``EMOLIVE_ONNX_CACHE`` overrides it).
DEFAULT_CACHE = Path.home() / ".cache" / "emolive" / "onnx"
#: Exported files kept in the cache (the least recently written beyond this are removed).
CACHE_FILES = 32


class OnnxUnavailable(RuntimeError):
    """ONNX Runtime is not installed, or this model cannot be exported or run by it (the message says which)."""


def onnx_runtime_version() -> str | None:
    """The installed onnxruntime's version, or None."""
    try:
        return metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        return None


def cache_dir() -> Path:
    return Path(os.environ.get("EMOLIVE_ONNX_CACHE", DEFAULT_CACHE))


def input_shapes(spec: ModelSpec) -> dict[str, tuple[int, int, int]]:
    """The batch-1 shape (1, steps, features) of every model input, as ``compute_features`` makes them."""
    return {m: (1, n_steps(i), get_transform(i.transform).feature_dim(i)) for m, i in spec.inputs.items()}


def model_key(model: EmotionModel, spec: ModelSpec) -> str:
    """A hash of everything the exported graph depends on."""
    h = hashlib.sha256()
    h.update(json.dumps({"architecture": model.architecture, "config": model.config, "shapes": input_shapes(spec),
                         "torch": torch.__version__, "onnxruntime": onnx_runtime_version()},
                        sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


#: The exporter's loggers: at INFO they write hundreds of lines per model (into the app's stderr pipe).
EXPORTER_LOGGERS = ("onnxscript", "onnx_ir", "torch.onnx", "torch.export", "torch._dynamo", "torch.fx")


@contextlib.contextmanager
def _quiet(names: tuple[str, ...]) -> Iterator[None]:
    """The named loggers at ERROR for the duration (their levels restored after)."""
    loggers = [logging.getLogger(n) for n in names]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before, strict=True):
            lg.setLevel(level)


class _Positional(nn.Module):
    """A dict-in, dict-out model as positional inputs and outputs (what an exporter traces)."""

    def __init__(self, model: EmotionModel, inputs: list[str], outputs: list[str]) -> None:
        super().__init__()
        self.model, self.inputs, self.outputs = model, inputs, outputs

    def forward(self, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(dict(zip(self.inputs, xs, strict=True)))
        return tuple(out[k] for k in self.outputs)


def export(model: EmotionModel, spec: ModelSpec, path: Path) -> list[str]:
    """Write ``model`` (eval mode, CPU, batch 1) to ``path`` as ONNX; returns its output names."""
    model = model.cpu().eval()
    shapes = input_shapes(spec)
    example = tuple(torch.rand(shape) for shape in shapes.values())
    with torch.inference_mode():
        outputs = sorted(model(dict(zip(shapes, example, strict=True))))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp, warnings.catch_warnings(), _quiet(EXPORTER_LOGGERS):
        warnings.simplefilter("ignore")
        partial = Path(tmp) / path.name
        try:
            program = torch.onnx.export(_Positional(model, list(shapes), outputs), example, dynamo=True,
                                        input_names=list(shapes), output_names=outputs, verbose=False)
            if program is None:
                raise RuntimeError("the exporter returned no program")
            program.save(str(partial))
        except Exception as exc:  # the exporter raises many kinds; one message names the model and the cause
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OnnxUnavailable(f"{model.architecture} cannot be exported to ONNX: {first}") from exc
        partial.replace(path)
    for old in sorted(path.parent.glob("*.onnx"), key=lambda f: f.stat().st_mtime, reverse=True)[CACHE_FILES:]:
        old.unlink(missing_ok=True)
    return outputs


class OnnxForward:
    """``model``'s forward pass in ONNX Runtime: ``forward({modality: (1, T, D) float32})`` -> {output: array}.

    Exports into ``cache`` unless a file for these weights is already there."""

    def __init__(self, model: EmotionModel, spec: ModelSpec, cache: Path | None = None) -> None:
        if onnx_runtime_version() is None:
            raise OnnxUnavailable("onnxruntime is not installed (pip install onnxruntime, or --backend torch)")
        import onnxruntime as ort

        self.inputs = list(spec.inputs)
        self.path = (cache or cache_dir()) / f"{model.architecture}-{model_key(model, spec)[:20]}.onnx"
        self.exported = not self.path.is_file()
        if self.exported:
            export(model, spec, self.path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            if self.exported:
                raise OnnxUnavailable(f"ONNX Runtime cannot load {self.path}: {exc}") from exc
            export(model, spec, self.path)  # a damaged cache file: written again from the weights
            self.exported = True
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in self.session.get_inputs()]
        if names != self.inputs:
            raise OnnxUnavailable(f"{self.path} takes inputs {names}, the model {self.inputs}")
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(None, {m: np.ascontiguousarray(batch[m], dtype=np.float32) for m in self.inputs})
        return {name: np.asarray(v) for name, v in zip(self.outputs, values, strict=True)}
