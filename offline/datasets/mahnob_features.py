"""MAHNOB-HCI continuous valence (Soleymani et al. 2016): ``lable_continous_Mahnob.mat`` + per-trial feature files.

Everything is at 4 Hz over the stimulus only. Each feature file's ``target`` must equal twice the
trace in the label file (checked, so a mismatched file is caught). Feature columns are named
``<key>_<index>`` because the files do not say which electrode/band each column is; the valence
trace (-1..1) is kept as the ``valence`` trace. ``face`` holds the first 38 face columns (the
reference code's choice), ``face_all`` all 327.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from offline.datasets.reader import DatasetError, FunctionReader, numeric_array
from offline.trials import Signal, Trial

RATE = 4.0
LABEL_FILE = "lable_continous_Mahnob.mat"
#: modality name -> key in the feature files
FEATURE_KEYS = {"eeg": "eeg_band_feats_full", "eeg_reduced": "eeg_band_feats", "face_all": "face_feats",
                "gaze": "gaze_feats"}
REFERENCE_FACE_COLUMNS = 38


def feature_names(key: str, n: int) -> tuple[str, ...]:
    return tuple(f"{key}_{i:03d}" for i in range(n))


#: MAT v5 element types scipy reads as numbers. Its compiled reader looks the type up in a fixed table without
#: a check, so reading any other type where numbers are expected crashes the interpreter (segmentation fault).
NUMERIC_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 18})
MI_MATRIX, MI_COMPRESSED, MX_CELL, MX_OPAQUE, NUMERIC_CLASSES = 14, 15, 1, 17, range(6, 16)
MAX_CELL_DEPTH = 8


class _Mat5Replay:
    """Replays, without building arrays, the reads scipy's compiled MAT v5 reader makes from ``data`` at ``at``,
    raising ValueError where it would crash or exhaust memory (numeric arrays and cell arrays only)."""

    def __init__(self, data: bytes, at: int, order: str) -> None:
        self.data, self.at, self.order = data, at, order

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.at:
            raise ValueError(f"MAT data end at byte {len(self.data)} reached reading {n} bytes at byte {self.at}")
        self.at += n
        return self.data[self.at - n : self.at]

    def remaining(self) -> int:
        return len(self.data) - self.at

    def full_tag(self) -> tuple[int, int]:
        mdtype, size = struct.unpack(self.order + "II", self.take(8))
        return mdtype, size

    def element(self, keep: bool = True) -> tuple[int, bytes]:
        """One data element: its type and data (a small element's data lies in its 8-byte tag); with ``keep``
        false the data is only skipped (read, and checked to be there, only if a later read needs what follows)."""
        mdtype, size = self.full_tag()
        if mdtype >> 16:
            if mdtype >> 16 > 4:
                raise ValueError("bad small MAT data element")
            return mdtype & 0xFFFF, self.data[self.at - 4 : self.at - 4 + (mdtype >> 16)]
        data = self.take(size) if keep else b""
        self.at += (0 if keep else size) + -size % 8  # scipy seeks over the padding to 8 bytes
        return mdtype, data

    def header(self) -> tuple[int, int, tuple[int, ...], bytes]:
        """Class, complex flag, dimensions and name of a matrix (after its miMATRIX tag)."""
        flags = struct.unpack(self.order + "8xI4x", self.take(16))[0]  # the flags element's tag, flags, nzmax
        dims: tuple[int, ...] = ()
        if flags & 0xFF != MX_OPAQUE:  # scipy reads only the name of an opaque object here
            mdtype, raw = self.element()
            if mdtype not in (5, 6) or len(raw) > 128:  # miINT32, miUINT32, at most 32 dimensions
                raise ValueError(f"bad MAT dimensions (type {mdtype}, {len(raw)} bytes)")
            dims = struct.unpack(f"{self.order}{len(raw) // 4}i", raw[: len(raw) // 4 * 4])
        mdtype, name = self.element()
        if mdtype not in (1, 16):  # miINT8, miUTF8
            raise ValueError(f"bad MAT variable name (type {mdtype})")
        return flags & 0xFF, flags >> 11 & 1, dims, name

    def matrix(self, depth: int = 0) -> None:
        mclass, is_complex, dims, _ = self.header()
        if mclass in NUMERIC_CLASSES:
            for _ in range(2 if is_complex else 1):
                mdtype, _ = self.element(keep=False)
                if mdtype not in NUMERIC_TYPES:
                    raise ValueError(f"MAT element of type {mdtype} where numbers are expected")
        elif mclass == MX_CELL and depth < MAX_CELL_DEPTH:
            cells = math.prod(dims)
            if not 0 <= cells * 8 <= self.remaining():  # each cell takes at least a tag
                raise ValueError(f"MAT cell array of dimensions {dims} exceeds the data")
            for _ in range(cells):
                mdtype, size = self.full_tag()
                if mdtype != MI_MATRIX:
                    raise ValueError(f"MAT cell of type {mdtype}")
                if size:
                    self.matrix(depth + 1)
        else:
            raise ValueError(f"MAT class {mclass} (at depth {depth}) is not a numeric array or cell array")


class _InflatingReplay(_Mat5Replay):
    """The replay of a compressed variable, inflating its data only as far as the reads reach."""

    def __init__(self, compressed: bytes, order: str) -> None:
        super().__init__(b"", 0, order)
        self.inflate, self.pending = zlib.decompressobj(), compressed

    def take(self, n: int) -> bytes:
        self._inflate(self.at + n)
        return super().take(n)

    def remaining(self) -> int:
        self._inflate(None)
        return super().remaining()

    def _inflate(self, end: int | None) -> None:
        """Inflate up to byte ``end`` of the variable (all of it for None)."""
        while self.pending and (end is None or len(self.data) < end):
            chunk = self.inflate.decompress(self.pending, 0 if end is None else end - len(self.data))
            self.data, self.pending = self.data + chunk, self.inflate.unconsumed_tail if chunk else b""


def _check_mat5(data: bytes, names: tuple[str, ...]) -> None:
    """Replay scipy's reads of the variables ``names`` of a MAT v5 file (others' headers only, as scipy skips them)."""
    order, at = "<" if data[126:128] == b"IM" else ">", 128
    while at < len(data):
        replay = _Mat5Replay(data, at, order)
        mdtype, size = replay.full_tag()
        at = replay.at + size
        if mdtype == MI_COMPRESSED:
            replay = _InflatingReplay(data[replay.at : at], order)
            mdtype, size = replay.full_tag()
        if mdtype != MI_MATRIX or not size:
            raise ValueError(f"MAT variable of type {mdtype} and {size} bytes")
        start = replay.at
        if replay.header()[3].decode("latin1") in names:
            replay.at = start
            replay.matrix()


def load_mat(path: Path, names: tuple[str, ...]) -> dict[str, Any]:
    """The variables ``names`` of a MAT file (those it holds), checked first so that scipy cannot crash on them
    (also SEED-IV's reader)."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        if scipy.io.matlab.matfile_version(path)[0] == 1:
            _check_mat5(path.read_bytes(), names)
        variables: dict[str, Any] = scipy.io.loadmat(path, variable_names=names)
        return variables
    except Exception as exc:  # scipy raises ValueError/TypeError/MatReadError on damaged files
        raise DatasetError(f"{path}: not a readable MAT file ({type(exc).__name__}: {exc})") from exc


def read_mahnob_features(root: Path, subjects: list[str] | None = None) -> list[Trial]:
    """Every trial listed in the label file, with its features and valence trace."""
    root = Path(root)
    label_path = root / LABEL_FILE
    mat = load_mat(label_path, ("trials_included", "labels"))
    if "trials_included" not in mat or "labels" not in mat:
        raise DatasetError(f"{label_path}: expected keys 'trials_included' and 'labels'")
    included, labels = numeric_array(mat["trials_included"], f"{label_path}: 'trials_included'"), mat["labels"]
    if included.ndim != 2 or included.shape[1] != 2 or not isinstance(labels, np.ndarray) or labels.ndim != 2 \
            or labels.shape[0] != included.shape[0] or not labels.shape[1]:
        raise DatasetError(f"{label_path}: trials_included {included.shape} and labels {np.shape(labels)} disagree")
    ids = included.astype(np.float64)
    if not (np.isfinite(ids).all() and (ids == np.floor(ids)).all() and (ids >= 1).all() and (ids < 2**31).all()):
        raise DatasetError(f"{label_path}: trials_included must hold (participant, section) numbers >= 1")
    trials = []
    for (participant, section), cell in zip(ids.astype(int), labels[:, 0], strict=True):
        subject = f"P{participant:02d}"
        if subjects and subject not in subjects:
            continue
        label = f"label of P{participant} section {section}"
        trace = numeric_array(cell, f"{label_path}: {label}").astype(np.float64).reshape(-1)
        path = root / "Features" / f"P{participant}-features-resamp4hz-trial-{section}.mat"
        if not path.is_file():
            raise DatasetError(f"{path}: file not found (the {label} in {label_path} names it)")
        feats = load_mat(path, ("target", *FEATURE_KEYS.values()))
        missing = [k for k in ("target", *FEATURE_KEYS.values()) if k not in feats]
        if missing:
            raise DatasetError(f"{path}: missing keys {', '.join(missing)}")
        target = numeric_array(feats["target"], f"{path}: 'target'").astype(np.float64).reshape(-1)
        if target.shape != trace.shape or not np.allclose(target, 2 * trace, atol=1e-4):
            raise DatasetError(f"{path}: 'target' is not 2 x the {label} in {label_path}")
        signals = {}
        for modality, key in FEATURE_KEYS.items():
            values = numeric_array(feats[key], f"{path}: '{key}'").astype(np.float32)
            if values.ndim != 2 or values.shape[0] != trace.size:
                raise DatasetError(f"{path}: '{key}' has shape {values.shape}, expected ({trace.size}, n)")
            if not np.isfinite(values).all():
                raise DatasetError(f"{path}: '{key}' contains NaN or infinite values")
            signals[modality] = Signal(values, RATE, feature_names(key, values.shape[1]))
        face = signals["face_all"]
        signals["face"] = Signal(np.ascontiguousarray(face.data[:, :REFERENCE_FACE_COLUMNS]), RATE,
                                 face.channels[:REFERENCE_FACE_COLUMNS])
        trials.append(
            Trial(
                dataset="mahnob-features",
                subject=subject,
                trial=f"{section:02d}",
                signals=signals,
                traces={"valence": Signal(trace[:, None].astype(np.float32), RATE, ("valence",))},
                source=str(path),
            )
        )
    if not trials:
        raise DatasetError(f"{label_path}: no trials{' for ' + ', '.join(subjects) if subjects else ''}")
    return trials


READER = FunctionReader("mahnob-features", read_mahnob_features, precomputed=True)
