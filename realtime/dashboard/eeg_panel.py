"""Scrolling EEG traces of the channels in use (bad and flat channels marked) and band power per channel."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from realtime.dashboard import theme

# Labels for the usual band layouts, by number of bands (the thesis' 6 bands; the classic 5).
DEFAULT_BANDS = {
    6: ("0.3–4", "4–8", "8–12", "12–18", "18–30", "30–45"),
    5: ("δ", "θ", "α", "β", "γ"),
}
FLAT_RATIO = 1e-3  # a channel whose peak-to-peak is below this fraction of the median channel's is flat
BAD_RATIO = 20.0  # ... and above this multiple, it is bad (loose contact, saturation)
MAX_POINTS = 1000  # per channel drawn; longer windows are reduced to a min/max envelope


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

    def __init__(self, channels: Sequence[str] = (), seconds: float = 10.0, parent=None) -> None:
        super().__init__(parent)
        self.seconds = seconds
        self.channels: tuple[str, ...] = ()
        self.quality: list[str] = []
        self.scale = 0.0  # signal units per row, smoothed over frames so rows do not jump
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.graphics = pg.GraphicsLayoutWidget()
        layout.addWidget(self.graphics)
        self.traces_plot = self.graphics.addPlot(row=0, col=0)
        theme.style_plot(self.traces_plot)
        self.traces_plot.setLabel("bottom", "seconds before now", color=theme.MUTED)
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
        self.curves: list[pg.PlotDataItem] = []
        self.set_channels(channels)

    def set_channels(self, channels: Sequence[str]) -> None:
        for c in self.curves:
            self.traces_plot.removeItem(c)
        self.channels = tuple(channels)
        self.curves = [pg.PlotDataItem(pen=pg.mkPen(theme.AROUSAL, width=1)) for _ in self.channels]
        for c in self.curves:
            c.setSkipFiniteCheck(False)
            self.traces_plot.addItem(c)
        self.quality = ["ok"] * len(self.channels)
        n = len(self.channels)
        self.traces_plot.setYRange(-n + 0.4, 0.6, padding=0)
        self.traces_plot.setXRange(-self.seconds, 0, padding=0)
        self._set_channel_ticks()
        self.bands_plot.getAxis("left").setTicks([[(i + 0.5, name) for i, name in enumerate(self.channels)]])
        self.bands_plot.invertY(True)

    def _set_channel_ticks(self) -> None:
        labels = [(-i, name if q == "ok" else f"{name} ✘{q}") for i, (name, q) in
                  enumerate(zip(self.channels, self.quality, strict=True))]
        self.traces_plot.getAxis("left").setTicks([labels])

    def set_seconds(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.traces_plot.setXRange(-self.seconds, 0, padding=0)

    def update_signals(self, data: np.ndarray, timestamps: np.ndarray, now: float) -> None:
        """Draw (n_samples, n_channels) samples with their LSL times, relative to ``now``."""
        if data.shape[1] != len(self.channels):
            raise ValueError(f"EEG panel shows {len(self.channels)} channels, got data with {data.shape[1]}")
        quality = channel_quality(data)
        if quality != self.quality:
            self.quality = quality
            self._set_channel_ticks()
        if len(timestamps) < 2:
            for c in self.curves:
                c.setData([], [])
            return
        centred = data - np.nanmedian(data, axis=0)
        ok = [i for i, q in enumerate(quality) if q == "ok"]
        amp = float(np.nanpercentile(np.abs(centred[:, ok]), 99)) if ok else 1.0
        amp = amp if np.isfinite(amp) and amp > 0 else 1.0
        self.scale = amp if self.scale == 0 else 0.8 * self.scale + 0.2 * amp
        x, y = envelope(timestamps - now, centred)
        for i, (curve, q) in enumerate(zip(self.curves, quality, strict=True)):
            rows = np.clip(y[:, i] / (2.2 * self.scale), -0.5, 0.5) - i
            colour = theme.AROUSAL if q == "ok" else (theme.MUTED if q == "flat" else theme.BAD)
            curve.setPen(pg.mkPen(colour, width=1))
            curve.setData(x, rows)
        self.traces_plot.setLabel("left", f"±{self.scale:.3g} per row", color=theme.MUTED)

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
