"""Cross-modal knowledge distillation (thesis chapter 5): an EEG student learns from a frozen visual teacher.

Per fold the teacher is the model that a finished run trained on that same fold's training
subjects (its ``folds/<fold>/model`` bundle), so nothing of the test subject reaches the student
through the teacher. The teacher's TCN features (``encode``: (B, T, C) per step) on each training
window are computed once, frozen, and the student is trained with

    loss = 1 - CCC(student valence, label) + w * L1(student TCN features, teacher TCN features)

with w = ``distill_weight`` (the thesis: about 0.4 to 1.0). At test time the student reads EEG
only. Both TCNs must end in the same width (the thesis's L1 is between features of equal size).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from models.base import EmotionModel
from models.bundle import load_bundle
from models.contracts import ModelSpec
from models.transforms import normalise
from offline.training import ExtraLoss
from offline.trials import Trial, as_run_saw_them
from offline.windowing import WindowSet, make_windows

#: The key under which a training WindowSet carries the teacher's features (never a model target).
TEACHER_FEATURES = "teacher_features"
#: Run settings that must agree between the teacher's run and the student's (same data, same folds).
SAME_DATA = ("dataset", "root", "protocol", "test_subjects", "dataset_options")


@runtime_checkable
class FeatureModel(Protocol):
    """A network whose per-step features can be distilled (a TCN or LFAN): ``encode(inputs)`` -> (B, T, C)."""

    def encode(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor: ...


class Teacher:
    """A finished run used as teacher: checks that it split the data as the student does, loads fold models."""

    def __init__(self, run: str | Path, student_run: dict[str, Any], folds: dict[str, dict[str, list[str]]]) -> None:
        self.run = Path(run)
        config_path = self.run / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"--distill-from {self.run}: not a run folder (no config.json)")
        config = json.loads(config_path.read_text())
        for key in SAME_DATA:
            theirs, ours = config["run"].get(key), student_run[key]
            if key == "root":
                theirs, ours = str(Path(theirs).resolve()), str(Path(ours).resolve())
            if theirs != ours:
                raise ValueError(f"--distill-from {self.run}: its {key} is {theirs!r}, the student's {ours!r}; the "
                                 "teacher must come from the same data and protocol")
        for fold, sides in folds.items():
            result = self.run / "folds" / fold / "result.json"
            if not result.is_file():
                raise FileNotFoundError(f"--distill-from {self.run}: fold {fold} has not finished ({result})")
            if json.loads(result.read_text())["trials"] != sides:
                raise ValueError(f"--distill-from {self.run}: fold {fold} split trials differently from the student "
                                 "(seed or val_fraction?); the teacher must have trained on the same subjects")
        self.spec = ModelSpec.from_json(config["model"])
        self.train_settings: dict[str, Any] = config["train"]

    def bundle_path(self, fold: str) -> Path:
        """The teacher's model for ``fold`` ("final": the run's deployable model)."""
        return self.run / "model" if fold == "final" else self.run / "folds" / fold / "model"

    def windows(self, trials: list[Trial], hop_seconds: float, like: WindowSet) -> WindowSet:
        """The teacher's inputs for the student's windows (the same trials and window ends), or an error.

        ``trials`` as read (no per-subject standardisation): they are standardised here the teacher's way,
        so its features come from inputs like those it was trained on."""
        trials = as_run_saw_them(trials, self.train_settings, list(self.spec.inputs))
        ws = make_windows(trials, range(len(trials)), self.spec, hop_seconds)
        if not (np.array_equal(ws.trial, like.trial) and np.array_equal(ws.start_step, like.start_step)):
            raise ValueError(f"--distill-from {self.run}: the teacher's windows are not the student's (inputs of "
                             "other lengths or rates); distillation needs both on the same steps")
        return ws

    @torch.no_grad()
    def features(self, fold: str, ws: WindowSet, device: torch.device, batch_size: int = 256
                 ) -> tuple[np.ndarray, str]:
        """(N, T, C) TCN features of the fold's frozen teacher on ``ws`` (raw inputs), and the teacher's model id."""
        bundle = load_bundle(self.bundle_path(fold), device=str(device))
        if not isinstance(bundle.model, FeatureModel):
            raise ValueError(f"--distill-from {self.run}: {bundle.spec.architecture} has no TCN features to distil "
                             "(a TCN or LFAN run is needed)")
        inputs = {m: normalise(ws.inputs[m], bundle.normalisation[m]).astype(np.float32) for m in self.spec.inputs}
        chunks = []
        for start in range(0, len(ws), batch_size):
            x = {m: torch.from_numpy(v[start:start + batch_size]).to(device) for m, v in inputs.items()}
            chunks.append(bundle.model.encode(x).float().cpu().numpy())
        return np.concatenate(chunks), bundle.model_id


def with_teacher(ws: WindowSet, features: np.ndarray) -> WindowSet:
    """``ws`` carrying the teacher's features beside its targets (so batches and subsets keep them aligned)."""
    return WindowSet(ws.inputs, {**ws.targets, TEACHER_FEATURES: features.astype(np.float32)}, ws.trial,
                     ws.start_step)


def feature_loss(weight: float) -> ExtraLoss:
    """The distillation term for ``offline.training.fit``: ``weight`` x mean L1(student features, teacher's)."""

    def loss(model: EmotionModel, x: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> torch.Tensor:
        student = cast(FeatureModel, model).encode(x)  # a TCN or LFAN student, as its teacher
        teacher = y[TEACHER_FEATURES]
        if student.shape != teacher.shape:
            raise ValueError(f"student TCN features {tuple(student.shape[1:])} and teacher's "
                             f"{tuple(teacher.shape[1:])} differ; give both TCNs the same last width")
        return weight * F.l1_loss(student.float(), teacher)

    return loss
