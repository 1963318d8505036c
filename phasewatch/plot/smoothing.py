"""Smoothing for display, and the sentence that states it in the legend.

The default is a CENTRED Gaussian window over evaluations, not an EMA: an EMA lags by about its
half-life, which would move the smoothed trough and peak to the right of the phase boundaries the
detector reports and make a correct detection look late. The raw points are always drawn too.
Smoothing is for the eye only; the detector never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("gaussian", "ema", "none")


@dataclass(frozen=True)
class Smoothing:
    """`kind` in KINDS; `width` in evaluations: the sd (gaussian) or half-life (ema).

    `width=None` picks one from the series length: about 1/60 of the points, at least 1, so a
    run with 300 evaluations gets sd 5 and a short run is barely smoothed.
    """

    kind: str = "gaussian"
    width: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"smoothing kind must be one of {KINDS}, got {self.kind!r}")
        if self.width is not None and not self.width > 0:
            raise ValueError(f"smoothing width must be positive, got {self.width!r}")

    def resolved_width(self, n_points: int) -> float:
        if self.width is not None:
            return float(self.width)
        return float(max(1, round(n_points / 60)))

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Smoothed copy of `values` (NaNs are ignored and keep their place)."""
        y = np.asarray(values, dtype=np.float64)
        if self.kind == "none" or y.size < 3:
            return y.copy()
        width = self.resolved_width(int(np.isfinite(y).sum()))
        if self.kind == "ema":
            return _ema(y, width)
        return _gaussian(y, width)

    def describe(self, n_points: int) -> str:
        """E.g. 'Gaussian smooth, sd 5 evals' (for the legend; the window is centred)."""
        if self.kind == "none":
            return "no smoothing"
        width = self.resolved_width(n_points)
        shown = f"{width:g}"
        unit = "eval" if width == 1 else "evals"
        if self.kind == "ema":
            return f"EMA, half-life {shown} {unit}"
        return f"Gaussian smooth, sd {shown} {unit}"


DEFAULT_SMOOTHING = Smoothing()


def _gaussian(y: np.ndarray, sd: float) -> np.ndarray:
    """Normalised Gaussian window; at the ends and around NaNs the weights are renormalised."""
    half = min(int(np.ceil(3 * sd)), y.size - 1)  # "same" needs kernel <= series
    offsets = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (offsets / sd) ** 2)
    finite = np.isfinite(y)
    filled = np.where(finite, y, 0.0)
    num = np.convolve(filled, kernel, mode="same")
    den = np.convolve(finite.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~finite] = np.nan
    return out


def _ema(y: np.ndarray, half_life: float) -> np.ndarray:
    """Bias-corrected EMA (like pandas `ewm(halflife=..., adjust=True)`), NaNs skipped."""
    decay = 0.5 ** (1.0 / half_life)
    out = np.full_like(y, np.nan)
    num = den = 0.0
    for i, value in enumerate(y):
        if np.isfinite(value):
            num = decay * num + value
            den = decay * den + 1.0
            out[i] = num / den
    return out
