"""Self-reports on the Self-Assessment Manikin (SAM) scales: valence and arousal, 1 to 9.

``TextRater`` reads them from a text stream: standard input when the session runs headless
(the researcher or the subject types "7 3"), or a file of scripted answers (one line per rated
block, for tests and replays). The Qt dialog is in ``calibration.rating_dialog``.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from calibration.protocol import Block

SAM_MIN, SAM_MAX = 1, 9
SAM_HELP = ("valence 1 (very unpleasant) .. 9 (very pleasant), arousal 1 (very calm) .. 9 (very excited); "
            "type two numbers, e.g. '7 3'")
_NUMBERS = re.compile(r"^\s*(?:valence\s*=\s*)?(\d+)\s*[,;\s]\s*(?:arousal\s*=\s*)?(\d+)\s*$", re.IGNORECASE)


class RatingError(ValueError):
    """A self-report is malformed, out of range, or missing."""


@dataclass(frozen=True)
class Rating:
    valence: int
    arousal: int
    response_seconds: float  # from the question to the answer


def parse_rating(text: str) -> tuple[int, int]:
    """'7 3', '7,3' or 'valence=7 arousal=3' -> (7, 3); RatingError saying what is wrong otherwise."""
    match = _NUMBERS.match(text)
    if not match:
        raise RatingError(f"cannot read a rating from {text.strip()!r}: {SAM_HELP}")
    valence, arousal = int(match.group(1)), int(match.group(2))
    for name, value in (("valence", valence), ("arousal", arousal)):
        if not SAM_MIN <= value <= SAM_MAX:
            raise RatingError(f"{name} {value} is outside the SAM scale {SAM_MIN}..{SAM_MAX}")
    return valence, arousal


class TextRater:
    """Asks on ``prompt_to`` and reads answers from ``answers``; re-asks after a bad answer when interactive."""

    def __init__(self, answers: TextIO | None = None, prompt_to: TextIO | None = None,
                 interactive: bool | None = None) -> None:
        self.answers = answers if answers is not None else sys.stdin
        self.prompt_to = prompt_to if prompt_to is not None else sys.stdout
        self.interactive = self.answers.isatty() if interactive is None else interactive

    def rate(self, block: Block) -> Rating:
        t0 = time.monotonic()
        while True:
            print(f"rate {block.name}: {SAM_HELP}", file=self.prompt_to, flush=True)
            line = self.answers.readline()
            if not line:
                raise RatingError(f"no rating for {block.name}: the ratings input ended")
            try:
                valence, arousal = parse_rating(line)
            except RatingError as exc:
                if not self.interactive:
                    raise RatingError(f"rating for {block.name}: {exc}") from None
                print(f"  {exc}", file=self.prompt_to, flush=True)
                continue
            return Rating(valence, arousal, time.monotonic() - t0)
