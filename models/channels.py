"""Channel mapping by name onto a model's channel list, with optional spherical-spline interpolation.

Channels are matched by name (exactly, else case-insensitively), never by position. A channel
the model needs but the stream lacks is an error naming it, unless the caller asks for
interpolation from the MNE ``colin27_1020`` (10-20) montage and every missing channel has enough
present neighbours; the spline weights are computed once per (stream, model) channel pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from models.contracts import IncompatibleStreams

#: DEAP's 32 EEG channels, in its order (also MAHNOB-HCI's): the default channel list of EEG models.
DEAP_CHANNELS: tuple[str, ...] = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
    "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2",
)
#: SEED-V's 62 EEG channels in its DE feature order (ESI NeuroScan 62-channel cap).
SEEDV_CHANNELS: tuple[str, ...] = (
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "FT7", "FC5",
    "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ", "C2", "C4", "C6", "T8",
    "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7", "P5", "P3", "P1", "PZ", "P2", "P4",
    "P6", "P8", "PO7", "PO5", "PO3", "POZ", "PO4", "PO6", "PO8", "CB1", "O1", "OZ", "O2", "CB2",
)  # fmt: skip

MONTAGE = "colin27_1020"  # MNE's standard 10-20 positions (the successor of "standard_1020")
#: A missing channel is interpolated only with at least this many present channels ...
MIN_NEIGHBOURS = 3
#: ... within this distance (metres on the standard head, about two 10-20 electrode spacings).
NEIGHBOUR_RADIUS_M = 0.065


class MissingChannels(IncompatibleStreams):
    """The stream lacks channels the model needs (and they cannot or may not be interpolated)."""


def _index_by_name(have: Sequence[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    folded: dict[str, int] = {}
    for i, name in enumerate(have):
        if name in index:
            raise IncompatibleStreams(f"channel name {name!r} appears twice in the stream")
        index[name] = i
        folded.setdefault(name.lower(), i)
    for name, i in folded.items():
        index.setdefault(name, i)
    return index


def _find(index: dict[str, int], name: str) -> int | None:
    return index.get(name, index.get(name.lower()))


@dataclass(frozen=True)
class ChannelMap:
    """How to make the model's channels from a stream's: direct picks plus interpolated rows."""

    want: tuple[str, ...]
    picks: tuple[int, ...]  # stream column per wanted channel, -1 where interpolated
    interpolated: tuple[str, ...] = ()
    weights: np.ndarray | None = None  # (n_interpolated, n_stream_channels)

    def apply(self, data: np.ndarray) -> np.ndarray:
        """(n_samples, n_stream_channels) -> (n_samples, len(want)) in the model's order."""
        out = np.empty((data.shape[0], len(self.want)), dtype=np.float64)
        direct = [i for i, p in enumerate(self.picks) if p >= 0]
        out[:, direct] = data[:, [self.picks[i] for i in direct]]
        if self.interpolated:
            assert self.weights is not None  # set with every interpolated channel (channel_map)
            rows = [i for i, p in enumerate(self.picks) if p < 0]
            out[:, rows] = data @ self.weights.T
        return out


def channel_map(have: Sequence[str], want: Sequence[str], interpolate: bool = False) -> ChannelMap:
    """Map stream channels ``have`` onto model channels ``want``; raise MissingChannels naming the gaps."""
    have, want = tuple(have), tuple(want)
    return _channel_map_cached(have, want, interpolate)


@lru_cache(maxsize=32)
def _channel_map_cached(have: tuple[str, ...], want: tuple[str, ...], interpolate: bool) -> ChannelMap:
    index = _index_by_name(have)
    picks = [_find(index, name) for name in want]
    missing = tuple(name for name, p in zip(want, picks, strict=True) if p is None)
    picks_t = tuple(-1 if p is None else p for p in picks)
    if not missing:
        return ChannelMap(want, picks_t)
    if not interpolate:
        raise MissingChannels(
            f"the stream lacks channels the model needs: {', '.join(missing)} "
            f"(stream has {', '.join(have)}); enable interpolation to estimate them from neighbours"
        )
    return ChannelMap(want, picks_t, missing, _spline_weights(have, missing))


def _montage_positions() -> dict[str, np.ndarray]:
    import mne

    positions = mne.channels.make_standard_montage(MONTAGE).get_positions()["ch_pos"]
    return {name.lower(): np.asarray(pos) for name, pos in positions.items()}


def _check_neighbours(have: tuple[str, ...], missing: tuple[str, ...]) -> None:
    positions = _montage_positions()
    unknown = [c for c in (*have, *missing) if c.lower() not in positions]
    if unknown:
        raise MissingChannels(f"cannot interpolate: no {MONTAGE} position for channels {', '.join(unknown)}")
    present = np.stack([positions[c.lower()] for c in have])
    lonely = []
    for name in missing:
        distances = np.linalg.norm(present - positions[name.lower()], axis=1)
        count = int((distances <= NEIGHBOUR_RADIUS_M).sum())
        if count < MIN_NEIGHBOURS:
            lonely.append(f"{name} ({count} within {NEIGHBOUR_RADIUS_M * 100:.1f} cm)")
    if lonely:
        raise MissingChannels(
            f"cannot interpolate channels with fewer than {MIN_NEIGHBOURS} present neighbours: {', '.join(lonely)}"
        )


def _spline_weights(have: tuple[str, ...], missing: tuple[str, ...]) -> np.ndarray:
    """Spherical-spline weights (n_missing, n_have) from MNE's interpolate_bads applied to an identity basis."""
    import mne

    _check_neighbours(have, missing)
    n_have = len(have)
    info = mne.create_info([*have, *missing], sfreq=float(max(n_have, 1)), ch_types="eeg")
    basis = np.zeros((n_have + len(missing), n_have))
    basis[:n_have] = np.eye(n_have)  # sample j holds a unit on stream channel j: the output is column j
    raw = mne.io.RawArray(basis, info, verbose="error")
    raw.set_montage(MONTAGE, match_case=False, verbose="error")
    raw.info["bads"] = list(missing)
    raw.interpolate_bads(reset_bads=True, origin=(0.0, 0.0, 0.04), verbose="error")
    weights: np.ndarray = raw.get_data()[n_have:]
    return weights
