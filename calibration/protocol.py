"""The calibration protocol: resting baselines then stimulus blocks, read from a small TOML file.

Every block has a name, a kind (``baseline`` or ``stimulus``), a length and what is shown:
a fixation cross, eyes closed, one of the researcher's video or image files, or an emotional
recall prompt (used when no files are given). Stimulus blocks are followed by a SAM self-report
of valence and arousal (1-9). ``default_protocol.toml`` beside this module is the default; any
key it does not know is an error (so a typo is not silently ignored).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path(__file__).with_name("default_protocol.toml")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v")
KEYS = {
    "": {"settle_seconds", "rest_seconds", "baseline", "stimuli"},
    "baseline": {"eyes_open_seconds", "eyes_closed_seconds"},
    "stimuli": {"files", "seconds", "prompts"},
}


class ProtocolError(ValueError):
    """The protocol file is missing, malformed or names stimuli that cannot be shown."""


@dataclass(frozen=True)
class Block:
    """One block of the session; ``media`` is fixation | eyes-closed | video | image | prompt."""

    name: str
    kind: str  # baseline | stimulus
    seconds: float
    media: str
    instruction: str
    stimulus: str = ""  # file path (video, image) or prompt text

    @property
    def rated(self) -> bool:
        return self.kind == "stimulus"


@dataclass(frozen=True)
class Protocol:
    blocks: tuple[Block, ...]
    settle_seconds: float
    rest_seconds: float
    text: str  # the TOML it was read from (stored in the session file)
    path: str

    @property
    def seconds(self) -> float:
        """Length of the blocks and rests (self-reports excluded)."""
        rated = sum(b.rated for b in self.blocks)
        return self.settle_seconds + sum(b.seconds for b in self.blocks) + rated * self.rest_seconds


def _seconds(table: dict[str, Any], key: str, where: str, allow_zero: bool = False) -> float:
    """The duration ``table[key]``: a finite number > 0 (>= 0 with ``allow_zero``), else ProtocolError naming it."""
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"{where}: '{key}' must be a number of seconds, got {value!r}")
    if not math.isfinite(value):  # TOML allows nan and inf
        raise ProtocolError(f"{where}: '{key}' must be a finite number of seconds, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ProtocolError(f"{where}: '{key}' must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return float(value)


def _check_keys(table: dict[str, Any], section: str, where: str) -> None:
    unknown = sorted(set(table) - KEYS[section])
    if unknown:
        name = f"[{section}]" if section else "top level"
        raise ProtocolError(f"{where}: unknown key(s) {', '.join(unknown)} in {name}; known: "
                            f"{', '.join(sorted(KEYS[section]))}")


def video_seconds(path: Path) -> float:
    """Length of a video as OpenCV reads it (frames / fps); ProtocolError when it cannot be read."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        ok, _ = capture.read()
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    if not ok or frames <= 0 or fps <= 0:
        raise ProtocolError(f"stimulus video {path} cannot be read by OpenCV")
    return float(frames / fps)


def _file_block(index: int, path: Path, seconds: float, where: str) -> Block:
    try:
        path = path.resolve()
        found = path.is_file()
    except (OSError, ValueError):  # a name the file system refuses (NUL, too long)
        found = False
    if not found:
        raise ProtocolError(f"{where}: stimulus file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        import cv2

        if cv2.imread(str(path)) is None:
            raise ProtocolError(f"{where}: stimulus image {path} cannot be read")
        if seconds == 0:
            raise ProtocolError(f"{where}: [stimuli] seconds must be > 0 when images are shown")
        return Block(f"stimulus-{index:02d}", "stimulus", seconds, "image", "Look at the picture.", str(path))
    if suffix in VIDEO_SUFFIXES:
        length = seconds or video_seconds(path)
        if seconds:
            video_seconds(path)  # readable?
        return Block(f"stimulus-{index:02d}", "stimulus", length, "video", "Watch the video.", str(path))
    raise ProtocolError(f"{where}: stimulus {path} is neither an image ({', '.join(IMAGE_SUFFIXES)}) "
                        f"nor a video ({', '.join(VIDEO_SUFFIXES)})")


def load_protocol(path: str | Path | None = None) -> Protocol:
    """Read and check a protocol file (the default one when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.is_file():
        raise ProtocolError(f"protocol file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        config = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:  # RecursionError: deep nesting
        raise ProtocolError(f"{path} is not valid TOML: {exc}") from None
    where = str(path)
    _check_keys(config, "", where)
    baseline, stimuli = config.get("baseline", {}), config.get("stimuli", {})
    for name, table in (("baseline", baseline), ("stimuli", stimuli)):
        if not isinstance(table, dict):
            raise ProtocolError(f"{where}: [{name}] must be a table, got {table!r}")
    _check_keys(baseline, "baseline", where)
    _check_keys(stimuli, "stimuli", where)
    blocks = []
    if baseline.get("eyes_open_seconds", 0):
        blocks.append(Block("baseline-eyes-open", "baseline", _seconds(baseline, "eyes_open_seconds", where),
                            "fixation", "Rest with your eyes open, looking at the cross."))
    if baseline.get("eyes_closed_seconds", 0):
        blocks.append(Block("baseline-eyes-closed", "baseline", _seconds(baseline, "eyes_closed_seconds", where),
                            "eyes-closed", "Rest with your eyes closed until you are told to open them."))
    seconds = _seconds(stimuli, "seconds", where, allow_zero=True) if "seconds" in stimuli else 60.0
    files = stimuli.get("files", [])
    prompts = stimuli.get("prompts", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ProtocolError(f"{where}: [stimuli] files must be a list of file paths")
    if not isinstance(prompts, list) or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise ProtocolError(f"{where}: [stimuli] prompts must be a list of non-empty texts")
    if files:
        for i, name in enumerate(files, 1):
            blocks.append(_file_block(i, path.parent / name, seconds, where))
    else:
        if seconds == 0:
            raise ProtocolError(f"{where}: [stimuli] seconds must be > 0 for recall prompts")
        for i, prompt in enumerate(prompts, 1):
            blocks.append(Block(f"stimulus-{i:02d}", "stimulus", seconds, "prompt", prompt.strip(), prompt.strip()))
    if not any(b.rated for b in blocks):
        raise ProtocolError(f"{where}: the protocol has no stimulus block (give [stimuli] files or prompts)")
    return Protocol(tuple(blocks), _seconds(config, "settle_seconds", where, True) if "settle_seconds" in config
                    else 3.0, _seconds(config, "rest_seconds", where, True) if "rest_seconds" in config else 10.0,
                    text, str(path.resolve()))
