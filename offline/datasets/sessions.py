"""The calibration-session reader: session files -> ``offline.trials.Trial``, one per block.

What adaptation (``calibration.adapt``) and offline training (``--dataset calibration``, ``--sessions``) read.

Each block becomes a trial (time 0 = its onset): the EEG samples between onset and offset as a
regular signal, face embeddings and expression probabilities as irregular frames with their
times, the SAM ratings (1-9, ``valence`` / ``arousal``) for stimulus blocks, and continuous
traces on a ``trace_rate`` grid for sequence models: either the rating mapped onto -1..1 and
held over the block (``labels="ratings"``), or the face prior's valence / arousal from the
recorded expression probabilities (``labels="face"``, the visual teacher of cross-modal
distillation; steps with no frame within 0.5 s take the nearest one, a block with fewer than
half its steps covered has no face trace). A block missing more than ``MAX_MISSING_EEG`` of its
EEG samples, or holding NaN, is left out with a warning naming it. A plain recording (``app.py
--record`` with ``--markers`` from a stimulus program) is a calibration session too when its markers
follow the calibration grammar (``blocks_from_markers``). A subject id that is not a safe
folder name (``models.identifiers``) is refused, naming the file.

``read_calibration(root, subjects)`` has the signature of the offline dataset readers: the
rated blocks of every session file under ``root``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.contracts import EEG, EXPRESSION, FACE
from models.face_prior import CLASS_VALENCE_AROUSAL
from models.identifiers import check_name
from models.resample import fill_from_nearest, hold_last
from offline.datasets.reader import FunctionReader
from offline.trials import Signal, Trial
from realtime.session_file import read_session
from realtime.session_layout import RecordedStream

DATASET = "calibration"
MAX_MISSING_EEG = 0.02
FACE_MAX_GAP_SECONDS = 0.5
FACE_MIN_COVERAGE = 0.5
LABELS = ("ratings", "face")


@dataclass(frozen=True)
class SessionBlock:
    """One block of a session: its kind and its samples and labels as a trial."""

    kind: str  # baseline | stimulus
    trial: Trial


def to_unit(rating: float) -> float:
    """A 1..9 SAM rating on the -1..1 scale of the models' continuous outputs (5 -> 0)."""
    return (float(rating) - 5.0) / 4.0


def _frames(stream: RecordedStream, onset: float, offset: float) -> tuple[np.ndarray, np.ndarray]:
    rows = (stream.timestamps >= onset) & (stream.timestamps <= offset)
    return stream.data[rows].astype(np.float32), stream.timestamps[rows] - onset


def face_trace(probs: np.ndarray, times: np.ndarray, n_steps: int, rate: float) -> np.ndarray | None:
    """(n_steps, 2) face-prior valence and arousal at steps i / rate, or None when too few steps have a frame."""
    if len(times) == 0 or n_steps == 0:
        return None
    totals = probs.sum(axis=1, keepdims=True)
    per_frame = (probs / np.where(totals > 0, totals, 1.0)) @ CLASS_VALENCE_AROUSAL
    values, valid = hold_last(per_frame, times, np.arange(n_steps) / rate, FACE_MAX_GAP_SECONDS)
    if valid.mean() < FACE_MIN_COVERAGE:
        return None
    return fill_from_nearest(values, valid).astype(np.float32)


