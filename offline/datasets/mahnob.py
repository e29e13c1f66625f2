"""MAHNOB-HCI raw sessions: ``Sessions/<id>/session.xml``, the emotion BDF cut at the stimulus, and the face video.

Session ids are ``(subject - 1) * 130 + section``. The Status channel marks stimulus onset and
offset: exactly two events (starts of non-zero runs) are expected, anything else is an error.
Sessions without an emotion BDF (other experiments) are skipped; rated sessions lacking ratings
are skipped with a warning, as the dataset documents.
"""

from __future__ import annotations

import math
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from offline.datasets.bdf import code_onsets, read_bdf
from offline.datasets.deap import EEG_CHANNELS
from offline.datasets.reader import DatasetError, FunctionReader
from offline.trials import Signal, Trial, VideoRef

SESSIONS_PER_SUBJECT = 130
RATING_ATTRIBUTES = {
    "valence": "feltVlnc",
    "arousal": "feltArsl",
    "dominance": "feltCtrl",
    "predictability": "feltPred",
    "emotion": "feltEmo",
}


def read_mahnob(root: Path, subjects: list[str] | None = None, videos: bool = True) -> list[Trial]:
    """Emotion-elicitation trials of every session under ``root/Sessions``."""
    sessions = Path(root) / "Sessions"
    if not sessions.is_dir():
        raise DatasetError(f"{sessions}: folder not found")
    folders = sorted((p for p in sessions.iterdir() if p.is_dir()), key=lambda p: (len(p.name), p.name))
    trials = []
    for folder in folders:
        trial = _read_session(folder, videos)
        if trial is not None and (not subjects or trial.subject in subjects):
            trials.append(trial)
    if not trials:
        raise DatasetError(f"{sessions}: no emotion-elicitation sessions found")
    return trials


def _read_session(folder: Path, videos: bool) -> Trial | None:
    bdfs = sorted(folder.glob("Part_*_Trial*_emotion.bdf"))
    if not bdfs:
        return None
    if len(bdfs) > 1:
        raise DatasetError(f"{folder}: more than one emotion BDF ({', '.join(p.name for p in bdfs)})")
    xml_path = folder / "session.xml"
    if not xml_path.is_file():
        raise DatasetError(f"{xml_path}: file not found")
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, LookupError, ValueError) as exc:  # an unknown, non-text or unusable declared encoding
        raise DatasetError(f"{xml_path}: not valid XML ({type(exc).__name__}: {exc})") from exc
    subject_node = root.find("subject")
    if root.tag != "session" or subject_node is None or "sessionId" not in root.attrib:
        raise DatasetError(f"{xml_path}: expected <session sessionId=...> with a <subject id=...> child")
    try:
        subject_number, session_id = int(subject_node.attrib["id"]), int(root.attrib["sessionId"])
    except (KeyError, ValueError) as exc:
        raise DatasetError(f"{xml_path}: sessionId and subject id must be integers "
                           f"({type(exc).__name__}: {exc})") from exc
    section = session_id - (subject_number - 1) * SESSIONS_PER_SUBJECT
    if not 1 <= section <= SESSIONS_PER_SUBJECT:
        raise DatasetError(f"{xml_path}: sessionId {session_id} does not belong to subject {subject_number}")
    try:
        ratings = {name: float(root.attrib[attr]) for name, attr in RATING_ATTRIBUTES.items()}
    except (KeyError, ValueError):
        warnings.warn(f"{xml_path}: session has no felt* ratings; skipped", stacklevel=3)
        return None

    rec = read_bdf(bdfs[0])
    events = code_onsets(rec.status)
    if len(events) != 2:
        raise DatasetError(
            f"{bdfs[0]}: expected exactly two Status events (stimulus onset and offset), found {len(events)}"
        )
    onset, offset = int(events[0]), int(events[1])
    eeg = rec.select(EEG_CHANNELS, bdfs[0])[onset:offset]
    eeg_names = {c.lower() for c in EEG_CHANNELS}
    others = [i for i, c in enumerate(rec.channels) if c.lower() not in eeg_names]
    signals = {"eeg": Signal(np.ascontiguousarray(eeg), rec.rate, EEG_CHANNELS)}
    if others:
        signals["physio"] = Signal(
            np.ascontiguousarray(rec.data[onset:offset, others]), rec.rate, tuple(rec.channels[i] for i in others)
        )
    trial = Trial(
        dataset="mahnob",
        subject=f"P{subject_number:02d}",
        trial=f"{section:02d}",
        signals=signals,
        ratings=ratings,
        source=str(bdfs[0]),
    )
    if videos:
        _attach_video(folder, subject_number, section, root.attrib, trial)
    return trial


def _attach_video(folder: Path, subject: int, section: int, attrib: dict[str, str], trial: Trial) -> None:
    found = sorted(folder.glob(f"P{subject}-Rec1-*_C1 trigger _C_Section_{section}.avi"))
    if not found:
        warnings.warn(f"{folder}: no face video (C1 trigger) for section {section}; EEG only", stacklevel=4)
        return
    try:
        fps = float(attrib["vidRate"])
        first = int(float(attrib.get("vidBeginSmp", 0)))
        last = int(float(attrib["vidEndSmp"])) if "vidEndSmp" in attrib else None
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"vidRate {fps} is not a frame rate")
    except (KeyError, ValueError, OverflowError) as exc:  # OverflowError: an infinite sample index
        raise DatasetError(f"{folder / 'session.xml'}: bad video attributes ({type(exc).__name__}: {exc})") from exc
    trial.videos["face"] = VideoRef(found[0], fps, first, last)


READER = FunctionReader("mahnob", read_mahnob)
