"""EEG from a BrainFlow board: the synthetic board, a playback file, or a real board by its BoardIds name.

Channel names come from the board descriptor (positional names where it has none), values
are microvolts as BrainFlow delivers them. Board time stamps are Unix time; they are mapped
onto the LSL clock with an offset (wall clock minus LSL clock) measured at start and
re-measured every few seconds, so a wall-clock step (NTP) moves later samples with it.
A board whose time stamps are not near the wall clock (some playback files keep the times
they were recorded at) is stamped at arrival instead: newest sample = arrival time, the
others back at the nominal rate.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from realtime import clock
from realtime.errors import SourceError
from realtime.sources.base import EegSource

if TYPE_CHECKING:
    from brainflow.board_shim import BoardShim, BrainFlowInputParams

POLL_SECONDS = 0.02
OFFSET_REFRESH_SECONDS = 5.0
#: Board time stamps further than this from the wall clock are not usable as such.
CLOCK_TRUST_SECONDS = 2.0
#: Board input parameters that may be set with --board-args key=value.
INPUT_PARAMS = ("serial_port", "mac_address", "ip_address", "ip_port", "ip_protocol", "other_info", "timeout",
                "serial_number", "file")


def board_id_by_name(name: str) -> int:
    from brainflow.board_shim import BoardIds

    if name.lstrip("-").isdigit() and int(name) in {m.value for m in BoardIds}:
        return int(name)
    key = name.upper().replace("-", "_")
    for candidate in (key, f"{key}_BOARD"):
        if candidate in BoardIds.__members__:
            return int(BoardIds[candidate].value)
    known = ", ".join(m.name.lower() for m in BoardIds if m.value >= 0)
    raise SourceError(f"unknown BrainFlow board {name!r}; known boards: {known}")


class BrainFlowSource(EegSource):
    """A BrainFlow board (``board`` as in BoardIds, e.g. "synthetic", "cyton"), or ``playback_file`` on
    PLAYBACK_FILE_BOARD with ``board`` as the master board that recorded it."""

    def __init__(self, board: str = "synthetic", playback_file: str | None = None, serial_port: str = "",
                 board_args: dict[str, str] | None = None) -> None:
        what = f"BrainFlow playback of {playback_file}" if playback_file else f"BrainFlow board {board!r}"
        super().__init__(what)
        self.board = board
        self.playback_file = playback_file
        self.serial_port = serial_port
        self.board_args = dict(board_args or {})
        self._shim: BoardShim | None = None
        self._eeg_rows: list[int] = []
        self._ts_row = 0
        self._offset = 0.0

    def _params(self) -> BrainFlowInputParams:
        from brainflow.board_shim import BrainFlowInputParams

        params = BrainFlowInputParams()
        params.serial_port = self.serial_port
        for key, value in self.board_args.items():
            if key not in INPUT_PARAMS:
                raise SourceError(f"unknown --board-args key {key!r}; known keys: {', '.join(INPUT_PARAMS)}")
            current = getattr(params, key)
            setattr(params, key, int(value) if isinstance(current, int) else value)
        return params

    def _open(self) -> tuple[tuple[str, ...], float]:
        from brainflow.board_shim import BoardIds, BoardShim, BrainFlowError

        BoardShim.disable_board_logger()
        described = board_id_by_name(self.board)
        params = self._params()
        board_id = described
        if self.playback_file is not None:
            from pathlib import Path

            if not Path(self.playback_file).is_file():
                raise SourceError(f"BrainFlow playback file {self.playback_file} does not exist")
            board_id = BoardIds.PLAYBACK_FILE_BOARD.value
            params.file = self.playback_file
            params.master_board = described
        self._eeg_rows = list(BoardShim.get_eeg_channels(described))
        self._ts_row = BoardShim.get_timestamp_channel(described)
        try:
            names = BoardShim.get_eeg_names(described)
        except BrainFlowError:
            names = []
        if len(names) != len(self._eeg_rows):
            names = [f"EEG{i + 1}" for i in range(len(self._eeg_rows))]
        rate = float(BoardShim.get_sampling_rate(described))
        shim = BoardShim(board_id, params)
        try:
            shim.prepare_session()
            shim.start_stream()
        except BrainFlowError as exc:
            if shim.is_prepared():
                shim.release_session()
            port = f" on {self.serial_port}" if self.serial_port else ""
            raise SourceError(f"cannot start {self.description}{port}: {exc}") from exc
        self._shim = shim
        self._offset = clock.wall_minus_lsl()
        return tuple(names), rate

    def _stamp(self, board_ts: np.ndarray) -> np.ndarray:
        """Board (Unix) time stamps on the LSL clock, or arrival-based ones when the board clock is far off."""
        now = clock.now()
        mapped = board_ts - self._offset
        if np.all(np.isfinite(mapped)) and abs(mapped[-1] - now) < CLOCK_TRUST_SECONDS:
            return mapped
        return now - (len(board_ts) - 1 - np.arange(len(board_ts))) / self.rate

    def _acquire(self) -> None:
        shim = self._shim
        assert shim is not None  # open() ran before the thread started
        last_refresh = time.monotonic()
        while not self.stopping:
            time.sleep(POLL_SECONDS)
            chunk = shim.get_board_data()
            if chunk.shape[1] == 0:
                continue
            if time.monotonic() - last_refresh > OFFSET_REFRESH_SECONDS:
                self._offset = clock.wall_minus_lsl()
                last_refresh = time.monotonic()
            self._deliver(chunk[self._eeg_rows].T.astype(np.float32), self._stamp(chunk[self._ts_row]))

    def _close(self) -> None:
        if self._shim is not None:
            try:
                self._shim.stop_stream()
            finally:
                self._shim.release_session()
            self._shim = None
