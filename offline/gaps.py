"""A finished run re-tested with a modality lost in bursts, as it is live (turned head, occlusion, bad light).

Each test trial loses ``modality`` in bursts that cover ``fraction`` of its steps. The bursts depend
only on the seed and the trial (its key and length), so every run tested this way loses the same
steps. Each fold's model handles the gaps its own way: a gap-aware model (``models.gaps``) reads
the missing steps as missing (NaN rows, as live); any other model gets the last observed row held
over the gap (the first observed one before any), as a live system would hold the last frame. A
trial that has nothing of the modality is scored with the missing rows left at the training mean.
The result is a run folder (same folds and test trials, test scores replaced), so ``report``,
``compare`` and ``select`` read it like any run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.bundle import load_bundle
from offline.evaluation import evaluate, write_predictions
from offline.report import load_run, write_report
from offline.runner import read_run_trials
from offline.training import predict
from offline.trials import Signal, Trial
from offline.windowing import WindowSet, make_windows

#: Default burst lengths in seconds (uniform): a glance away to a face lost for a while.
BURST_SECONDS = (2.0, 10.0)


def burst_steps(key: str, n_steps: int, rate: float, fraction: float, seed: int = 0,
                burst_seconds: tuple[float, float] = BURST_SECONDS) -> np.ndarray:
    """(n_steps,) True in bursts covering ``round(fraction * n_steps)`` steps, each ``burst_seconds`` long (uniform,
    the last one cut to the share); a function of key, length, seed and burst lengths only."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the lost share must be in [0, 1), got {fraction}")
    if not 0 < burst_seconds[0] <= burst_seconds[1]:
        raise ValueError(f"burst lengths must be 0 < shortest <= longest, got {burst_seconds}")
    digest = hashlib.sha256(f"{seed}:{key}:{n_steps}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    lost = np.zeros(n_steps, dtype=bool)
    target = round(fraction * n_steps)
    while lost.sum() < target:
        length = min(max(1, int(rng.uniform(*burst_seconds) * rate)), target - int(lost.sum()))
        free = np.flatnonzero(~lost)
        start = int(rng.choice(free))
        stop = start
        while stop < n_steps and not lost[stop] and stop - start < length:
            stop += 1
        lost[start:stop] = True
    return lost


def _hold(data: np.ndarray, lost: np.ndarray) -> np.ndarray:
    """Each lost row replaced by the last observed row before it (the first observed one when none is before)."""
    kept = np.flatnonzero(~lost)
    if kept.size == 0:
        return np.full_like(data, np.nan)
    source = np.maximum.accumulate(np.where(~lost, np.arange(lost.size), -1))
    source = np.where(source < 0, kept[0], source)
    return data[source]


def with_gaps(trial: Trial, modality: str, fraction: float, seed: int, gap_aware: bool,
              burst_seconds: tuple[float, float] = BURST_SECONDS) -> Trial:
    """``trial`` with ``modality`` lost in its bursts: NaN rows (gap-aware) or the last observed row held."""
    signal = trial.signals[modality]
    if signal.timestamps is not None:
        raise ValueError(f"{modality} of {trial.key} is irregular frames; gaps are cut on regular feature rows")
    lost = burst_steps(trial.key, signal.data.shape[0], signal.rate, fraction, seed, burst_seconds)
    data = signal.data.astype(np.float32).copy()
    if gap_aware:
        data[lost] = np.nan
    else:
        data = _hold(data, lost)
    return replace(trial, signals={**trial.signals, modality: Signal(data, signal.rate, signal.channels)})


def _fold_scores(run: Path, fold: str, result: dict[str, Any], trials: list[Trial], modality: str, fraction: float,
                 seed: int, hop: float, burst_seconds: tuple[float, float]
                 ) -> tuple[dict[str, Any], WindowSet, dict[str, np.ndarray]]:
    bundle = load_bundle(run / "folds" / fold / "model")
    if modality not in bundle.spec.inputs:
        raise ValueError(f"{run}: {bundle.spec.architecture} does not read {modality}")
    gap_aware = bool(bundle.spec.inputs[modality].params.get("gaps"))
    index = {t.key: i for i, t in enumerate(trials)}
    test = [index[key] for key in result["trials"]["test"]]
    damaged = list(trials)
    for i in test:
        damaged[i] = with_gaps(trials[i], modality, fraction, seed, gap_aware, burst_seconds)
    ws = make_windows(damaged, test, bundle.spec, hop).normalised(bundle.normalisation)
    if not gap_aware:  # a trial with nothing of the modality: rows at the training mean
        ws.inputs[modality] = np.nan_to_num(ws.inputs[modality], nan=0.0)
    predictions = predict(bundle.model, ws, torch.device("cpu"), amp=False)
    scores = evaluate(damaged, ws, predictions, bundle.spec.targets)
    return scores, ws, predictions


def evaluate_with_gaps(run: str | Path, out: str | Path, modality: str = "face", fraction: float = 0.3,
                       seed: int = 0, burst_seconds: tuple[float, float] = BURST_SECONDS) -> dict[str, Any]:
    """Re-test every finished fold of ``run`` with ``modality`` lost in bursts; write and report the run ``out``."""
    run, out = Path(run), Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new folder")
    config, results = load_run(run)
    trials = read_run_trials(config)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for fold, result in results.items():
        scores, ws, predictions = _fold_scores(run, fold, result, trials, modality, fraction, seed,
                                      config["train"]["hop_seconds"], burst_seconds)
        folder = tmp / "folds" / fold
        folder.mkdir(parents=True)
        write_predictions(folder / "predictions.npz", ws, predictions)
        (folder / "result.json").write_text(json.dumps({**result, "scores": scores}, indent=1, default=float))
    gaps = {"from": str(run), "modality": modality, "fraction": fraction, "seed": seed,
            "burst_seconds": list(burst_seconds)}
    (tmp / "config.json").write_text(json.dumps({**config, "gaps": gaps}, indent=1, default=float))
    tmp.rename(out)
    metrics = write_report(out)
    metrics["gaps"] = gaps
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    return metrics
