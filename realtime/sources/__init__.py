"""EEG sources: LSL inlet, BrainFlow board, file replay. ``make_source`` builds one from the --eeg spec."""

from __future__ import annotations

from realtime.errors import SourceError
from realtime.sources.base import EegSource, SourceStatus

SPEC_HELP = ("lsl[:name=...,type=...,source_id=...,host=...] "
             "| brainflow:synthetic | brainflow:playback:FILE | brainflow:BOARD (a BoardIds name, e.g. cyton) "
             "| replay:FILE (EDF, BDF, FIF, a session .h5 or an XDF recording)")


def make_source(spec: str, stream_name: str | None = None, serial_port: str = "",
                board_args: dict[str, str] | None = None, replay_loop: bool = True) -> EegSource:
    """Build (not open) the source named by ``spec``; a malformed spec or a missing file is a clear error."""
    kind, _, rest = spec.partition(":")
    if kind == "lsl":
        from realtime.lsl_select import parse_selection
        from realtime.sources.lsl_inlet import LslInletSource

        selection = parse_selection(rest)
        if stream_name:
            if selection.get("name", stream_name) != stream_name:
                raise SourceError(f"--eeg-stream {stream_name!r} and {spec!r} name different streams")
            selection["name"] = stream_name
        return LslInletSource(selection)
    if kind == "brainflow" and rest:
        from realtime.sources.brainflow_board import BrainFlowSource

        board, _, file = rest.partition(":")
        if board == "playback":
            if not file:
                raise SourceError("brainflow:playback needs a file: brainflow:playback:FILE")
            args = dict(board_args or {})
            master = args.pop("master_board", "synthetic")  # the board that recorded the file
            return BrainFlowSource(master, playback_file=file, serial_port=serial_port, board_args=args)
        return BrainFlowSource(board, serial_port=serial_port, board_args=board_args)
    if kind == "replay" and rest:
        from realtime.sources.replay import ReplaySource

        return ReplaySource(rest, loop=replay_loop)
    raise SourceError(f"unknown EEG source {spec!r}; expected {SPEC_HELP}")


__all__ = ["SPEC_HELP", "EegSource", "SourceError", "SourceStatus", "make_source"]
