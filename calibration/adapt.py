"""Adapting a model to one subject from their calibration sessions; the result is a subject profile bundle.

Modes (``AdaptSettings.mode``):
- ``normalise``: per-subject normalisation statistics from the resting baseline blocks (features
  through the model's own transforms, ``models.transforms.compute_features`` via offline's
  windowing, exactly as live); nothing is trained.
- ``finetune``: the same statistics, then the chosen layers (``head``: the last top-level
  submodule, the output layer; ``last:N``: the last N parameterised layers; ``all``) trained on
  the stimulus blocks with labels from the SAM ratings (binary targets: rating >= 5 is high;
  continuous targets: (rating - 5) / 4 held over the block, trained with MSE, since a constant
  target gives CCC no gradient).
- ``distill``: cross-modal knowledge distillation (MODELS.md section 2), at the level of outputs:
  a visual teacher's continuous valence / arousal on the subject's recorded face is the target
  for the EEG model, so it learns from the subject without any self-report. The teacher is a
  trained face (or fusion) bundle: ``AdaptSettings.teacher``, else the profile's own
  ``<profile>/teacher/`` bundle (``offline deploy RUN --to profiles/<id>/teacher``); without one,
  the face prior (FER expression probabilities mapped onto valence / arousal, never fitted to
  labelled valence). The profile's provenance names the teacher used. Needs continuous targets.
Windows are cut with ``offline.windowing`` (the same transforms as live), ``hop_seconds`` apart.
Modalities the baseline cannot give (a face with the eyes closed...) keep the base model's
statistics, or, with none, take them from the subject's stimulus windows (recorded as such).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models import registry
from models.base import EmotionModel
from models.bundle import load_bundle, resolve_manifest, save_bundle
from models.channels import channel_map
from models.contracts import EEG, IncompatibleStreams, ModelSpec
from models.transforms import MissingModality, fit_normalisation, get_transform
from offline.config import TrainConfig
from offline.datasets.sessions import SessionBlock, session_blocks
from offline.trials import Signal
from offline.windowing import WindowSet, cut_trial, is_classification, make_windows

MODES = ("normalise", "finetune", "distill")


class AdaptationError(ValueError):
    """The sessions cannot adapt this model (no baseline, no ratings, wrong targets, missing channels...)."""


@dataclass(frozen=True)
class AdaptSettings:
    mode: str = "finetune"
    layers: str = "head"  # head | last:N | all
    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 16
    hop_seconds: float = 0.5
    loss: str = "mse"  # mse | ccc (continuous targets)
    seed: int = 0
    device: str = "cpu"
    teacher: str = ""  # distill: a trained face/fusion bundle (default: <profile>/teacher/, else the face prior)


@dataclass
class Base:
    """The model adaptation starts from."""

    model: EmotionModel
    normalisation: dict[str, dict[str, list[float]]]
    trained: bool
    model_id: str
    provenance: dict[str, Any]


def load_base(base: str, eeg_channels: tuple[str, ...] = (), overrides: dict[str, Any] | None = None) -> Base:
    """A bundle path (trained) or a registry name (untrained; its EEG channels become the session's when the
    default list is not all there)."""
    if base in registry.names():
        model = registry.build(base, **(overrides or {}))
        if eeg_channels and "eeg_channels" in model.config:
            try:
                channel_map(eeg_channels, model.spec().inputs[EEG].channels)
            except (IncompatibleStreams, KeyError):
                model = registry.build(base, **{**(overrides or {}), "eeg_channels": list(eeg_channels)})
        return Base(model, {}, False, f"{base}@untrained", {})
    if overrides:
        raise AdaptationError("--model-set applies to a registered model name, not to a checkpoint bundle")
    bundle = load_bundle(base)
    return Base(bundle.model, bundle.normalisation, bundle.trained, bundle.model_id,
                {"manifest": str(bundle.manifest_path), **bundle.provenance})


def layer_groups(model: torch.nn.Module) -> list[str]:
    """Names of the parameterised layers in definition order (a weight-normalised conv counts once)."""
    groups: list[str] = []
    for name, _ in model.named_parameters():
        module = name.rsplit(".", 1)[0] if "." in name else ""
        module = module.split(".parametrizations.")[0]
        if module not in groups:
            groups.append(module)
    return groups


def trainable_names(model: torch.nn.Module, layers: str) -> list[str]:
    """Parameter names that ``layers`` (head | last:N | all) unfreezes."""
    names = [n for n, _ in model.named_parameters()]
    if layers == "all":
        return names
    groups = layer_groups(model)
    if layers == "head":
        top = names[-1].split(".")[0]
        return [n for n in names if n.split(".")[0] == top]
    if layers.startswith("last:") and layers[5:].isdigit() and int(layers[5:]) > 0:
        chosen = groups[-int(layers[5:]):]
        return [n for n in names if n.rsplit(".", 1)[0].split(".parametrizations.")[0] in chosen]
    raise AdaptationError(f"layers must be head, last:N (N >= 1) or all; got {layers!r}")


def _windows(blocks: list[SessionBlock], spec: ModelSpec, hop: float) -> WindowSet:
    trials = [b.trial for b in blocks]
    try:
        return make_windows(trials, range(len(trials)), spec, hop)
    except ValueError as exc:
        raise AdaptationError(f"no window of this model fits the blocks: {exc}") from None


def subject_normalisation(base: Base, spec: ModelSpec, blocks: list[SessionBlock], hop: float
                          ) -> tuple[dict[str, dict[str, list[float]]], dict[str, str]]:
    """Statistics per input modality, and where each came from (see the module docstring)."""
    stats, origin = {}, {}
    for modality, inp in spec.inputs.items():
        single = ModelSpec(spec.architecture, spec.config, {}, {modality: inp}, spec.fallback)
        for kind in ("baseline", "stimulus"):
            chosen = [b for b in blocks if b.kind == kind and modality in b.trial.signals]
            features = []
            for block in chosen:
                try:
                    features.append(cut_trial(block.trial, single, hop)[0][modality])
                except Exception:  # a block too short or too sparse for a window of this modality
                    continue
            features = [f for f in features if len(f)]
            if features:
                stats[modality] = fit_normalisation(np.concatenate(features))
                origin[modality] = f"subject {kind} blocks ({sum(len(f) for f in features)} windows)"
                break
            if kind == "baseline" and modality in base.normalisation:
                stats[modality], origin[modality] = base.normalisation[modality], "base model (no baseline window)"
                break
        if modality not in stats:
            need = get_transform(inp.transform).lookback_seconds(inp)
            have = [b.trial.signals[modality] for b in blocks if modality in b.trial.signals]
            longest = max((s.data.shape[0] / s.rate if s.timestamps is None else s.timestamps[-1] for s in have),
                          default=0.0)
            raise AdaptationError(f"no block gives one {modality} window of {spec.architecture}: it needs "
                                  f"{need:.2f} s, the longest block with {modality} lasts {longest:.2f} s"
                                  f"{'' if have else ' (none recorded)'}")
    return stats, origin


def finetune(model: EmotionModel, ws: WindowSet, settings: AdaptSettings) -> list[float]:
    """Train the layers ``settings.layers`` picks on ``ws``; returns the mean training loss per epoch."""
    from offline.training import compute_loss

    targets = model.spec().targets
    unfrozen = set(trainable_names(model, settings.layers))
    for name, p in model.named_parameters():
        p.requires_grad_(name in unfrozen)
    params = [p for p in model.parameters() if p.requires_grad]
    device = torch.device(settings.device)
    model.to(device)
    optimizer = torch.optim.Adam(params, lr=settings.lr)
    cfg = TrainConfig(loss="mse" if settings.loss == "mse" else "auto")
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    history = []
    for _ in range(settings.epochs):
        model.train()
        for module in model.modules():  # frozen parts keep their batch-norm statistics and no dropout
            if not any(p.requires_grad for p in module.parameters(recurse=False)) and list(module.children()) == []:
                module.eval()
        losses = []
        order = rng.permutation(len(ws))
        for start in range(0, len(order), settings.batch_size):
            idx = order[start : start + settings.batch_size]
            x = {m: torch.from_numpy(v[idx]).to(device) for m, v in ws.inputs.items()}
            y = {t: torch.from_numpy(v[idx]).to(device) for t, v in ws.targets.items()}
            loss = compute_loss(model(x), y, targets, cfg, {})
            optimizer.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)  # what loss.backward() does; that method has no type annotations
            optimizer.step()
            losses.append(float(loss.detach()))
        history.append(float(np.mean(losses)))
    for p in model.parameters():
        p.requires_grad_(True)
    return history


FACE_PRIOR_TEACHER = "face-prior (FER expression probabilities mapped onto valence/arousal; not fitted to valence)"


def find_teacher(settings: AdaptSettings, profile: Path) -> Path | None:
    """The distillation teacher's manifest: the one asked for, else the profile's ``teacher/`` bundle, else None."""
    if settings.teacher:
        return resolve_manifest(settings.teacher)
    folder = profile / "teacher"
    return resolve_manifest(folder) if folder.is_dir() else None


def teach(blocks: list[SessionBlock], manifest: Path, targets: dict[str, str], hop: float
          ) -> tuple[list[SessionBlock], str]:
    """The blocks with their traces replaced by a trained teacher's per-step outputs; and the teacher's model id.

    Blocks the teacher cannot window (too short or too little face) are left out."""
    from offline.aggregation import restore_steps
    from offline.training import predict

    teacher = load_bundle(manifest)
    missing = [t for t in targets if teacher.spec.targets.get(t) != "continuous"]
    if missing:
        raise AdaptationError(f"teacher {teacher.model_id} does not predict continuous {', '.join(missing)}")
    taught = []
    for block in blocks:
        try:
            ws = make_windows([block.trial], [0], teacher.spec, hop).normalised(teacher.normalisation)
        except (KeyError, ValueError, MissingModality):
            continue
        out = predict(teacher.model, ws, torch.device("cpu"), amp=False)
        traces = dict(block.trial.traces)
        for target in targets:
            n = block.trial.traces[target].data.shape[0]
            trace = restore_steps(list(out[target]), ws.start_step.tolist(), n)
            valid = np.isfinite(trace)
            traces[target] = Signal(np.where(valid, trace, trace[valid][0] if valid.any() else 0.0)[:, None]
                                    .astype(np.float32), block.trial.traces[target].rate, (target,))
        taught.append(SessionBlock(block.kind, replace(block.trial, traces=traces)))
    return taught, teacher.model_id


def adapt(subject: str, sessions: list[Path], base: Base, out_dir: str | Path, settings: AdaptSettings) -> Path:
    """Adapt ``base`` to ``subject`` from ``sessions``; write the profile bundle into ``out_dir``; return it."""
    if settings.mode not in MODES:
        raise AdaptationError(f"mode must be one of {', '.join(MODES)}, got {settings.mode!r}")
    labels = "face" if settings.mode == "distill" else "ratings"
    spec = base.model.spec()
    if settings.mode == "distill" and any(is_classification(k) for k in spec.targets.values()):
        raise AdaptationError(f"distill needs continuous targets; {spec.architecture} predicts classes "
                              f"({', '.join(spec.targets)})")
    trace_rates = {i.rate for i in spec.inputs.values()}
    blocks = [b for path in sessions for b in session_blocks(path, labels, max(trace_rates))]
    other = sorted({b.trial.subject for b in blocks} - {subject})
    if other:
        raise AdaptationError(f"sessions of other subjects given for {subject}: {', '.join(other)}")
    if not blocks:
        raise AdaptationError(f"no usable block in {', '.join(map(str, sessions))}")
    stats, origin = subject_normalisation(base, spec, blocks, settings.hop_seconds)
    history: list[float] = []
    trained = base.trained
    n_windows = 0
    teacher = FACE_PRIOR_TEACHER if settings.mode == "distill" else None
    if settings.mode != "normalise":
        if settings.mode == "finetune":
            labelled = [b for b in blocks if b.kind == "stimulus" and b.trial.ratings]
        else:
            labelled = [b for b in blocks if all(t in b.trial.traces for t in spec.targets)]
            manifest = find_teacher(settings, Path(out_dir))
            if manifest is not None:
                labelled, teacher = teach(labelled, manifest, spec.targets, settings.hop_seconds)
        if len(labelled) < 2:
            raise AdaptationError(f"{settings.mode} needs at least two labelled blocks, the sessions give "
                                  f"{len(labelled)} ({'SAM ratings' if labels == 'ratings' else 'face traces'})")
        ws = _windows(labelled, spec, settings.hop_seconds).normalised(stats)
        n_windows = len(ws)
        history = finetune(base.model, ws, settings)
        if not all(math.isfinite(x) for x in history):
            raise AdaptationError(f"training diverged (losses {history}); try a smaller --lr")
        trained = True
    provenance = {
        "dataset": "calibration",
        "protocol": f"subject adaptation ({settings.mode})",
        "fold": None,
        "subject": subject,
        "sessions": [str(Path(p).resolve()) for p in sessions],
        "adaptation": {**asdict(settings), "labels": None if settings.mode == "normalise" else labels,
                       "windows": n_windows, "blocks": [b.trial.trial for b in blocks],
                       "normalisation_from": origin, "train_loss": history, "teacher": teacher},
        "base": {"model_id": base.model_id, "trained": base.trained, "provenance": base.provenance},
        "metrics": {},
    }
    name = f"{subject}-{settings.mode}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    return save_bundle(base.model.cpu().eval(), out_dir, name, trained=trained, normalisation=stats,
                       provenance=provenance)
