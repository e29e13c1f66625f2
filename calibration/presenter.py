"""Showing the blocks: a console presenter for headless sessions, and a Qt window for the subject.

The session calls ``present(block, index, total)`` (the stimulus appears; the onset marker follows at once),
``clear()`` (offset) and ``show_rest()`` before the rest between blocks; its driver does the waiting
(``calibration.session``). In a headless session the researcher presents the stimuli (the console
says what and for how long).
"""

from __future__ import annotations

import sys
from typing import TextIO

from calibration.protocol import Block


class ConsolePresenter:
    """Prints what to present."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stdout

    def present(self, block: Block, index: int, total: int) -> None:
        what = f" {block.stimulus}" if block.stimulus and block.media != "prompt" else ""
        print(f"[{index}/{total}] {block.name} ({block.media}{what}, {block.seconds:g} s): {block.instruction}",
              file=self.out, flush=True)

    def clear(self) -> None:
        print("  block over", file=self.out, flush=True)

    def show_rest(self, seconds: float) -> None:
        print(f"  rest {seconds:g} s", file=self.out, flush=True)

    def close(self) -> None:
        pass
