"""Command line of subject calibration: ``python -m calibration run|adapt|experiment`` (see ``--help`` of each)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from calibration.profiles import DEFAULT_PROFILES
from offline.engine_options import add_engine_arguments, engine_from
from realtime.cli_options import add_frame_options


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m calibration", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="record a calibration session: baseline, stimulus blocks, SAM self-reports")
    r.add_argument("--subject", required=True, help="subject id (letters, digits, _ . -)")
    r.add_argument("--config", help="protocol file (TOML; default: calibration/default_protocol.toml)")
    r.add_argument("--out", required=True, help="folder for the session file <subject>-<date>.h5")
    r.add_argument("--publish-subject", action="store_true",
                   help="publish (LSL markers) and record the subject id itself; by default a pseudonym under the "
                        "lab key ($EMOLIVE_PSEUDONYM_KEY, default ~/.config/emolive/pseudonym.key)")
    r.add_argument("--eeg", default="brainflow:synthetic", help="EEG source as in app.py (default: %(default)s)")
    r.add_argument("--eeg-stream", help="with --eeg lsl: the LSL stream name")
    r.add_argument("--serial-port", default="")
    r.add_argument("--board-args", default="", metavar="K=V,...")
    r.add_argument("--cam", default="demo", help="camera as in app.py; 'none' records no face (default: %(default)s)")
    r.add_argument("--model", default="face-prior", help="model run (and recorded) during the session")
    r.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    r.add_argument("--name", default="emolive-calibration", help="prefix of the LSL outlets (APP-markers...)")
    r.add_argument("--ratings", default="-", metavar="FILE",
                   help="headless: read the SAM ratings from FILE, one 'valence arousal' line per stimulus "
                        "(default '-': standard input)")
    r.add_argument("--no-gui", action="store_true", help="console presenter and text ratings instead of Qt windows")
    r.add_argument("--full-screen", action="store_true", help="GUI: show the stimuli full screen")
    add_frame_options(r)
    lsl = r.add_mutually_exclusive_group()
    lsl.add_argument("--lsl-config", metavar="PATH", help="liblsl config file")
    lsl.add_argument("--lsl-loopback", action="store_true", help="keep LSL on this machine")

    a = sub.add_parser("adapt", help="adapt a model to a subject from their sessions -> profile bundle")
    a.add_argument("--subject", required=True, help="subject id; sessions recorded under its pseudonym (the lab "
                   "key's) are found too")
    a.add_argument("--sessions", required=True, nargs="+", help="session files or folders of them")
    a.add_argument("--base", required=True, help="checkpoint bundle (.json or folder) or registered model name")
    a.add_argument("--out", help=f"profile folder (default: {DEFAULT_PROFILES}/<subject>)")
    a.add_argument("--mode", default="finetune", choices=("normalise", "finetune", "distill"))
    a.add_argument("--layers", default="head", help="finetune/distill: head | last:N | all (default: %(default)s)")
    a.add_argument("--epochs", type=int, default=30)
    a.add_argument("--lr", type=float, default=1e-3)
    a.add_argument("--batch-size", type=int, default=16)
    a.add_argument("--hop", type=float, default=0.5, help="seconds between training windows")
    a.add_argument("--loss", default="mse", choices=("mse", "ccc"), help="continuous targets (default: %(default)s)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--device", default="cpu")
    a.add_argument("--teacher", default="", metavar="BUNDLE",
                   help="distill: a trained face or fusion bundle as teacher (default: the profile's teacher/ "
                        "bundle, else the face prior); the profile records which was used")
    a.add_argument("--model-set", action="append", default=[], metavar="KEY=JSON",
                   help="with a registered --base: constructor override, e.g. steps=16")

    e = sub.add_parser("experiment", help="adaptation experiments on public datasets")
    e.add_argument("name", choices=("mahnob-adaptation",))
    e.add_argument("--root", required=True, help="MAHNOB-HCI continuous-valence features folder")
    e.add_argument("--out", required=True, help="run folder for the results")
    e.add_argument("--model", default="tcn-eeg", help="registered sequence model (default: %(default)s)")
    e.add_argument("--adapt-fraction", type=float, default=0.5,
                   help="share of each held-out subject's trials (first in presentation order) used to adapt")
    e.add_argument("--set", dest="train_set", action="append", default=[], metavar="KEY=VALUE",
                   help="base training setting (offline.config.TrainConfig), e.g. --set epochs=10")
    e.add_argument("--finetune-epochs", type=int, default=20)
    e.add_argument("--finetune-lr", type=float, default=1e-3)
    e.add_argument("--subjects", nargs="*", help="held-out subjects to run (default: all)")
    add_engine_arguments(e, "subjects")
    return p


def _run(args: argparse.Namespace) -> int:
    from calibration.protocol import load_protocol
    from calibration.pseudonym import recorded_id
    from realtime.cli_options import configure_lsl, parse_board_args

    subject = recorded_id(args.subject, args.publish_subject)  # a malformed id fails here
    protocol = load_protocol(args.config)  # a bad protocol fails before any device is opened
    if args.record_frames and args.cam == "none":
        from calibration.session import SessionError

        raise SessionError("--record-frames needs a camera; --cam is none")
    configure_lsl(args)
    from calibration.session import run_session
    from realtime.pipeline import Pipeline, PipelineConfig

    config = PipelineConfig(eeg=None if args.eeg == "none" else args.eeg, eeg_stream=args.eeg_stream,
                            serial_port=args.serial_port, board_args=parse_board_args(args.board_args),
                            camera=args.cam, model=args.model, device=args.device, app_name=args.name,
                            replay_loop=True)
    print(f"protocol {protocol.path}: {len(protocol.blocks)} blocks, about {protocol.seconds / 60:.1f} min "
          "plus self-reports", flush=True)
    frames = (args.frame_scale, args.frame_fps) if args.record_frames else None

    def log(text: str) -> None:
        print(text, flush=True)

    if args.no_gui:
        from calibration.presenter import ConsolePresenter
        from calibration.ratings import TextRater

        answers = sys.stdin if args.ratings == "-" else open(args.ratings, encoding="utf-8")  # noqa: SIM115
        path = run_session(Pipeline(config), protocol, subject, args.out, ConsolePresenter(), TextRater(answers),
                           log=log, frames=frames)
    else:
        from calibration.qt_presenter import QtPresenter
        from calibration.qt_session import run_qt_session

        presenter = QtPresenter(args.full_screen)
        path = run_qt_session(Pipeline(config), protocol, subject, args.out, presenter, frames, log)
        presenter.close()
    print(json.dumps({"session": str(path)}), flush=True)
    return 0


def _adapt(args: argparse.Namespace) -> int:
    from calibration.adapt import AdaptSettings, adapt, load_base
    from calibration.profiles import profile_dir
    from calibration.pseudonym import match_recorded
    from offline.config import parse_model_overrides
    from offline.datasets.sessions import session_files
    from realtime.session_file import read_session

    sessions = [f for s in args.sessions for f in session_files(s)]
    if not sessions:
        raise SystemExit(f"error: no session file in {', '.join(args.sessions)}")
    eeg = read_session(sessions[0]).streams.get("eeg")
    base = load_base(args.base, eeg.channels if eeg is not None else (), parse_model_overrides(args.model_set))
    settings = AdaptSettings(args.mode, args.layers, args.epochs, args.lr, args.batch_size, args.hop, args.loss,
                             args.seed, args.device, args.teacher)
    out = Path(args.out) if args.out else profile_dir(args.subject)
    recorded = {str(read_session(f).attrs.get("subject", "")) for f in sessions}
    manifest = adapt(match_recorded(args.subject, recorded), sessions, base, out, settings)
    print(json.dumps({"profile": str(manifest)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from calibration.adapt import AdaptationError
    from calibration.profiles import ProfileError
    from calibration.protocol import ProtocolError
    from calibration.ratings import RatingError
    from calibration.session import SessionError
    from models.manifest import BundleError
    from realtime.sources import SourceError

    try:
        if args.command == "run":
            return _run(args)
        if args.command == "adapt":
            return _adapt(args)
        from calibration.experiment import run_experiment
        from offline.engines import JobsFailed

        try:
            run_experiment(args, engine_from(args))
        except JobsFailed as exc:
            print(f"calibration experiment: {exc}; the table covers the finished subjects; run the same command "
                  "again to retry the others", file=sys.stderr)
            return 1
        return 0
    except (ProtocolError, ProfileError, RatingError, SessionError, SourceError, AdaptationError, BundleError,
            FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
