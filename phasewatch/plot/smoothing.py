"""Smoothing for display, and the sentence that states it in the legend.

The width is a length on the x axis, in TRAINING STEPS, whatever the series: a panel of
per-step entropy and a panel of evaluations every 10 steps are smoothed over the same stretch of
training, and the legend states one number in one unit ("Gaussian smooth, sd 30 steps").

The default is a CENTRED Gaussian window, not an EMA: an EMA lags by about its half-life, which
would move the smoothed trough and peak to the right of the phase boundaries the detector reports.
Near the ends of a series (and of each piece between known events) the window shrinks so that it
stays symmetric: a one-sided window on a falling curve would start the line well below the first
value (a run starting at 0.546 and falling fast would appear to start at 0.49). The first
point of the line, and its ends at each cut, are therefore the data's own; the run's last
stretch ends on a local line through the points before its end (`_local_line`), as a noisy
last reading drew a surge or a crash there. Smoothing is for the eye only; the detector never
sees it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KINDS = ("gaussian", "ema", "none")
DENSE_POINTS = 200  # series longer than this are drawn as faint raw lines with smoothing on top
DEFAULT_FRACTION = 60  # default width: 1/60 of the drawn step range


EVAL_WORDS = ("eval", "val", "test")


def unit_for(steps: np.ndarray, metric: str = "") -> str:
    """What one point of a series is, for the legend: 'step' (logged every step), 'eval' (an
    evaluation metric logged now and then) or 'point'."""
    if len(steps) > 1 and np.median(np.diff(steps)) == 1:
        return "step"
    return "eval" if any(w in metric.lower().split("/")[0] for w in EVAL_WORDS) else "point"


def spacing(steps: np.ndarray | None) -> float:
    """Typical distance between points in steps (the median; 1 without steps)."""
    if steps is None or len(steps) < 2:
        return 1.0
    gap = float(np.median(np.diff(np.asarray(steps, dtype=np.float64))))
    return gap if gap > 0 else 1.0


@dataclass(frozen=True)
class Smoothing:
    """`kind` in KINDS; `width` in training steps: the Gaussian sd or the EMA half-life.

    `width=None` picks one from the drawn range (`resolved(first, last)`): 1/60 of it, so a
    2000-step run gets sd 33 steps. A figure resolves it once, so every panel uses the same width.
    """

    kind: str = "gaussian"
    width: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"smoothing kind must be one of {KINDS}, got {self.kind!r}")
        if self.width is not None and not self.width > 0:
            raise ValueError(f"smoothing width must be positive, got {self.width!r}")

    def resolved(self, first: float, last: float, xlim: Sequence[float] | None = None) -> Smoothing:
        """This smoothing with its width fixed for a figure spanning steps first..last, or the
        part of them the user's step limits `xlim` draw (a zoom on steps 0-400 of a 2,000-step
        run was smoothed 33 steps wide, and a jump at 40-60 was drawn lasting to 150)."""
        if self.width is not None or self.kind == "none":
            return self
        if xlim is not None and min(last, xlim[1]) > max(first, xlim[0]):
            first, last = max(first, xlim[0]), min(last, xlim[1])
        span = float(last - first)
        if span <= 0:
            return Smoothing(self.kind, 1.0)
        # whole steps, but no step-wide floor: a run of 19 epochs logged as steps 0-18 was
        # smoothed 1 step (= its spacing) wide, and its best (epoch 2) drew at epoch 3 (trial 39c)
        width = span / DEFAULT_FRACTION
        return Smoothing(self.kind, float(round(width)) if width >= 1 else float(f"{width:.2g}"))

    def width_steps(self, steps: np.ndarray | None = None) -> float:
        if self.width is not None:
            return float(self.width)
        if steps is None or len(steps) < 2:
            return 1.0
        return self.resolved(float(steps[0]), float(steps[-1])).width or 1.0

    def apply(self, values: np.ndarray, steps: np.ndarray | None = None,
              breaks: Sequence[float] = (), log: bool = False) -> np.ndarray:
        """Smoothed copy of `values` (NaNs are ignored and keep their place).

        `log`: smooth the values' logarithms, for a log axis (`_draw.log_axis_if_spanning`):
        a mean of 2.0 and 0.002 is 1.0 on it, two decades above the later value, and a curve
        smoothed in the values' own units ran a whole fall's width behind its points there.

        `steps` give the x positions (the width is in steps; without them, in points).
        `breaks`: where known events (the SFT->RL switch, a resume) cut the run, as steps; a
        point at step s falls after a break b when s >= b (use b = step + 0.5 to keep the
        event's own step on the left). The curve is smoothed piece by piece, so a real jump
        stays a jump.
        """
        y = np.asarray(values, dtype=np.float64)
        if self.kind == "none" or y.size < 3:
            return y.copy()
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                return 10.0 ** self.apply(np.where(y > 0, np.log10(y), np.nan), steps, breaks)
        # the width in this series' points (its median spacing): one width in steps everywhere
        width = self.width_steps(steps) / spacing(steps)
        if self.kind == "ema":
            return _ema(y, width)
        pieces = [y] if steps is None or not len(breaks) else np.split(
            y, np.searchsorted(np.asarray(steps), sorted(breaks), side="left"))
        last = len(pieces) - 1
        return np.concatenate([_gaussian(piece, width, open_end=k == last) if piece.size else piece
                               for k, piece in enumerate(pieces)])

    def describe(self, steps: np.ndarray | None = None) -> str:
        """E.g. 'Gaussian smooth, sd 30 steps' (for the legend; the window is centred). Given the
        series' steps, a Gaussian of sd at most a third of their spacing (a neighbour's weight
        1% or less) is said to join the evaluations: on a run evaluated every 100 steps, 'sd 33
        steps' would claim a smoothing the line does not have, and the sd of a smoothing
        that does nothing read as a property of the line (trial 36b)."""
        if self.kind == "none":
            return "no smoothing"
        width = self.width_steps(steps)
        unit = unit_of(width)
        if self.kind == "ema":
            return f"EMA, half-life {width:g} {unit}"
        if self.joins(steps):
            gap = spacing(steps)
            return f"evaluations joined by lines ({gap:g} {unit_of(gap)} apart)"
        return f"Gaussian smooth, sd {width:g} {unit}"

    def joins(self, steps: np.ndarray | None) -> bool:
        """Whether this Gaussian only joins the points at `steps` by lines: its sd is at most a
        third of their spacing, a neighbour's weight 1% or less."""
        return (self.kind == "gaussian" and steps is not None and len(steps) > 1
                and self.width_steps(steps) <= spacing(steps) / 3)

    def for_series(self, steps: np.ndarray | None, figure: Smoothing,
                   xlim: Sequence[float] | None = None) -> Smoothing:
        """The smoothing a figure of several runs draws the series at `steps` with: `figure`,
        the one it resolved for its whole step range, unless the single-run figure would join
        the series' points by lines (`resolved` over its own steps, then `joins`); then that
        one. A comparison smoothed tb-hf-cls-5ev's 5 evaluations 4 steps apart with the sd of
        50 steps resolved for hf-ai-detector-3ev's 3,000, drew 0.4377 at step 8 where 0.3939
        was logged, and said "Gaussian smooth, sd 50 steps"; its own figure joins them (trial
        40b)."""
        if steps is None or len(steps) < 2:
            return figure
        own = self.resolved(float(steps[0]), float(steps[-1]), xlim)
        return own if own.joins(steps) else figure


