"""Paired comparison of two finished runs on the same test subjects: is A better than B, or is it noise?

Two models' means over subjects can differ by less than their spread; the honest question is the
per-subject difference. Both runs must have tested the same subjects on the same trials. For each
target and metric this gives both means, the mean difference A - B with a bootstrap 95 % interval
that resamples subjects (paired), how many subjects A wins, and the Wilcoxon signed-rank p-value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import wilcoxon

from offline.aggregation import bootstrap_ci
from offline.evaluation import REG_METRICS
from offline.report import CLASS_METRICS, load_run, subject_rows

#: Metrics where lower is better (a win is a lower value).
LOWER_IS_BETTER = frozenset({"rmse_subject", "rmse_trial"})


def _paired(a: np.ndarray, b: np.ndarray, lower_is_better: bool) -> dict[str, float]:
    diff = a - b
    low, high = bootstrap_ci(diff)
    wins = int(np.sum(diff < 0) if lower_is_better else np.sum(diff > 0))
    p = float(wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    return {"mean_a": float(a.mean()), "mean_b": float(b.mean()), "mean_diff": float(diff.mean()),
            "ci95_low": low, "ci95_high": high, "a_better": wins, "ties": int(np.sum(diff == 0)),
            "n": int(diff.size), "wilcoxon_p": p}


def compare(run_a: str | Path, run_b: str | Path, metrics: list[str] | None = None) -> dict[str, Any]:
    """Per target and metric, the paired per-subject comparison of ``run_a`` against ``run_b``.

    ``metrics`` limits it to some (e.g. ``["ccc_subject"]``); by default every metric of the target's kind,
    continuous ones under both conventions."""
    run_a, run_b = Path(run_a), Path(run_b)
    (config_a, results_a), (config_b, results_b) = load_run(run_a), load_run(run_b)
    if {f: sorted(r["trials"]["test"]) for f, r in results_a.items()} != \
            {f: sorted(r["trials"]["test"]) for f, r in results_b.items()}:
        raise ValueError(f"{run_a} and {run_b} did not test the same trials in the same folds; a paired comparison "
                         "needs the same test subjects and trials (same dataset, protocol and finished folds)")
    kinds_a, kinds_b = config_a["model"]["targets"], config_b["model"]["targets"]
    common = [t for t in kinds_a if kinds_b.get(t) == kinds_a[t]]
    if not common:
        raise ValueError(f"{run_a} and {run_b} predict no common target ({sorted(kinds_a)} vs {sorted(kinds_b)})")
    out: dict[str, Any] = {"a": str(run_a), "b": str(run_b), "targets": {}}
    for target in common:
        kind = kinds_a[target]
        rows_a = subject_rows(list(results_a.values()), target, kind)
        rows_b = subject_rows(list(results_b.values()), target, kind)
        known = REG_METRICS if kind == "continuous" else CLASS_METRICS
        unknown = sorted(set(metrics or ()) - set(known))
        if unknown:
            raise ValueError(f"{target}: no metric {', '.join(unknown)}; known: {', '.join(known)}")
        out["targets"][target] = {"subjects": [r["subject"] for r in rows_a], "metrics": {
            m: _paired(np.array([r[m] for r in rows_a]), np.array([r[m] for r in rows_b]), m in LOWER_IS_BETTER)
            for m in known if not metrics or m in metrics}}
    return out


def format_comparison(result: dict[str, Any]) -> str:
    """A table: metric, mean A, mean B, A - B [95 % interval], subjects A wins, Wilcoxon p."""
    lines = [f"A = {result['a']}", f"B = {result['b']}"]
    for target, paired in result["targets"].items():
        lines.append(f"{target} (paired over {len(paired['subjects'])} subjects):")
        for m, s in paired["metrics"].items():
            lines.append(f"  {m:<17} A {s['mean_a']:.3f}  B {s['mean_b']:.3f}  A-B {s['mean_diff']:+.3f} "
                         f"[{s['ci95_low']:+.3f}, {s['ci95_high']:+.3f}]  A better in {s['a_better']}/{s['n']}  "
                         f"Wilcoxon p {s['wilcoxon_p']:.3f}")
    return "\n".join(lines)