def session_blocks(path: str | Path, labels: str = "ratings", trace_rate: float = 4.0) -> list[SessionBlock]:
    """Every complete block of one session file as a trial (see the module docstring)."""
    if labels not in LABELS:
        raise ValueError(f"labels must be one of {', '.join(LABELS)}, got {labels!r}")
    path = Path(path)
    session = read_session(path)
    subject = str(session.attrs.get("subject", ""))
    blocks: dict[str, Any] | None = session.tables.get("blocks")
    ratings = session.tables.get("ratings", {})
    rated = {str(b): (float(v), float(a)) for b, v, a in
             zip(ratings.get("block", []), ratings.get("valence", []), ratings.get("arousal", []), strict=True)}
    if blocks is None:  # a plain recording: blocks from markers in the calibration grammar, if it has them
        marked_subject, blocks, rated = blocks_from_markers(session.markers)
        subject = subject or marked_subject
    if not subject or not len(blocks["name"]):
        raise ValueError(f"{path} is a session file but not a calibration session (no subject, or no blocks table "
                         "and no 'onset'/'offset' markers)")
    check_name(subject, f"{path}: subject id")  # it names fold and profile folders
    out = []
    for i, name in enumerate(blocks["name"]):
        name, kind = str(name), str(blocks["kind"][i])
        onset, offset = float(blocks["onset"][i]), float(blocks["offset"][i])
        signals: dict[str, Signal] = {}
        eeg = session.streams.get(EEG)
        if eeg is not None:
            data, _ = _frames(eeg, onset, offset)
            expected = (offset - onset) * eeg.rate
            if len(data) < (1 - MAX_MISSING_EEG) * expected or not np.isfinite(data).all():
                warnings.warn(f"{path}: block {name} left out: {len(data)} of {expected:.0f} EEG samples"
                              f"{', with NaN' if len(data) and not np.isfinite(data).all() else ''}", stacklevel=2)
                continue
            signals[EEG] = Signal(data, eeg.rate, eeg.channels)
        for modality in (FACE, EXPRESSION):
            stream = session.streams.get(modality)
            if stream is not None:
                data, times = _frames(stream, onset, offset)
                if len(times):
                    rate = len(times) / max(offset - onset, 1e-9)
                    signals[modality] = Signal(data, rate, stream.channels, timestamps=times)
        n_steps = int(np.floor((offset - onset) * trace_rate + 1e-9))
        traces: dict[str, Signal] = {}
        trial_ratings: dict[str, float] = {}
        if name in rated:
            trial_ratings = {"valence": rated[name][0], "arousal": rated[name][1]}
        expression = signals.get(EXPRESSION)
        if labels == "ratings" and trial_ratings:
            for target, value in trial_ratings.items():
                traces[target] = Signal(np.full((n_steps, 1), to_unit(value), np.float32), trace_rate, (target,))
        elif labels == "face" and expression is not None and expression.timestamps is not None:
            va = face_trace(expression.data, expression.timestamps, n_steps, trace_rate)
            if va is not None:
                for j, target in enumerate(("valence", "arousal")):
                    traces[target] = Signal(va[:, j : j + 1], trace_rate, (target,))
        trial = Trial(DATASET, subject, f"{path.stem}/{name}", signals, trial_ratings, traces, source=str(path),
                      block=i)
        out.append(SessionBlock(kind, trial))
    return out


def blocks_from_markers(markers: list[tuple[float, str]]
                        ) -> tuple[str, dict[str, list[Any]], dict[str, tuple[float, float]]]:
    """(subject, blocks table, ratings by block) from markers in the grammar calibration sessions send:
    ``session_start ID``, ``onset BLOCK``, ``offset BLOCK``, ``rating BLOCK valence=V arousal=A``; a block
    named ``baseline...`` is a baseline, any other a stimulus; an onset without its offset is no block."""
    subject = ""
    opened: dict[str, float] = {}  # onset time by block name, until its offset
    blocks: dict[str, list[Any]] = {"name": [], "kind": [], "onset": [], "offset": []}
    rated: dict[str, tuple[float, float]] = {}
    for t, text in markers:
        word, _, rest = text.strip().partition(" ")
        if word == "session_start" and rest:
            subject = rest.strip()
        elif word == "onset" and rest:
            opened[rest.strip()] = t
        elif word == "offset" and rest.strip() in opened:
            name = rest.strip()
            for key, value in zip(blocks, (name, "baseline" if name.startswith("baseline") else "stimulus",
                                           opened.pop(name), t), strict=True):
                blocks[key].append(value)
        elif word == "rating":
            fields = dict(f.split("=", 1) for f in rest.split()[1:] if "=" in f)
            try:
                rated[rest.split()[0]] = (float(fields["valence"]), float(fields["arousal"]))
            except (IndexError, KeyError, ValueError):
                continue  # not a rating in the grammar: kept in the file, not used
    return subject, blocks, rated


def session_files(root: str | Path) -> list[Path]:
    """Calibration session files: ``root`` itself if it is a file, else every ``*.h5`` and ``*.xdf`` below it."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"no calibration session at {root}")
    return sorted([*root.rglob("*.h5"), *root.rglob("*.xdf")])


def read_calibration(root: str | Path, subjects: list[str] | None = None, labels: str = "ratings",
                     trace_rate: float = 4.0) -> list[Trial]:
    """The rated blocks of every session under ``root`` (offline reader signature; ``subjects`` filters)."""
    trials = []
    for path in session_files(root):
        for block in session_blocks(path, labels, trace_rate):
            if block.kind == "stimulus" and block.trial.ratings and (not subjects or block.trial.subject in subjects):
                trials.append(block.trial)
    if not trials:
        raise ValueError(f"no rated calibration block under {root}"
                         f"{' for ' + ', '.join(subjects) if subjects else ''}")
    return trials


READER = FunctionReader(DATASET, read_calibration)
