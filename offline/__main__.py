"""Command line of the offline side: ``python -m offline train|tune|report|select|stack|compare|gaps|deploy``."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from offline import datasets
from offline.config import parse_model_overrides, parse_overrides
from offline.engine_options import add_engine_arguments, engine_from
from offline.evaluation import REG_METRICS
from offline.splits import PROTOCOLS
from offline.tuning import SAMPLERS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m offline", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train and evaluate a registered model on a dataset under a protocol")
    _run_arguments(t)
    t.add_argument("--tuned", default="", metavar="SEARCH",
                   help="start from the settings a finished search chose (its chosen.json); --set/--model-set win")
    u = sub.add_parser("tune", help="nested hyper-parameter search: per outer fold, optuna proposes settings scored "
                                    "on validation subjects only; the best by validation is that fold's result")
    _run_arguments(u)
    u.add_argument("--space", action="append", required=True, metavar="KEY=KIND:ARGS",
                   help="a searched setting: lr=log:1e-4:1e-2, epochs=int:5:30, dropout=float:0:0.5, "
                        "model.d_model=choice:16,32 (model. = a --model-set argument); repeatable")
    u.add_argument("--trials", type=int, required=True, help="proposals per outer fold")
    u.add_argument("--batch", type=int, default=4,
                   help="proposals asked per fold before any is scored (fixed, so results do not depend on the "
                        "engine; default 4)")
    u.add_argument("--sampler", default="tpe", choices=SAMPLERS, help="optuna sampler (grid: every choice)")
    u.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    r = sub.add_parser("report", help="(re)write metrics.json, CSVs and plots of a run folder")
    r.add_argument("run")
    s = sub.add_parser("select", help="per fold, take the candidate run with the best validation score (nested "
                                      "selection of settings; test scores are not read)")
    s.add_argument("runs", nargs="+", help="finished run folders with the same data, protocol and folds")
    s.add_argument("--out", required=True, help="new folder for the selection (reported like a run)")
    k = sub.add_parser("stack", help="decision-level fusion of unimodal runs (e.g. tcn-face and tcn-eeg): per fold, "
                                     "blend weights chosen on validation subjects only; reported like a run")
    k.add_argument("runs", nargs="+", help="finished unimodal TCN runs with the same data, protocol and folds")
    k.add_argument("--out", required=True, help="new folder for the stacked run")
    k.add_argument("--metric", default="ccc_subject", choices=["ccc_subject", "ccc_trial"],
                   help="validation score the weights maximise (default: the thesis's concatenated CCC)")
    k.add_argument("--lost", default="auto", help="modality whose lost steps get their own weights, chosen on "
                                                  "validation trials with it lost in bursts (auto: face; none)")
    k.add_argument("--step", type=float, default=0.05, help="grid step of the weights (default 0.05)")
    k.add_argument("--gap-handling", default="validation", choices=["validation", "hold", "switch"],
                   help="over a lost modality: hold its last row (present weights) or switch to the lost weights; "
                        "validation (default): per fold, the better of the two on the damaged validation trials")
    c = sub.add_parser("compare", help="paired per-subject comparison of two runs on the same test trials (mean "
                                       "difference with a bootstrap interval, wins, Wilcoxon p)")
    c.add_argument("run_a")
    c.add_argument("run_b")
    c.add_argument("--json", default=None, help="also write the comparison to this JSON file")
    c.add_argument("--metric", action="append", default=[], metavar="NAME",
                   help="pair on this metric only (repeatable), e.g. ccc_subject (the thesis's: a subject's trials "
                        "concatenated) or ccc_trial (per trial, averaged per subject); default: all")
    g = sub.add_parser("gaps", help="re-test a finished run with a modality lost in bursts (the same bursts for every "
                                    "run), written as a new run folder that report/compare read")
    g.add_argument("run")
    g.add_argument("--out", required=True, help="new folder for the re-tested run")
    g.add_argument("--modality", default="face")
    g.add_argument("--fraction", type=float, default=0.3, help="share of each test trial's steps lost (default 0.3)")
    g.add_argument("--seed", type=int, default=0, help="which bursts (the same seed gives every run the same ones)")
    g.add_argument("--burst-seconds", type=float, nargs=2, default=[2.0, 10.0], metavar=("SHORTEST", "LONGEST"),
                   help="burst lengths, uniform between the two (default 2 10)")
    d = sub.add_parser("deploy", help="copy a run's model bundle atomically into the live app's model folder")
    d.add_argument("run")
    d.add_argument("--to", required=True, help="target folder (the live app's --model DIR / hot-swap folder)")
    d.add_argument("--name", default=None, type=_bundle_name,
                   help="bundle name in the target: 1-64 letters, digits, _ . - (default: the run folder's name)")
    return p


def _run_arguments(p: argparse.ArgumentParser) -> None:
    """What train and tune share: the data, the model, the protocol, the run folder and the engine."""
    p.add_argument("--dataset", required=True, choices=datasets.names(),
                   help="a public dataset, or calibration: the rated blocks of the session files under --root")
    p.add_argument("--root", required=True, help="the dataset folder as distributed (calibration: session folder)")
    p.add_argument("--sessions", nargs="+", default=[], metavar="PATH",
                   help="calibration session files or folders whose rated blocks join the dataset's trials "
                        "(EEG channels matched by name; --subjects does not filter them)")
    p.add_argument("--model", required=True, help="registered model name (models.registry.names())")
    p.add_argument("--protocol", required=True, choices=PROTOCOLS)
    p.add_argument("--test-subjects", nargs="*", default=[], help="holdout: subject ids to test on (e.g. s01 P02)")
    p.add_argument("--out", required=True, help="run folder (runs/NAME); an existing one is resumed")
    p.add_argument("--set", dest="train_set", action="append", default=[], metavar="KEY=VALUE",
                   help="training setting override, e.g. --set epochs=5 --set lr=1e-3 (see offline.config)")
    p.add_argument("--model-set", action="append", default=[], metavar="KEY=JSON",
                   help="model constructor override, e.g. --model-set d_model=16")
    p.add_argument("--device", default=None, help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--subjects", nargs="*", default=None, help="read only these subjects")
    p.add_argument("--source", default=None, help="DEAP: preprocessed | original | auto")
    p.add_argument("--no-final", action="store_true", help="skip training the final deployable model")
    p.add_argument("--face-cache", default="", help="folder caching face-video embeddings (default OUT/face_cache)")
    p.add_argument("--max-folds", type=int, default=0, help="run only the first N folds (a documented subset)")
    p.add_argument("--distill-from", default="", metavar="RUN",
                   help="cross-modal distillation: the finished run (e.g. a tcn-face run on the same data and "
                        "protocol) whose fold models teach this one; needs --set distill_weight=W (thesis ~0.4)")
    add_engine_arguments(p, "folds")


def _spec(args: argparse.Namespace) -> Any:
    """The RunSpec of a train or tune command line (with a search's chosen settings under --tuned)."""
    from offline.runner import RunSpec

    overrides: dict[str, str] = {}
    model_overrides: dict[str, Any] = {}
    if getattr(args, "tuned", ""):
        from offline.tuning import tuned_overrides

        overrides, model_overrides = tuned_overrides(args.tuned)
    overrides |= parse_overrides(args.train_set)
    model_overrides |= parse_model_overrides(args.model_set)
    if args.device:
        overrides["device"] = args.device
    options: dict[str, Any] = {}
    if args.subjects:
        options["subjects"] = args.subjects
    if args.source:
        options["source"] = args.source
    if args.sessions:
        options["sessions"] = [str(Path(s).resolve()) for s in args.sessions]
    return RunSpec(args.dataset, args.root, args.model, args.protocol, args.out, list(args.test_subjects),
                   model_overrides, overrides, options, not args.no_final, args.max_folds, args.face_cache,
                   max(1, args.workers), args.distill_from)


def _bundle_name(text: str) -> str:
    """argparse type of ``deploy --name``: the shared safe-name rule (models.identifiers), as a usage error."""
    from models.identifiers import UnsafeNameError, check_name

    try:
        return check_name(text, "bundle name")
    except UnsafeNameError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _headline(metrics: dict[str, Any]) -> str:
    lines = []
    if missing := metrics.get("folds_missing"):
        lines.append(f"PARTIAL: {metrics['n_folds']} of {metrics['folds_planned']} folds finished; the summary below "
                     f"covers those only (missing: {', '.join(missing)})")
    for target, m in metrics["targets"].items():
        s = m["summary"]["per_subject"]
        keys = REG_METRICS if m["kind"] == "continuous" else ("accuracy", "balanced_accuracy", "f1")
        parts = [f"  {k:<17} {s[k]['mean']:.3f} +/- {s[k]['std']:.3f} [{s[k]['ci95_low']:.3f}, {s[k]['ci95_high']:.3f}]"
                 for k in keys]
        lines.append(f"{target}: mean +/- std over subjects [bootstrap 95 % interval], n={s[keys[0]]['n']}")
        lines.extend(parts)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("train", "tune"):
        from offline.engines import JobsFailed

        engine = engine_from(args)
        try:
            if args.command == "train":
                from offline.runner import Run

                metrics = Run(_spec(args)).execute(engine)
            else:
                from offline.tuning import Search, parse_param, tune

                metrics = tune(Search(_spec(args), [parse_param(t) for t in args.space], args.trials, args.batch,
                                      args.sampler, args.seed), engine)
                print(f"chosen settings: {Path(args.out) / 'chosen.json'} (train --tuned {args.out}); "
                      f"every proposal: {Path(args.out) / 'trials.csv'}")
        except JobsFailed as exc:
            if exc.metrics:
                print(_headline(exc.metrics))
            print(f"offline {args.command}: {exc}; the report covers the finished folds and names the missing "
                  "ones; run the same command again to retry them", file=sys.stderr)
            return 1
        print(_headline(metrics))
        print(f"report: {Path(args.out) / 'metrics.json'}")
    elif args.command == "report":
        from offline.report import write_report

        print(_headline(write_report(args.run)))
    elif args.command == "select":
        from offline.selection import select

        metrics = select(args.runs, args.out)
        chosen = Counter(metrics["selection"]["chosen"].values())
        print(_headline(metrics))
        print("folds chosen: " + ", ".join(f"{run} {n}" for run, n in chosen.most_common()))
    elif args.command == "stack":
        from offline.stacking import stack

        metrics = stack(args.runs, args.out, args.metric, None if args.lost == "none" else args.lost, args.step,
                        args.gap_handling)
        print(_headline(metrics))
        for name in ("weights", "lost_weights"):
            mean = metrics["stacking"][f"mean_{name}"]
            print(f"mean {name.replace('_', ' ')} over folds: " + ", ".join(f"{m} {w:.2f}" for m, w in mean.items()))
        if "gap_handling" in metrics["stacking"]:
            handlings = list(metrics["stacking"]["gap_handling"].values())
            print(f"lost {metrics['stacking']['lost']} ({metrics['stacking']['gap_handling_by']}): held in "
                  f"{handlings.count('hold')} of {len(handlings)} folds, lost weights in the others")
    elif args.command == "compare":
        from offline.comparison import compare, format_comparison

        result = compare(args.run_a, args.run_b, args.metric)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
        print(format_comparison(result))
    elif args.command == "gaps":
        from offline.gaps import evaluate_with_gaps

        print(_headline(evaluate_with_gaps(args.run, args.out, args.modality, args.fraction, args.seed,
                                           tuple(args.burst_seconds))))
    elif args.command == "deploy":
        from models.identifiers import UnsafeNameError
        from offline.export import deploy

        try:
            path = deploy(Path(args.run), Path(args.to), args.name)
        except UnsafeNameError as exc:  # the run folder's own name, when no --name is given
            raise SystemExit(f"offline deploy: {exc}; give another with --name") from None
        print(json.dumps({"deployed": str(path)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
