"""Scrolling EEG traces of the channels in use (bad and flat channels marked) and band power per channel."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from dashboard import theme

# Labels for the usual band layouts, by number of bands (the thesis' 6 bands; the classic 5).
DEFAULT_BANDS = {
    6: ("0.3–4", "4–8", "8–12", "12–18", "18–30", "30–45"),
    5: ("δ", "θ", "α", "β", "γ"),
}
FLAT_RATIO = 1e-3  # a channel whose peak-to-peak is below this fraction of the median channel's is flat
BAD_RATIO = 20.0  # ... and above this multiple, it is bad (loose contact, saturation)
STATS_INTERVAL = 0.25  # seconds between re-estimates of channel quality, offsets and ranges
TICKS_INTERVAL = 1.0  # seconds between updates of the per-channel range labels (relabelling repaints the axis)
MAX_POINTS = 1000  # per channel drawn; longer windows are reduced to a min/max envelope
MIN_POINTS = 100  # ... and at most one point per pixel of the plot's width, never fewer than this


def channel_quality(data: np.ndarray) -> list[str]:
    """Per channel of (n_samples, n_channels): 'ok', 'flat', or 'bad' (non-finite values or amplitude outlier)."""
    if data.shape[0] < 2:
        return ["ok"] * data.shape[1]
    finite = np.isfinite(data).all(axis=0)
    ptp = np.full(data.shape[1], np.nan)
    ptp[finite] = np.ptp(data[:, finite], axis=0)
    ref = np.nanmedian(ptp[ptp > 0]) if np.any(ptp > 0) else 0.0
    out = []
    for ok, p in zip(finite, ptp, strict=True):
        if not ok:
            out.append("bad")
        elif p == 0 or (ref > 0 and p < FLAT_RATIO * ref):
            out.append("flat")
        elif ref > 0 and p > BAD_RATIO * ref:
            out.append("bad")
        else:
            out.append("ok")
    return out


def envelope(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Reduce (n,) x and (n, c) y to about max_points rows keeping each bin's min and max (peaks stay visible)."""
    n = len(x)
    if n <= max_points:
        return x, y
    k = int(np.ceil(n / (max_points // 2)))
    m = n // k
    start = n - m * k  # keep the newest samples aligned
    yb = y[start:].reshape(m, k, -1)
    xb = x[start:].reshape(m, k)
    lo, hi = np.nanmin(yb, axis=1), np.nanmax(yb, axis=1)
    ys = np.empty((2 * m, y.shape[1]), dtype=y.dtype)
    ys[0::2], ys[1::2] = lo, hi
    xs = np.empty(2 * m, dtype=x.dtype)
    xs[0::2], xs[1::2] = xb[:, 0], xb[:, -1]
    return xs, ys


class EEGPanel(QtWidgets.QWidget):
    """Stacked channel traces over the last ``seconds`` and a channels x bands heat map of relative band power."""

    def __init__(self, channels: Sequence[str] = (), seconds: float = 10.0, units: str = "µV",
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.seconds = seconds
        self.channels: tuple[str, ...] = ()
        self.quality: list[str] = []
        self.scales = np.zeros(0)  # per channel: signal units per half row, smoothed so rows do not jump
        self._ticks: list[tuple[int, str]] = []
        self._ticks_at = 0.0
        self._stats_at = 0.0
        self.offsets = np.zeros(0)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.graphics = pg.GraphicsLayoutWidget()
        layout.addWidget(self.graphics)
        self.traces_plot = self.graphics.addPlot(row=0, col=0)
        theme.style_plot(self.traces_plot)
        self.traces_plot.showGrid(x=False, y=False)  # a grid spans the view, so it would be repainted every frame
        self.traces_plot.setLabel("bottom", "seconds before now", color=theme.MUTED)
        self.traces_plot.setLabel("left", f"each row: channel ± its range ({units})", color=theme.MUTED)
        self.traces_plot.setMouseEnabled(x=False, y=False)
        self.bands_plot = self.graphics.addPlot(row=0, col=1)
        theme.style_plot(self.bands_plot, "relative band power (Hz)")
        self.bands_plot.setMouseEnabled(x=False, y=False)
        self.bands_plot.showGrid(x=False, y=False)
        self.graphics.ci.layout.setColumnStretchFactor(0, 3)
        self.graphics.ci.layout.setColumnStretchFactor(1, 1)
        self.bands_image = pg.ImageItem(axisOrder="row-major")
        self.bands_image.setColorMap(pg.colormap.get("viridis"))
        self.bands_plot.addItem(self.bands_image)
        self.bands_note = pg.TextItem("no band power yet", color=theme.MUTED, anchor=(0.5, 0.5))
        self.bands_note.setParentItem(self.bands_plot.vb)
        # one curve per channel quality, each holding all its channels' rows separated by NaN:
        # three paths per frame instead of one per channel
        self.curves = {q: pg.PlotCurveItem(pen=pg.mkPen(c, width=1), antialias=False, connect="finite")
                       for q, c in (("ok", theme.AROUSAL), ("flat", theme.MUTED), ("bad", theme.BAD))}
        for c in self.curves.values():
            self.traces_plot.addItem(c)
        self.set_channels(channels)

    def set_channels(self, channels: Sequence[str]) -> None:
        self.channels = tuple(channels)
        self.scales = np.zeros(0)
        self.offsets = np.zeros(0)
        for c in self.curves.values():
            c.setData([], [])
        self.quality = ["ok"] * len(self.channels)
        n = len(self.channels)
        self.traces_plot.setYRange(-n + 0.3, 0.7, padding=0)  # margins: curves never touch (and repaint) the axes
        self.traces_plot.setXRange(-self.seconds, 0, padding=0.01)
        self._set_channel_ticks()
        self.bands_plot.getAxis("left").setTicks([[(i + 0.5, name) for i, name in enumerate(self.channels)]])
        self.bands_plot.invertY(True)

    def _set_channel_ticks(self) -> None:
        labels = []
        for i, (name, q) in enumerate(zip(self.channels, self.quality, strict=True)):
            scale = f" ±{self.scales[i]:.3g}" if len(self.scales) == len(self.channels) and q != "flat" else ""
            labels.append((-i, f"{name}{scale}" if q == "ok" else f"✘{q} {name}{scale}"))
        self._ticks_at = time.monotonic()
        if labels != self._ticks:
            self._ticks = labels
            self.traces_plot.getAxis("left").setTicks([labels])

    def set_seconds(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.traces_plot.setXRange(-self.seconds, 0, padding=0.01)

    def update_signals(self, data: np.ndarray, timestamps: np.ndarray, now: float) -> None:
        """Draw (n_samples, n_channels) samples with their LSL times, relative to ``now``.

        Each row is scaled to its own channel's range (99th percentile of |x - median|, smoothed),
        written next to its name; a flat channel keeps the median scale so it stays flat. Quality,
        offsets and ranges are re-estimated every STATS_INTERVAL, not every frame.
        """
        if data.shape[1] != len(self.channels):
            raise ValueError(f"EEG panel shows {len(self.channels)} channels, got data with {data.shape[1]}")
        if len(timestamps) < 2:
            for c in self.curves.values():
                c.setData([], [])
            return
        if time.monotonic() - self._stats_at >= STATS_INTERVAL or len(self.offsets) != data.shape[1]:
            self._update_stats(data)
        # one min/max pair per two pixels: more points cost painting time (with the GIL held) and show nothing more
        width = int(self.traces_plot.vb.width())
        x, y = envelope(timestamps - now, data - self.offsets, min(MAX_POINTS, max(MIN_POINTS, width)))
        rows = np.clip(y / (2.2 * self.scales), -0.5, 0.5) - np.arange(len(self.channels))
        for q, curve in self.curves.items():
            idx = [i for i, qi in enumerate(self.quality) if qi == q]
            # rows side by side with a NaN sample after each, so one path holds them all
            xs = np.tile(np.append(x, np.nan), len(idx))
            ys = np.vstack([rows[:, idx], np.full((1, len(idx)), np.nan)]).T.ravel()
            curve.setData(xs, ys)

    def _update_stats(self, data: np.ndarray) -> None:
        """Channel quality, per-channel offset (median) and range (smoothed 99th percentile of |x - median|)."""
        self._stats_at = time.monotonic()
        quality = channel_quality(data)
        if np.isfinite(data).all():  # the usual case; the NaN-aware functions are several times slower
            self.offsets = np.median(data, axis=0)
            amp = np.percentile(np.abs(data - self.offsets), 99, axis=0)
        else:
            with warnings.catch_warnings():  # an all-NaN channel has no range; it is marked bad
                warnings.simplefilter("ignore", RuntimeWarning)
                self.offsets = np.nan_to_num(np.nanmedian(data, axis=0))
                amp = np.nanpercentile(np.abs(data - self.offsets), 99, axis=0)
        usable = np.isfinite(amp) & (amp > 0) & np.array([q == "ok" for q in quality])
        fallback = float(np.median(amp[usable])) if usable.any() else 1.0
        amp = np.where(np.isfinite(amp) & (amp > 0) & np.array([q != "flat" for q in quality]), amp, fallback)
        self.scales = amp if len(self.scales) != len(amp) else 0.5 * self.scales + 0.5 * amp
        changed = quality != self.quality
        self.quality = quality
        if changed or time.monotonic() - self._ticks_at >= TICKS_INTERVAL:
            self._set_channel_ticks()

    def update_band_power(self, band_power: np.ndarray | None, bands: Sequence[str] | None = None) -> None:
        """Show (n_channels, n_bands) power as each channel's share per band."""
        if band_power is None or np.size(band_power) == 0:
            return
        bp = np.asarray(band_power, dtype=float)
        if bp.shape[0] != len(self.channels):
            raise ValueError(f"band power for {bp.shape[0]} channels, the panel shows {len(self.channels)}")
        total = np.nansum(bp, axis=1, keepdims=True)
        rel = np.divide(bp, total, out=np.zeros_like(bp), where=total > 0)
        self.bands_image.setImage(rel, levels=(0.0, max(float(np.nanmax(rel)), 1e-6)))
        self.bands_image.setRect(QtCore.QRectF(0, 0, bp.shape[1], bp.shape[0]))
        labels = tuple(bands) if bands is not None else DEFAULT_BANDS.get(bp.shape[1], ())
        if len(labels) != bp.shape[1]:
            labels = tuple(f"b{i + 1}" for i in range(bp.shape[1]))
        self.bands_plot.getAxis("bottom").setTicks([[(i + 0.5, name) for i, name in enumerate(labels)]])
        self.bands_plot.setXRange(0, bp.shape[1], padding=0)
        self.bands_plot.setYRange(0, bp.shape[0], padding=0)
        self.bands_note.setText("")
