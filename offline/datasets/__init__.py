"""Readers of the public datasets as distributed, and of calibration sessions; each returns ``offline.trials.Trial``s.

``read(name, root, sessions=[...])`` adds the rated blocks of calibration session files to a
dataset's trials (retraining on the public data plus one's own participants). Channels are never
aligned by position: every model picks its channels by name from each trial, so the sessions must
share EEG channel names with the dataset, and a model needing a channel a session lacks is refused
when its windows are cut, naming the session file and the channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.contracts import EEG, FACE
from offline.trials import Trial

CALIBRATION = "calibration"


class DatasetError(ValueError):
    """A dataset file is missing, damaged or not what its format documents; the message names the file."""


def numeric_array(value: object, where: str) -> np.ndarray:
    """``value`` if it is a numpy array of booleans, integers or floats, else a DatasetError naming ``where``.

    Checked before any conversion: a list (possibly sharing sub-lists, so huge once expanded), an object,
    string or record array from a damaged file is refused instead of being converted."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        got = f"a {value.dtype} array" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"
        raise DatasetError(f"{where} must be a numeric array, got {got}")
    return value


def reader(name: str) -> Callable[..., list[Trial]]:
    """The reader function for a dataset name used on the command line."""
    from calibration.session_trials import read_calibration
    from offline.datasets import deap, mahnob, mahnob_features, seedv

    readers: dict[str, Callable[..., list[Trial]]] = {
        "deap": deap.read_deap,
        "mahnob": mahnob.read_mahnob,
        "mahnob-features": mahnob_features.read_mahnob_features,
        "seedv": seedv.read_seedv,
        CALIBRATION: read_calibration,
    }
    try:
        return readers[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(readers))}") from None


def _names(channels: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(channels[:limit])
    return shown + (f", ... ({len(channels)} in all)" if len(channels) > limit else "")


def _check_sessions(name: str, trials: list[Trial], sessions: list[Trial]) -> None:
    """Refuse sessions that cannot be trained beside ``trials``: no EEG channel name in common, other face
    widths, or a session subject id that is also one of the dataset's subjects (LOSO would merge them)."""
    for kind, width in ((EEG, False), (FACE, True)):
        ours = next((t.signals[kind] for t in trials if kind in t.signals), None)
        if ours is None:
            continue
        for session in sessions:
            theirs = session.signals.get(kind)
            if theirs is None:
                continue
            if width and theirs.data.shape[1] != ours.data.shape[1]:
                raise DatasetError(f"{session.source}: {kind} has {theirs.data.shape[1]} features per frame, "
                                   f"{name} has {ours.data.shape[1]}")
            if not width and not set(theirs.channels) & set(ours.channels):
                raise DatasetError(f"{session.source}: no EEG channel name in common with {name} (session: "
                                   f"{_names(theirs.channels)}; {name}: {_names(ours.channels)})")
    clash = sorted({t.subject for t in trials} & {s.subject for s in sessions})
    if clash:
        raise DatasetError(f"calibration subjects {', '.join(clash)} are also subjects of {name}; "
                           "give the participants other ids")


def read(name: str, root: str | Path, sessions: Sequence[str | Path] = (), **options: Any) -> list[Trial]:
    """Read every trial of dataset ``name`` under ``root``, then the rated blocks of the calibration ``sessions``
    (files or folders of them; the dataset's ``subjects`` option does not filter them)."""
    trials = reader(name)(Path(root), **options)
    if not sessions:
        return trials
    if name == CALIBRATION:
        raise DatasetError("calibration sessions are the dataset here: give their folder as the root, not as sessions")
    added = [t for folder in sessions for t in reader(CALIBRATION)(Path(folder))]
    _check_sessions(name, trials, added)
    return trials + added
