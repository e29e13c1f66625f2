"""Readers of the public datasets as distributed, and of calibration sessions, registered by command-line name.

``READERS`` maps each ``--dataset`` name to its ``DatasetReader`` (``offline.datasets.reader``); a reader returns
a ``Dataset`` of ``offline.trials.Trial``s. ``read(name, root, sessions=[...])`` adds the rated blocks of
calibration session files to a dataset's trials (retraining on the public data plus one's own participants).
Channels are never aligned by position: every model picks its channels by name from each trial, so the sessions
must share EEG channel names with the dataset, and a model needing a channel a session lacks is refused when its
windows are cut, naming the session file and the channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.contracts import EEG, FACE
from offline.datasets import deap, mahnob, mahnob_features, seediv, seedv
from offline.datasets import sessions as recorded
from offline.datasets.reader import Dataset, DatasetError, DatasetReader
from offline.trials import Trial

CALIBRATION = recorded.DATASET
#: Every dataset reader by the name ``--dataset`` takes.
READERS: dict[str, DatasetReader] = {
    r.name: r
    for r in (deap.READER, mahnob.READER, mahnob_features.READER, seedv.READER, seediv.READER, recorded.READER)
}


def names() -> list[str]:
    """The dataset names, sorted (the choices of ``--dataset``)."""
    return sorted(READERS)


def reader(name: str) -> DatasetReader:
    """The reader of a dataset name used on the command line."""
    try:
        return READERS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(names())}") from None


def _names(channels: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(channels[:limit])
    return shown + (f", ... ({len(channels)} in all)" if len(channels) > limit else "")


def _check_sessions(dataset: Dataset, added: list[Trial]) -> None:
    """Refuse sessions that cannot be trained beside ``dataset``: no EEG channel name in common, other face
    widths, or a session subject id that is also one of the dataset's subjects (LOSO would merge them)."""
    name = dataset.name
    for kind, width in ((EEG, False), (FACE, True)):
        ours = next((t.signals[kind] for t in dataset.trials if kind in t.signals), None)
        if ours is None:
            continue
        for session in added:
            theirs = session.signals.get(kind)
            if theirs is None:
                continue
            if width and theirs.data.shape[1] != ours.data.shape[1]:
                raise DatasetError(f"{session.source}: {kind} has {theirs.data.shape[1]} features per frame, "
                                   f"{name} has {ours.data.shape[1]}")
            if not width and not set(theirs.channels) & set(ours.channels):
                raise DatasetError(f"{session.source}: no EEG channel name in common with {name} (session: "
                                   f"{_names(theirs.channels)}; {name}: {_names(ours.channels)})")
    clash = sorted(dataset.subjects & {s.subject for s in added})
    if clash:
        raise DatasetError(f"calibration subjects {', '.join(clash)} are also subjects of {name}; "
                           "give the participants other ids")


def read(name: str, root: str | Path, sessions: Sequence[str | Path] = (), **options: Any) -> list[Trial]:
    """Read every trial of dataset ``name`` under ``root``, then the rated blocks of the calibration ``sessions``
    (files or folders of them; the dataset's ``subjects`` option does not filter them)."""
    dataset = reader(name).read(Path(root), **options)
    if not sessions:
        return dataset.trials
    if name == CALIBRATION:
        raise DatasetError("calibration sessions are the dataset here: give their folder as the root, not as sessions")
    added = [t for folder in sessions for t in reader(CALIBRATION).read(Path(folder)).trials]
    _check_sessions(dataset, added)
    return dataset.trials + added
