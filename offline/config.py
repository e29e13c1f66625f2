"""Training settings, with the papers' values as defaults per model family and protocol (MODELS.md).

- ST-AlignNet, subject-dependent: Adam 1e-4, class-weighted cross-entropy, batch 64, 60 epochs.
- ST-AlignNet, subject-independent (LOSO/holdout): AdamW (wd 1e-4), 5 warm-up epochs then cosine to
  1e-6, label smoothing 0.05, gradient clipping 1.0, early stopping with patience 8.
- TCN / LFAN (thesis): Adam lr 1e-5, weight decay 1e-4, 1 - CCC loss, ReduceLROnPlateau on
  validation CCC (factor 0.5, patience 5), batch 8, 30 epochs, early stopping.
- LSTM baseline (Soleymani et al. 2016, their public code's ``networkSeq``): Nadam lr 2e-3 (Keras 2's
  default), MSE loss, batch 20, 100 epochs (the code's 2025 TF2 revision; its 2019 upload: 25). The
  reference keeps the epoch of lowest validation MSE with no early stopping; our patience 10 (on
  validation CCC, the loop's score) is ours and kept, and so are 8 s hops between 96-step windows
  (see models/lstm_baseline.py for the differences that remain).
- Cross-Modal Transformer (SEED-V): AdamW 1e-4, warm-up then cosine, one window per 4 s feature row.
- Branch pretraining (``pretrain_epochs``, off by default; LFAN only) is our design, not the thesis's
  procedure; it is motivated by the thesis's sentence about learning the per-modality long-term
  dependencies first and combining them afterwards. Each modality's TCN is first trained alone as a
  unimodal regressor with the same settings and early stopping, then the fusion starts from them
  with its output equal to the leader's; the start is a candidate epoch, so the fusion is kept only
  where validation says the followers help.
Anything can be overridden from the command line (``--set key=value``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

SUBJECT_DEPENDENT = ("kfold", "seedv-blocks")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "adam"  # adam | adamw | nadam
    lr: float = 1e-4
    weight_decay: float = 0.0
    schedule: str = "none"  # none | warmup_cosine | plateau
    warmup_epochs: int = 0
    min_lr: float = 1e-6
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    loss: str = "auto"  # auto (cross-entropy / 1 - CCC by target) | mse
    class_weighted: bool = False
    label_smoothing: float = 0.0
    clip_grad: float = 0.0
    patience: int = 0  # early stopping on the validation metric; 0 = off (best epoch still kept)
    hop_seconds: float = 2.0  # between window ends
    val_fraction: float = 0.2  # share of training subjects used for validation (subject-independent)
    val_by: str = "subjects"  # subject-independent validation: whole subjects | trials of every training subject
    k: int = 5  # folds per subject (kfold)
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bfloat16 autocast on CUDA (ignored on CPU)
    num_threads: int = 0  # torch CPU threads; 0 = torch's default
    pretrain_epochs: int = 0  # LFAN: train each branch alone first, up to this many epochs (0 = off; ours)
    distill_weight: float = 0.0  # with --distill-from: w of w * L1(student, teacher TCN features) (thesis ~0.4)
    dann_weight: float = 0.0  # cmt-seedv: weight of the subject classifier behind gradient reversal (paper 0.1)
    normalise: str = "train"  # train: statistics of training windows | subject: also per subject first (transductive)
    val_metric: str = "ccc_trial"  # continuous early stopping: ccc_trial | ccc_subject (offline.evaluation)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, overrides: dict[str, str]) -> TrainConfig:
        """Apply ``key=value`` strings, converted to each field's type; unknown keys are an error."""
        types = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, text in overrides.items():
            if key not in types:
                raise KeyError(f"unknown training setting {key!r}; known: {', '.join(sorted(types))}")
            kind = types[key]
            changes[key] = text.lower() in ("1", "true", "yes", "on") if kind is bool else kind(text)
        return replace(self, **changes)


def family(model_name: str) -> str:
    """Which paper's settings apply to a registered model name."""
    name = model_name.lower()
    for prefix in ("stalignnet", "lfan", "tcn", "lstm", "cmt"):
        if name.startswith(prefix):
            return prefix
    return "generic"


def paper_defaults(model_name: str, protocol: str) -> TrainConfig:
    """The papers' settings for this model and protocol (see module docstring)."""
    fam = family(model_name)
    if fam == "stalignnet":
        if protocol in SUBJECT_DEPENDENT:
            return TrainConfig(epochs=60, batch_size=64, optimizer="adam", lr=1e-4, class_weighted=True)
        return TrainConfig(epochs=60, batch_size=64, optimizer="adamw", lr=1e-4, weight_decay=1e-4,
                           schedule="warmup_cosine", warmup_epochs=5, min_lr=1e-6, label_smoothing=0.05,
                           clip_grad=1.0, patience=8, class_weighted=True)
    if fam in ("tcn", "lfan"):
        return TrainConfig(epochs=30, batch_size=8, optimizer="adam", lr=1e-5, weight_decay=1e-4, schedule="plateau",
                           plateau_factor=0.5, plateau_patience=5, patience=10, hop_seconds=8.0)
    if fam == "lstm":
        return TrainConfig(epochs=100, batch_size=20, optimizer="nadam", lr=2e-3, loss="mse", patience=10,
                           hop_seconds=8.0)
    if fam == "cmt":
        return TrainConfig(epochs=60, batch_size=32, optimizer="adamw", lr=1e-4, weight_decay=1e-4,
                           schedule="warmup_cosine", warmup_epochs=5, clip_grad=1.0, patience=10, hop_seconds=4.0)
    return TrainConfig()


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["lr=1e-3", "epochs=5"]`` -> dict; a malformed item is an error naming it."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def parse_model_overrides(items: list[str]) -> dict[str, Any]:
    """Model constructor overrides: values parsed as JSON when possible (numbers, lists), else strings."""
    out: dict[str, Any] = {}
    for key, value in parse_overrides(items).items():
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
