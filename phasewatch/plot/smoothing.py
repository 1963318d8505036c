"""Smoothing for display, and the sentence that states it in the legend.

The default is a CENTRED Gaussian window over evaluations, not an EMA: an EMA lags by about its
half-life, which would move the smoothed trough and peak to the right of the phase boundaries the
detector reports and make a correct detection look late. The raw points are always drawn too.
Smoothing is for the eye only; the detector never sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KINDS = ("gaussian", "ema", "none")
DENSE_POINTS = 200  # series longer than this are drawn as faint raw lines with smoothing on top


EVAL_WORDS = ("eval", "val", "test")


def unit_for(steps: np.ndarray, metric: str = "") -> str:
    """What one point of a series is, for the legend: 'step' (logged every step), 'eval' (an
    evaluation metric logged now and then) or 'point'."""
    if len(steps) > 1 and np.median(np.diff(steps)) == 1:
        return "step"
    return "eval" if any(w in metric.lower().split("/")[0] for w in EVAL_WORDS) else "point"


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

    def apply(self, values: np.ndarray, steps: np.ndarray | None = None,
              breaks: Sequence[float] = ()) -> np.ndarray:
        """Smoothed copy of `values` (NaNs are ignored and keep their place).

        `breaks`: where known events (the SFT->RL switch, a resume) cut the run, as steps; a
        point at step s falls after a break b when s >= b (use b = step + 0.5 to keep the
        event's own step on the left). The curve is smoothed piece by piece, so a real jump
        stays a jump.
        """
        y = np.asarray(values, dtype=np.float64)
        if self.kind == "none" or y.size < 3:
            return y.copy()
        width = self.resolved_width(int(np.isfinite(y).sum()))
        smooth = _ema if self.kind == "ema" else _gaussian
        if steps is None or not len(breaks):
            return smooth(y, width)
        cuts = np.searchsorted(np.asarray(steps), sorted(breaks), side="left")
        return np.concatenate([smooth(piece, width) if piece.size else piece
                               for piece in np.split(y, cuts)])

    def describe(self, n_points: int, unit: str = "eval", short: bool = False) -> str:
        """E.g. 'Gaussian smooth, sd 5 evals' (for the legend; the window is centred).

        `short` gives only the width ('sd 25 steps'), for a second line that follows the first.
        """
        if self.kind == "none":
            return "no smoothing"
        width = self.resolved_width(n_points)
        shown = f"{width:g}"
        unit = unit if width == 1 else unit + "s"
        if short:
            return f"{'half-life' if self.kind == 'ema' else 'sd'} {shown} {unit}"
        if self.kind == "ema":
            return f"EMA, half-life {shown} {unit}"
        return f"Gaussian smooth, sd {shown} {unit}"


DEFAULT_SMOOTHING = Smoothing()


def _gaussian(y: np.ndarray, sd: float) -> np.ndarray:
    """Normalised Gaussian window; at the ends and around NaNs the weights are renormalised."""
    half = int(np.ceil(3 * sd))
    offsets = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (offsets / sd) ** 2)
    finite = np.isfinite(y)
    filled = np.where(finite, y, 0.0)
    # The centred part of the full convolution (mode="same" misbehaves when the kernel is longer).
    centre = slice(half, half + y.size)
    num = np.convolve(filled, kernel, mode="full")[centre]
    den = np.convolve(finite.astype(np.float64), kernel, mode="full")[centre]
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
