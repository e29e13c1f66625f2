"""Class names of the classifiers, and where each class sits on the valence-arousal plane.

Names: SEED-V's five emotions in the order of its labels (DATASETS.md: 0 disgust, 1 fear, 2 sad,
3 neutral, 4 happy), which ``cmt-seedv`` and ``r2gfanet`` predict; a binary target's two classes are
"low" and "high" (rating >= 5 is high, ``models.contracts.ModelSpec``).

Places: J. A. Russell's circumplex of affect ("A circumplex model of affect", J. Pers. Soc. Psychol.
39(6), 1161-1178, 1980): a point at ``angle`` is (valence, arousal) = (cos angle, sin angle), the angle
counter-clockwise from "pleasure" (0 deg), "arousal" at 90 deg. Emotion words take the angles of the
matching adjectives in Russell's circular scaling of 28 affect words: happy 7.8, astonished 69.8 (for
surprise), angry 99.0, afraid 116.0 (for fear), sad 207.5. "Disgusted" is not among the 28 words; it
is put at 135 deg, the paper's "distress" anchor (unpleasant, moderately aroused), which is our
choice. Neutral is the centre (0, 0). The two classes of a binary valence or arousal target are the
poles of that axis, Russell's anchors: valence high = pleasure (0 deg), low = misery (180 deg);
arousal high = arousal (90 deg), low = sleepiness (270 deg). Any other name (e.g. "class0", what
``numbered_classes`` calls classes nobody named) has no place.
"""

from __future__ import annotations

import math

#: SEED-V's emotions, in the order of its labels 0-4.
SEEDV_EMOTIONS: tuple[str, ...] = ("disgust", "fear", "sad", "neutral", "happy")
#: A binary target's classes, in the order of its logits.
BINARY_CLASSES: tuple[str, ...] = ("low", "high")
#: Circumplex angles in degrees of the emotion words (see the module docstring); neutral has none.
CIRCUMPLEX_DEGREES: dict[str, float] = {
    "happy": 7.8,
    "surprise": 69.8,
    "angry": 99.0,
    "fear": 116.0,
    "disgust": 135.0,
    "sad": 207.5,
}
NEUTRAL = "neutral"
#: Angles of the poles of a binary valence or arousal target's classes.
AXIS_POLES: dict[tuple[str, str], float] = {
    ("valence", "high"): 0.0,
    ("valence", "low"): 180.0,
    ("arousal", "high"): 90.0,
    ("arousal", "low"): 270.0,
}


def numbered_classes(n: int) -> tuple[str, ...]:
    """Names for ``n`` classes nobody named: "class0", "class1"..."""
    return tuple(f"class{i}" for i in range(n))


def circumplex_point(task: str, name: str) -> tuple[float, float] | None:
    """(valence, arousal) of class ``name`` of target ``task`` in -1..1, or None when it has no place."""
    if name == NEUTRAL:
        return 0.0, 0.0
    degrees = CIRCUMPLEX_DEGREES.get(name, AXIS_POLES.get((task, name)))
    if degrees is None:
        return None
    angle = math.radians(degrees)
    return math.cos(angle), math.sin(angle)
