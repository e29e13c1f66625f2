"""What a live model's output is worth: the state shown wherever its output is shown (``Predictor.state``).

- ``trained``: a learnable network whose weights were fitted to labelled data (a trained bundle);
- ``untrained``: a learnable network with its initial, random weights;
- ``uncalibrated prior``: a fixed map with nothing to learn (``trainable = False``, e.g. the
  face prior's circumplex map of expression probabilities) that has never been scored on rated
  data: its output is a prior, not an estimate known to track valence or arousal;
- ``calibrated``: such a fixed map whose bundle says it was scored on rated data: the manifest's
  provenance names the data in ``scored_on`` and holds the scores in ``metrics`` (both non-empty).
  Nothing in the code base writes ``scored_on`` yet; it is the field a calibration that scores
  a prior on rated sessions is to set.
``Predictor.trained`` (``models.contracts``) stays the plain fact "weights fitted to labelled data", so it is False
for the last two (the session file's ``/predictions/trained`` records it; ``/predictions/model_state`` records the
state).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.contracts import Predictor

TRAINED = "trained"
UNTRAINED = "untrained"
PRIOR = "uncalibrated prior"
CALIBRATED = "calibrated"
MODEL_STATES = (TRAINED, UNTRAINED, PRIOR, CALIBRATED)


def model_state(trainable: bool, trained: bool, provenance: Mapping[str, Any] | None = None) -> str:
    """The state of a model (see the module docstring) from whether it can learn, was trained, and its provenance."""
    if trainable:
        return TRAINED if trained else UNTRAINED
    provenance = provenance or {}
    return CALIBRATED if provenance.get("scored_on") and provenance.get("metrics") else PRIOR


def state_or_trained(state: str, trained: bool) -> str:
    """``state`` when given, else what ``trained`` alone says (for producers that set no state)."""
    return state or (TRAINED if trained else UNTRAINED)


def predictor_state(predictor: Predictor | None) -> str:
    """A predictor's state; "" without a predictor; from ``trained`` when it sets no state (duck-typed ones)."""
    if predictor is None:
        return ""
    return state_or_trained(getattr(predictor, "state", ""), bool(getattr(predictor, "trained", False)))
