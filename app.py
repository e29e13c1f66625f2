"""EmoLive: live valence and arousal from EEG and a webcam.

Reads EEG (LSL, a BrainFlow board, or a replayed file) and a camera, runs a model every hop,
publishes predictions on LSL, optionally records the session, and shows the dashboard (or a
one-line status every second with --no-gui).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from realtime.cli_options import add_frame_options, configure_lsl, count, parse_board_args, positive
from realtime.pipeline_config import PipelineConfig

if TYPE_CHECKING:  # the pipeline is imported once LSL is configured (configure_lsl)
    from realtime.pipeline import Pipeline

EXAMPLES = """examples:
  python app.py --eeg brainflow:synthetic --cam demo                 built-in sources, dashboard
  python app.py --eeg lsl:name=MyHeadset,host=lab-pc --cam 0 --record sessions/s01.h5
  python app.py --eeg replay:recording.bdf --cam none --no-gui --duration 60
  python app.py --eeg brainflow:cyton --serial-port /dev/ttyUSB0 --model runs/tcn/best.json
  python app.py --model live/ --weights-dir live/     start with the newest bundle in live/, swap in new ones
  python app.py --subject S01                          the subject's calibrated profile (profiles/S01/)

EEG sources (--eeg):
  lsl                       the one LSL stream of type EEG on the network (several: an error listing them)
  lsl:name=X,type=Y,source_id=Z,host=H
                            the one LSL stream matching every key given (any subset); a lost stream is found
                            again by its source_id
  brainflow:synthetic       BrainFlow's synthetic board (16 channels, 250 Hz)
  brainflow:playback:FILE   a BrainFlow recording on the playback board (recorded by --board-args master_board=NAME,
                            default synthetic)
  brainflow:BOARD           a real board by its BrainFlow name (cyton, ganglion, muse_s, ...), with --serial-port
                            and --board-args key=value,... (ip_address, ip_port, mac_address, serial_number, ...)
  replay:FILE               an EDF, BDF, FIF, session (.h5) or XDF file played in real time (looped) through LSL
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="app.py", description=__doc__, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("inputs")
    src.add_argument("--eeg", default="brainflow:synthetic", metavar="SOURCE",
                     help="EEG source, see below; 'none' for no EEG (default: %(default)s)")
    src.add_argument("--eeg-stream", metavar="NAME", help="with --eeg lsl: the LSL stream name to read (lsl:name=NAME)")
    src.add_argument("--eye", default="none", metavar="SOURCE",
                     help="eye tracker: demo (synthetic, no hardware), lsl[:name=...,type=...,source_id=...,host=...] "
                          "(type Gaze by default: Pupil Labs, Tobii) or none (default: %(default)s)")
    src.add_argument("--markers", metavar="lsl[:K=V,...]",
                     help="subscribe to a stimulus-marker stream (type Markers, or lsl:name=...,type=...,source_id=..."
                          ",host=...): recorded, drawn on the traces, usable as calibration blocks")
    src.add_argument("--serial-port", default="", metavar="PORT", help="serial port of a BrainFlow board")
    src.add_argument("--board-args", type=parse_board_args, default={}, metavar="K=V,...",
                     help="other BrainFlow input parameters")
    src.add_argument("--cam", default="demo", metavar="CAMERA",
                     help="camera: a device index (0), a video file, a URL, 'demo' (built-in face video) or 'none' "
                          "(default: %(default)s)")
    src.add_argument("--face-redetect", type=count, default=PipelineConfig.face_redetect, metavar="N",
                     help="run the face detector (MTCNN) on one camera frame in N and follow the face by optical "
                          "flow in between; 1 detects on every frame (default: %(default)s)")
    mdl = p.add_argument_group("model")
    mdl.add_argument("--model", metavar="NAME|PATH",
                     help="registered model name or checkpoint (.json manifest, or a folder: its newest bundle) "
                          "(default: face-prior)")
    mdl.add_argument("--weights-dir", metavar="DIR",
                     help="watch DIR for new checkpoint bundles (e.g. from 'python -m offline deploy') and swap "
                          "each one in after checking it; a refused bundle leaves the running model in place")
    mdl.add_argument("--subject", metavar="ID",
                     help="run the subject's calibrated profile (the newest bundle in PROFILES/ID, made by "
                          "'python -m calibration adapt')")
    mdl.add_argument("--profiles", default="profiles", metavar="DIR",
                     help="folder of subject profiles (default: %(default)s)")
    mdl.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                     help="where the model runs; auto picks CUDA when present (default: %(default)s)")
    mdl.add_argument("--backend", default="auto", choices=("auto", "torch", "onnx"),
                     help="forward pass: ONNX Runtime or torch; auto takes ONNX Runtime on the CPU when installed and "
                          "the model exports, torch otherwise (default: %(default)s)")
    mdl.add_argument("--hop", type=positive, default=0.25, metavar="SECONDS",
                     help="time between predictions (default: %(default)s)")
    out = p.add_argument_group("outputs")
    out.add_argument("--record", metavar="PATH", help="record the session to this file: HDF5, or XDF when it ends in "
                     ".xdf (a new file, unless --overwrite)")
    out.add_argument("--overwrite", action="store_true", help="with --record: replace an existing session file")
    out.add_argument("--publish-subject", action="store_true",
                     help="calibration sessions from the dashboard publish (LSL markers) and record the subject id "
                          "itself instead of its pseudonym")
    add_frame_options(out)
    out.add_argument("--name", default="emolive", metavar="APP",
                     help="prefix of the LSL outlets APP-predictions and APP-markers (default: %(default)s)")
    out.add_argument("--no-gui", action="store_true", help="run headless, printing a status line every second")
    out.add_argument("--screenshot", metavar="PNG",
                     help="save a screenshot of the dashboard just before --duration ends it")
    out.add_argument("--duration", type=positive, metavar="SECONDS", help="stop after this long (default: Ctrl-C)")
    lsl = p.add_argument_group("LSL network")
    lsl.add_argument("--lsl-config", metavar="PATH",
                     help="liblsl config file (default: LSL's own lookup, so streams from other machines are seen)")
    lsl.add_argument("--lsl-loopback", action="store_true",
                     help="keep LSL on this machine (the project's loopback config)")
    return p


