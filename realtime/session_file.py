"""Reading a session file (HDF5, or XDF for a ``.xdf`` path) whole, for replay, tests and analysis.

Its layout, and the ``Session`` it is read into: ``realtime.session_layout``.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from realtime.session_layout import FORMAT, FRAMES_GROUP, TABLES_GROUP, XDF_SUFFIX, RecordedStream, Session


def _text(values: np.ndarray) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def _column(ds: h5py.Dataset) -> np.ndarray:
    """A dataset read whole: text as str objects, variable-length numbers as an object array of arrays."""
    if ds.dtype.kind == "S" or h5py.check_vlen_dtype(ds.dtype) in (str, bytes):
        return _text(ds[()])
    return np.asarray(ds[()])


def is_session_file(path: str | Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return bool(f.attrs.get("format") == FORMAT)
    except OSError:
        return False


def read_session(path: str | Path) -> Session:
    """Read a whole session file (also one still being written, thanks to SWMR).

    A ``.xdf`` file (ours or LabRecorder's, also one cut off while recording) is read by
    ``realtime.xdf_session.read_xdf_session``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"session file {path} does not exist")
    if path.suffix.lower() == XDF_SUFFIX:
        from realtime.xdf_session import read_xdf_session  # pyxdf and the LSL clock load only for XDF files

        return read_xdf_session(path)
    try:
        f = h5py.File(path, "r", libver="latest", swmr=True)
    except OSError as exc:
        raise ValueError(f"{path} is not a readable HDF5 session file: {exc}") from exc
    with f:
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"{path} is HDF5 but not an {FORMAT} file (attribute 'format' missing)")
        streams = {}
        for name, group in f.items():
            if name in ("predictions", "markers", TABLES_GROUP, FRAMES_GROUP):
                continue
            streams[name] = RecordedStream(
                data=group["data"][()],
                timestamps=group["timestamps"][()],
                channels=tuple(str(c) for c in _text(group.attrs["channels"])),
                rate=float(group.attrs["rate"]),
            )
        predictions = {}
        for key, ds in f["predictions"].items():
            predictions[key] = _column(ds)
        markers = list(zip(f["markers/time"][()].tolist(), _text(f["markers/text"][()]).tolist(), strict=True))
        tables = {
            name: {c: _column(ds) for c, ds in group.items()}
            for name, group in f.get(TABLES_GROUP, {}).items()
        }
        return Session(streams, predictions, markers, dict(f.attrs), tables)
