"""Turns the recent predictions into plain arrays for plotting (times, values, confidences)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from realtime.prediction import Prediction


@dataclass(frozen=True)
class Series:
    """Per prediction in the window, oldest first: time and per-target model / face-only values and confidence."""

    time: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    face_valence: np.ndarray
    face_arousal: np.ndarray
    valence_confidence: np.ndarray  # 0 (chance) .. 1 (certain), NaN where the model gives none
    arousal_confidence: np.ndarray


def task_confidence(prediction: Prediction, task: str) -> float:
    """Confidence for one target: the class probabilities' margin over chance, else the model's own figure."""
    probs = prediction.probabilities.get(task)
    if probs is not None and len(probs) > 1:
        p = np.asarray(probs, dtype=float)
        chance = 1.0 / len(p)
        return float(np.clip((p.max() - chance) / (1.0 - chance), 0.0, 1.0))
    if prediction.confidence is not None and math.isfinite(prediction.confidence):
        return float(np.clip(prediction.confidence, 0.0, 1.0))
    return float("nan")


def recent(history: Sequence[Prediction], t_start: float) -> list[Prediction]:
    """Predictions with time > t_start, oldest first (walks back from the newest only as far as needed)."""
    out: list[Prediction] = []
    for p in reversed(history):
        if p.time <= t_start:
            break
        out.append(p)
    out.reverse()
    return out


def series(predictions: Sequence[Prediction]) -> Series:
    def col(values: list[float]) -> np.ndarray:
        return np.asarray(values, dtype=float)

    return Series(
        time=col([p.time for p in predictions]),
        valence=col([p.valence for p in predictions]),
        arousal=col([p.arousal for p in predictions]),
        face_valence=col([p.face_valence for p in predictions]),
        face_arousal=col([p.face_arousal for p in predictions]),
        valence_confidence=col([task_confidence(p, "valence") for p in predictions]),
        arousal_confidence=col([task_confidence(p, "arousal") for p in predictions]),
    )