HELD_SDS = 4.0  # how far (noise sds of its part of the run) the line may pass an evaluation


def held_to_points(curve: np.ndarray, values: np.ndarray, noise_sd: float | None) -> np.ndarray:
    """`curve`, the smoothing of `values`, kept within HELD_SDS noise sds of each of them: a
    window that moves the line further than that from an evaluation is not averaging noise
    out but drawing over a turn the data make between two evaluations. The noise is that of
    the part of the run the evaluation lies in (`outliers.local_scale` of the analysis' noise
    sd), so a stretch that scatters more than the rest (a policy-gradient validation reward's
    early rise, 5 times its plateau's noise) keeps its smoothing. A from-scratch LM evaluated
    at step 0 (val loss 9.27, then 3.01 at step 200, 2.37 at 400, noise sd 0.0095) drew 4.39
    at step 200, 146 noise sds above the point it stands for, beside "Gaussian smooth, sd 167
    steps" (jsonl-cs336-prenorm-valloss-51); its lr-0.1 run's best early reading, 3.0, drew
    at 4.9. Only for a series of up to DENSE_POINTS values, each drawn as a point the line is
    read against; a denser one's line stands for the trend of many readings drawn faint
    beneath it. Unchanged without a noise sd (None, or 0 for values on exact lines). The local
    noise leaves out each stretch's largest difference (`turn_out`): a one-evaluation cliff
    onto a constant floor was its own yardstick, and the line drew it as a slope across two
    evaluations, 9 and 10 noise sds off them (csv-lightning-yolov3-valacc-35)."""
    if not noise_sd or not np.isfinite(noise_sd) or not 0 < values.size <= DENSE_POINTS:
        return curve
    from phasewatch.outliers import local_scale

    reach = HELD_SDS * local_scale(values, float(noise_sd), turn_out=True)
    with np.errstate(invalid="ignore"):
        return np.clip(curve, values - reach, values + reach)