def run_headless(pipeline: Pipeline, duration: float | None, stop: threading.Event) -> None:
    """A short status line every second; a reason (a problem, a swap, a stopped recording) once, when it changes."""
    from realtime.status import format_status, status_reasons

    t0 = time.monotonic()
    shown: dict[str, str] = {}
    while not stop.wait(1.0):
        status = pipeline.status()
        reasons = status_reasons(status)
        for topic, text in reasons.items():
            if shown.get(topic) != text:
                print(f"  {topic} {text}", flush=True)
        for topic in set(shown) - set(reasons):
            print(f"  {topic} resolved", flush=True)
        shown = reasons
        print(format_status(status), flush=True)
        if duration is not None and time.monotonic() - t0 >= duration:
            break


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.screenshot and args.duration is None:
        parser.error("--screenshot needs --duration (the screenshot is taken just before the run ends)")
    if args.lsl_loopback and args.lsl_config:
        raise SystemExit("error: give --lsl-config or --lsl-loopback, not both")
    if args.subject and args.model:
        raise SystemExit("error: give --model or --subject, not both")
    if args.record_frames and (not args.record or args.cam == "none"):
        raise SystemExit("error: --record-frames needs --record PATH and a camera (--cam is "
                         f"{args.cam!r}{'' if args.record else ', --record not given'})")
    if args.record_frames and args.record.lower().endswith(".xdf"):
        raise SystemExit("error: --record-frames records camera frames to HDF5 only; record to a .h5 file")
    if args.record and os.path.exists(args.record) and not args.overwrite:
        from realtime.recorder import existing_session_message

        print(f"error: {existing_session_message(args.record)}", file=sys.stderr)
        return 2
    configure_lsl(args)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    model = args.model or "face-prior"
    if args.subject:
        from calibration.profiles import ProfileError, profile_manifest

        try:
            model = str(profile_manifest(args.subject, args.profiles))
        except ProfileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    from dashboard import display_available, run_dashboard
    from dashboard.qt_platform import qt_platform_problem

    # Qt aborts the process when it cannot open a window: probe in a child first, before any source is opened
    problem = None if args.no_gui or not display_available() else qt_platform_problem()
    if problem:
        print(f"error: the dashboard cannot start: {problem}", file=sys.stderr)
        return 2
    from models.contracts import IncompatibleStreams
    from realtime.pipeline import Pipeline
    from realtime.sources import SourceError

    config = PipelineConfig(
        eeg=None if args.eeg == "none" else args.eeg, eeg_stream=args.eeg_stream, serial_port=args.serial_port,
        board_args=args.board_args, camera=args.cam, model=model, device=args.device, backend=args.backend,
        hop=args.hop, face_redetect=args.face_redetect,
        app_name=args.name, record=args.record, overwrite=args.overwrite, publish_subject=args.publish_subject,
        markers=args.markers, eye=None if args.eye == "none" else args.eye,
        weights_dir=args.weights_dir,
        record_frames=(args.frame_scale, args.frame_fps) if args.record_frames else None,
    )
    pipeline = Pipeline(config)
    try:
        pipeline.start()
    except (SourceError, FileNotFoundError, ValueError, KeyError, IncompatibleStreams) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if pipeline.camera_problem:
        print(f"warning: camera {args.cam!r} not used: {pipeline.camera_problem}; EEG keeps running", file=sys.stderr)
    if pipeline.model_problem:
        print(f"warning: model {model!r} cannot run on these streams: {pipeline.model_problem}; "
              "streams are still acquired and recorded", file=sys.stderr)
    if pipeline.predictor is not None:
        print(pipeline.predictor.describe(), file=sys.stderr)
    if args.record:
        print(f"recording to {args.record}", file=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if not args.no_gui and not display_available():
            print("No display (DISPLAY / WAYLAND_DISPLAY unset): running headless; "
                  "set QT_QPA_PLATFORM=offscreen to run the dashboard without one.", file=sys.stderr)
        if args.no_gui or not display_available():
            run_headless(pipeline, args.duration, stop)
        else:
            run_dashboard(pipeline, duration=args.duration, screenshot=args.screenshot)
    finally:
        pipeline.stop()
        if args.record:
            done = pipeline.last_recording
            print(f"session saved to {args.record}" + (f"; {done.error}" if done and done.error else ""),
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
