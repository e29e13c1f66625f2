"""The hot-swap policy: whether a loaded candidate model may replace the running one, and if not, why.

One rule for every way a model reaches the running pipeline (a bundle dropped into the watched
folder, ``realtime.hot_swap``; "Load checkpoint…" in the dashboard): the live streams can feed it
(``check_predictor``), one trial forward pass on the current windows runs (``try_predictor``), and
that pass gives finite values for every target; only then is it swapped in (``swap_predictor``,
which takes effect between two windows). A candidate whose inputs have no usable window yet is
neither accepted nor refused: it may be tried again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from models.contracts import ModelOutput, Predictor
from models.transforms import MissingModality


class SwapTarget(Protocol):
    """What the policy needs from the pipeline."""

    def check_predictor(self, predictor: Predictor) -> str: ...
    def try_predictor(self, predictor: Predictor) -> ModelOutput: ...
    def swap_predictor(self, predictor: Predictor) -> None: ...


@dataclass(frozen=True)
class SwapVerdict:
    """The policy's answer: swapped in, refused (``reason``), or ``retry`` later (inputs not available yet)."""

    accepted: bool
    reason: str = ""  # why not, when not accepted
    retry: bool = False


def non_finite_outputs(predictor: Predictor, output: ModelOutput) -> str:
    """Empty when a trial forward pass gave finite values for every target, else the reason to refuse it."""
    bad = [t for t in predictor.spec.targets if not math.isfinite(getattr(output, t, 0.0))]
    return f"its trial forward pass gave non-finite {', '.join(bad)}" if bad else ""


class HotSwapPolicy:
    """Vets a candidate against ``target`` (check, one trial pass, finite outputs) and swaps it in if it passes."""

    def __init__(self, target: SwapTarget) -> None:
        self.target = target

    def vet(self, predictor: Predictor) -> SwapVerdict:
        """Whether ``predictor`` may replace the running model (nothing is changed)."""
        problem = self.target.check_predictor(predictor)
        if problem:
            return SwapVerdict(False, problem)
        try:
            output = self.target.try_predictor(predictor)
        except MissingModality as exc:
            return SwapVerdict(False, f"cannot try {predictor.model_id} yet: {exc}", retry=True)
        except Exception as exc:  # any failure of the trial pass is a refusal with its reason
            return SwapVerdict(False, f"its trial forward pass failed: {type(exc).__name__}: {exc}")
        bad = non_finite_outputs(predictor, output)
        return SwapVerdict(False, bad) if bad else SwapVerdict(True)

    def swap_in(self, predictor: Predictor) -> SwapVerdict:
        """``vet`` it, then swap it in; a swap refused because the streams changed since the check is refused."""
        verdict = self.vet(predictor)
        if not verdict.accepted:
            return verdict
        try:
            self.target.swap_predictor(predictor)
        except ValueError as exc:  # IncompatibleStreams
            return SwapVerdict(False, str(exc))
        return verdict