def unit_of(count: float) -> str:
    return "step" if count == 1 else "steps"


# a length in steps as `Smoothing.describe` says it: "sd 30 steps", "half-life 5 steps",
# "(100 steps apart)"
_WIDTH_SAID = re.compile(r"\b(sd|half-life) ([\d.e+-]+) steps?\b|\(([\d.e+-]+) steps? apart\)")


def widths_in_unit(fig, axis) -> None:
    """Restate the lengths the legends give in steps (the smoothing's sd or half-life, the
    spacing of evaluations joined by lines) in the unit of the x axis `axis` (`xaxis.XAxis`) the
    figure was relabelled to, at its counter's mean rate over the run: beside an axis in
    epochs, "sd 6 steps" named a unit the figure shows nowhere; it reads "sd 0.06 epochs" where
    an epoch is 100 steps. A figure whose own steps count the unit says so already
    (`in_step_unit`)."""
    rate = rate_of(axis.values_at, axis.steps) if len(axis.steps) > 1 else 0.0
    if not (np.isfinite(rate) and rate > 0):
        return
    unit = axis.unit
    axes = [ax for ax in fig.axes if ax.get_visible()]
    legends = [*fig.legends, *(ax.get_legend() for ax in axes)]
    for legend in (legend for legend in legends if legend is not None):
        for text in [*legend.get_texts(), legend.get_title()]:
            restated = widths_said_in(text.get_text(), unit, rate)
            if restated != text.get_text():
                text.set_text(restated)


def widths_said_in(text: str, unit: str, rate: float) -> str:
    """`text` with each length it gives in steps as `Smoothing.describe` says it (`_WIDTH_SAID`)
    said in `unit` ("epoch", "tokens", "samples") at `rate` of it a step: "sd 0.06 epochs"."""
    noun = unit.removesuffix("s")  # "epoch", "token", "sample"

    def said(found: re.Match) -> str:
        length = f"{float(found[2] or found[3]) * rate:.3g}"
        words = f"{length} {noun}" if length == "1" else f"{length} {noun}s"
        return f"{found[1]} {words}" if found[1] else f"({words} apart)"

    return _WIDTH_SAID.sub(said, text)


def rate_of(to_unit, steps: np.ndarray) -> float:
    """How much of a unit a step is, on average over `steps` (`to_unit`: steps -> the unit)."""
    lo, hi = float(np.min(steps)), float(np.max(steps))
    if hi <= lo:
        return 0.0
    ends = np.asarray(to_unit(np.array([lo, hi])), dtype=np.float64)
    return float(ends[1] - ends[0]) / (hi - lo)


DEFAULT_SMOOTHING = Smoothing()


# Events the smoothing window crosses: an epoch boundary makes no jump in a held-out metric (the
# analysis does not restart phases there either), and cut at each of them a run's line ended
# in a raw reading at every boundary (a TRL GRPO reward: its peaks and its crash sat exactly on
# the epoch lines).
SMOOTHED_ACROSS = ("epoch_boundary",)


def event_breaks(events) -> list[float]:
    """Where each event cuts the run, for piecewise smoothing (not at `SMOOTHED_ACROSS`).

    The trainer logs `sft_to_rl` at the last SFT step (its eval is still pre-RL), so that cut
    falls after the event's step; a `resume` event is the first record of the resumed run, so
    that cut (and any other) falls before it.
    """
    return [e.step + 0.5 if e.name == "sft_to_rl" else e.step - 0.5 for e in events
            if e.name not in SMOOTHED_ACROSS]


