"""Runs a network on live windows: the spec's transforms, normalisation, the forward pass, outputs on -1..1.

``load_predictor("stalignnet")`` builds an untrained registered network (model id
"stalignnet@untrained"; a model with nothing to learn, such as the face prior, is
"<name>@fixed", not trained: its state is "uncalibrated prior", ``models.live``);
``load_predictor("runs/x/best.json")`` loads a checkpoint bundle (model id
"<architecture>@<first 8 hex of the weights' SHA-256>"; its state from the manifest). Models whose inputs are dataset
features are refused here (NotLive). Windows go through ``models.transforms.compute_features``,
the same function offline training uses; live windows that know their stream's sample counter reuse the
band-power / DE steps of earlier windows (``models.step_cache``: a hop computes its new steps only).

Outputs: binary logits -> probability of "high" p -> value 2p - 1, confidence = max(p, 1 - p)
averaged over targets; multiclass logits (e.g. SEED-V's five emotions) -> class probabilities;
per-step continuous outputs -> the last step (the causal window ends now), clipped to -1..1 (a linear
output such as the LSTM baseline's can overshoot the scale). A missing, stale or
too sparse modality raises MissingModality; no zeros are invented. A gap-aware input (not
required, ``models.gaps``) that is missing gets NaN rows, which the model itself reads as missing.

Untrained registered networks with an ``eeg_channels`` config adopt the live EEG stream's
channels in ``check_streams`` when the default list is not all there (e.g. BrainFlow's
synthetic board): there are no weights to keep, so the network is rebuilt for those channels.
A trained model never adopts channels: missing ones are an error (or interpolated, if asked).

The forward pass runs in torch or in ONNX Runtime (``backend``, ``models.onnx_backend``); "auto" takes
ONNX Runtime on the CPU when it is installed and the model exports, torch otherwise, and says why in
``notes``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models import registry
from models.base import EmotionModel
from models.bundle import load_bundle
from models.channels import MissingChannels, channel_map
from models.contracts import IncompatibleStreams, ModelOutput, ModelSpec, Predictor, Window, article
from models.live import model_state
from models.manifest import Normalisation
from models.onnx_backend import BACKENDS, OnnxForward, OnnxUnavailable
from models.step_cache import StepCache
from models.transforms import MissingModality, check_live, compute_features, get_transform, n_steps, normalise


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when available else "cpu"; "cuda..." without CUDA is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available (use cpu or auto)")
    return device


class NetworkPredictor(Predictor):
    """A registered network (trained bundle or untrained) behind the live ``Predictor`` interface."""

    def __init__(
        self,
        model: EmotionModel,
        spec: ModelSpec,
        model_id: str,
        trained: bool,
        normalisation: Normalisation | None = None,
        device: str = "auto",
        interpolate_channels: bool = False,
        state: str | None = None,
        backend: str = "torch",
    ) -> None:
        """``state``: one of ``models.live.MODEL_STATES``; by default from the model and ``trained`` (no provenance).
        ``backend``: torch, onnx or auto (see the module doc)."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.spec = spec
        self.model_id = model_id
        self.trained = trained
        self.state = state or model_state(model.trainable, trained)
        self.normalisation = dict(normalisation or {})
        self.interpolate_channels = interpolate_channels
        self.step_caches: dict[str, StepCache] = {}  # per input: steps of earlier live windows (models.step_cache)
        self.notes: list[str] = []  # adopted channels, a torch fallback and why: for the dashboard/log
        self.requested_backend = backend
        self.onnx: OnnxForward | None = None
        self._choose_backend()

    @property
    def backend(self) -> str:  # type: ignore[override]  # read-only here: it follows the export
        """The forward pass in use: "onnx" or "torch"."""
        return "onnx" if self.onnx is not None else "torch"

    def describe(self) -> str:
        return super().describe() + "".join(f"; {note}" for note in self.notes)

    def _choose_backend(self) -> None:
        self.onnx = None
        if self.requested_backend == "torch":
            return
        if self.device != "cpu":
            if self.requested_backend == "onnx":
                raise ValueError(f"model {self.model_id}: ONNX Runtime runs on the CPU here; use --backend torch "
                                 f"with --device {self.device}")
            return
        try:
            self.onnx = OnnxForward(self.model, self.spec)
        except OnnxUnavailable as exc:
            if self.requested_backend == "onnx":
                raise
            self.notes.append(f"forward pass in torch: {exc}")

    def lookback_seconds(self) -> dict[str, float]:
        """Seconds of each modality's stream a window must hold (what the pipeline should read)."""
        return {m: get_transform(i.transform).lookback_seconds(i) for m, i in self.spec.inputs.items()}

    def check_streams(self, streams: dict[str, tuple[tuple[str, ...], float]]) -> None:
        """Raise IncompatibleStreams naming what is missing, too slow or of the wrong size (see module doc)."""
        for modality, inp in self.spec.inputs.items():
            if modality not in streams:
                if inp.required:
                    raise IncompatibleStreams(
                        f"model {self.model_id} needs {article(modality)} {modality} stream, none is running "
                        f"({self.spec.fallback})"
                    )
                continue
            names, rate = streams[modality]
            transform = get_transform(inp.transform)
            if rate and rate < transform.min_rate(inp):
                raise IncompatibleStreams(f"model {self.model_id}: the {modality} stream runs at {rate:g} Hz, "
                                          f"its {inp.transform} input needs at least {transform.min_rate(inp):g} Hz")
            if transform.uses_channels:
                try:
                    channel_map(names, inp.channels, self.interpolate_channels)
                except MissingChannels as exc:
                    if self.trained or "eeg_channels" not in self.model.config:
                        raise MissingChannels(f"model {self.model_id}: {exc}") from None
                    self._adopt_channels(tuple(names))
                    return self.check_streams(streams)
            elif names and len(names) != inp.feature_dim:
                raise IncompatibleStreams(f"model {self.model_id}: the {modality} stream has {len(names)} values "
                                          f"per sample, the model needs {inp.feature_dim}")
        return None

    def _adopt_channels(self, names: tuple[str, ...]) -> None:
        config = {**self.model.config, "eeg_channels": list(names)}
        self.model = registry.build(self.model.architecture, **config).to(self.device).eval()
        self.spec = self.model.spec()
        self.step_caches.clear()
        self.notes.append(f"untrained model rebuilt for the stream's {len(names)} EEG channels: {', '.join(names)}")
        self._choose_backend()

    def predict(self, window: Window) -> ModelOutput:
        ends = [float(w.timestamps[-1]) for w in window.values() if w.n_samples]
        if not ends:
            raise MissingModality("the window holds no data in any modality")
        t_end = max(ends)
        batch: dict[str, np.ndarray] = {}
        for modality, inp in self.spec.inputs.items():
            mw = window.get(modality)
            if (mw is None or mw.n_samples == 0) and not inp.required:  # a gap-aware input: every step missing
                x = np.full((n_steps(inp), inp.feature_dim), np.nan, dtype=np.float32)
            elif mw is None or mw.n_samples == 0:
                raise MissingModality(f"{modality}: no data in this window; model {self.model_id} "
                                      f"{self.spec.fallback}")
            else:
                cache = self.step_caches.setdefault(modality, StepCache())
                x = normalise(compute_features(inp, mw, t_end, self.interpolate_channels, cache),
                              self.normalisation.get(modality))
            batch[modality] = x[None]
        return self._to_output({k: v[0] for k, v in self.forward(batch).items()})

    def forward(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The network's outputs on one batch of feature windows ({modality: (B, T, D) float32}), in the backend."""
        if self.onnx is not None:
            return self.onnx(batch)
        with torch.inference_mode():
            out = self.model({m: torch.from_numpy(x).to(self.device) for m, x in batch.items()})
        return {k: v.float().cpu().numpy() for k, v in out.items()}

    def _to_output(self, out: dict[str, np.ndarray]) -> ModelOutput:
        values = {"valence": float("nan"), "arousal": float("nan")}
        probabilities: dict[str, np.ndarray] = {}
        confidences: list[float] = []
        for target, kind in self.spec.targets.items():
            y = out[target]
            if kind in ("binary", "multiclass"):
                p = np.exp(y - y.max())
                p /= p.sum()
                probabilities[target] = p
                if kind == "binary":
                    values[target] = float(2.0 * p[-1] - 1.0)
                confidences.append(float(p.max()))
            else:
                values[target] = float(np.clip(y[-1] if y.ndim else y, -1.0, 1.0))  # linear heads (LSTM) may overshoot
        weights = out.get("modality_weights")
        if weights is not None and weights.ndim == 2:
            weights = weights[-1]
        return ModelOutput(
            valence=values["valence"],
            arousal=values["arousal"],
            probabilities=probabilities,
            saliency=out.get("saliency"),
            modality_weights={} if weights is None else dict(zip(self.spec.inputs, map(float, weights), strict=True)),
            confidence=float(np.mean(confidences)) if confidences else None,
        )


def load_predictor(name_or_path: str, device: str = "auto", interpolate_channels: bool = False,
                   backend: str = "torch") -> NetworkPredictor:
    """A registry name (untrained network, default spec) or a bundle path (.json, .safetensors or directory)."""
    if name_or_path in registry.names():
        model = registry.build(name_or_path)
        tag = "untrained" if model.trainable else "fixed"
        check_live(model.spec(), f"{name_or_path}@{tag}")
        # a fixed model is not trained either: it runs as an uncalibrated prior (models.live)
        predictor = NetworkPredictor(model, model.spec(), f"{name_or_path}@{tag}", trained=False,
                                     device=device, interpolate_channels=interpolate_channels, backend=backend)
    elif Path(name_or_path).exists() or name_or_path.endswith((".json", ".safetensors")):
        bundle = load_bundle(name_or_path)
        trainable = bundle.model.trainable
        check_live(bundle.spec, bundle.model_id)
        predictor = NetworkPredictor(bundle.model, bundle.spec, bundle.model_id, bundle.trained and trainable,
                                     bundle.normalisation, device, interpolate_channels,
                                     state=model_state(trainable, bundle.trained, bundle.provenance), backend=backend)
    else:
        raise ValueError(f"{name_or_path!r} is neither a registered model ({', '.join(registry.names())}) "
                         "nor a checkpoint path")
    return predictor