def smoothing_breaks(events, analysis=None) -> list[float]:
    """Where the display smoothing is cut: at known events (`event_breaks`) and, for the
    analysed metric, at the trough that ends a disruption. A window across that V fills it in
    (the sample SFT run's trough at 0.02 drew at 0.10 with sd 33 steps); cut there, the line
    reaches the trough the data reach. Nothing else is cut: near a cut the window shrinks to a
    few points, so every cut leaves a noisy end, and the other turns (an overfit's peak, a bend
    between two rises) are broad enough for the window to draw them within the noise.
    """
    cuts = event_breaks(events)
    if analysis is not None:
        cuts += [phase.end_step + 0.5 for phase in analysis.phases if phase.name == "disruption"]
    return sorted(set(cuts))


def _gaussian(y: np.ndarray, sd: float, open_end: bool = False) -> np.ndarray:
    """Normalised Gaussian window, symmetric everywhere: within `half` points of an end the
    window is cut to the same number of points on both sides (the end point is itself), so a
    trend is not pulled towards the inside of the series. Around NaNs the weights are
    renormalised. With `open_end` (the run's last stretch, which no known event or turn cuts),
    the points within `half` of the last are a Gaussian-weighted local line instead
    (`_local_line`): the raw last reading of a noisy batch reward drew a surge or a crash where
    a reader looks to see whether the run still rises (trials 36b, 37b)."""
    sd = max(sd, 1e-3)
    half = int(np.ceil(3 * sd))
    offsets = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (offsets / sd) ** 2)
    finite = np.isfinite(y)
    filled = np.where(finite, y, 0.0)
    # The centred part of the full convolution (mode="same" misbehaves when the kernel is longer).
    centre = slice(half, half + y.size)
    num = np.convolve(filled, kernel, mode="full")[centre]
    den = np.convolve(finite.astype(np.float64), kernel, mode="full")[centre]
    n = y.size
    for i in [*range(min(half, n)), *range(max(n - half, half), n)]:
        m = min(i, n - 1 - i)  # points available on the shorter side
        w = kernel[half - m: half + m + 1]
        num[i] = float(np.dot(w, filled[i - m: i + m + 1]))
        den[i] = float(np.dot(w, finite[i - m: i + m + 1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    if open_end and n > 2 * half:
        for i in range(n - half, n):
            out[i] = _local_line(filled, finite, kernel, half, i)
    out[~finite] = np.nan
    return out


def _local_line(filled: np.ndarray, finite: np.ndarray, kernel: np.ndarray, half: int,
                i: int) -> float:
    """The value at point `i` of the least-squares line through the points within `half` of it
    (those there are: near the end, only before it), weighted by the Gaussian `kernel`: a trend
    is followed to the end, not pulled towards the inside as a one-sided mean would pull it.
    The value stays within the range of the points the line is fitted to, as a mean of them
    does: a line through a GRPO reward pinned at 0 with one 0.0625 batch near the end drew the
    run's last step at -0.0025, below every value the reward can take (trl-grpo-redteam), and
    one through an accuracy saturating at 1.0 would draw above it."""
    lo, hi = i - half, min(i + half, filled.size - 1)
    t = np.arange(lo, hi + 1, dtype=np.float64) - i
    w = kernel[:hi - lo + 1] * finite[lo:hi + 1]
    if w.sum() <= 0:
        return float("nan")
    x, y = t, filled[lo:hi + 1]
    mx, my = np.dot(w, x) / w.sum(), np.dot(w, y) / w.sum()
    sxx = float(np.dot(w, (x - mx) ** 2))
    slope = float(np.dot(w, (x - mx) * (y - my))) / sxx if sxx > 0 else 0.0
    fitted = y[w > 0]
    return float(np.clip(my - slope * mx, fitted.min(), fitted.max()))


def _ema(y: np.ndarray, half_life: float) -> np.ndarray:
    """Bias-corrected EMA (like pandas `ewm(halflife=..., adjust=True)`), NaNs skipped."""
    decay = 0.5 ** (1.0 / max(half_life, 1e-3))
    out = np.full_like(y, np.nan)
    num = den = 0.0
    for i, value in enumerate(y):
        if np.isfinite(value):
            num = decay * num + value
            den = decay * den + 1.0
            out[i] = num / den
    return out
