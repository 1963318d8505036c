"""Several runs of one arm (seeds): their mean, a band, and the mean's recommended stop.

The band (`band_limits`, the comparison figure's and the report's) is by default a t-interval
for the mean of the seeds' smoothed curves at each step (mean +- t(0.975, k-1) * sd / sqrt(k) for
k seeds with a value there): what a reader needs to judge whether two arms differ, which a
min-max range (it widens with every seed added) is not, nor +-1 se (with 3 seeds a 58% interval,
which makes arms look different that are not). `sd` (the seeds' spread, which does not shrink
with more seeds), `se` and `minmax` are there for the paper whose convention they are.
With 3 seeds the t-interval is mean +- 2.48 sd: on an accuracy it reached 1.335 and the NLL's
went below 0 (trial 40e), so a band is cut at the bounds the metric is known to have
(`metric_bounds`), and the legend says so.
The recommended stop is that of the mean of the seeds' RAW values, analysed like one run with
the options the seeds were analysed with (`mean_options`), so it is a property of the arm, not of
a lucky seed; it is not any seed's stop, and the legend says "stop of the mean".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from phasewatch.errors import UsageError
from phasewatch.plot.smoothing import Smoothing, event_breaks
from phasewatch.run import RecordCollector, Run


@dataclass
class SeedCurves:
    steps: np.ndarray
    mean: np.ndarray      # mean of the smoothed seed curves
    low: np.ndarray       # confidence band
    high: np.ndarray
    raw_mean: np.ndarray  # mean of the raw values (what is analysed)
    n: int
    fewest: int           # fewest seeds behind any finite value of raw_mean
    cut: str = ""         # where the band was cut at the metric's bounds ("cut at 1")


def t_quantile(level: float, dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + level / 2, dof))


BANDS = ("ci95", "sd", "se", "minmax")
# a rate's words: a metric named so whose values all lie in [0, 1] is bounded there
RATE_WORDS = frozenset({"accuracy", "acc", "pass", "rate", "match", "em", "f1", "precision",
                        "recall", "auc", "correct", "success", "win"})


# how wide each band is with few seeds, for a reader of the report
BAND_NOTES = {"ci95": "t interval; with few seeds it is wide: 2 seeds give the mean \u00b19 sd "
                      "of the seeds, 3 seeds \u00b12.5 sd",
              "sd": "the seeds' spread, which more seeds do not narrow",
              "se": "sd / \u221ak: with 3 seeds a 58% interval of the mean",
              "minmax": "the lowest to the highest seed"}


def band_label(kind: str, level: float = 0.95) -> str:
    """What the band is, for a legend."""
    if kind == "ci95":
        return f"{level:.0%} CI of the mean"
    return {"sd": "mean \u00b1 1 sd of the seeds", "se": "mean \u00b1 1 se",
            "minmax": "range of the seeds"}[kind]


def band_limits(values: np.ndarray, kind: str = "ci95", level: float = 0.95):
    """(mean, low, high) over the rows of `values` (seeds x points, NaN where a seed has no
    value), per point: `ci95` the t-interval of the mean at `level` (t(k-1) sd / sqrt(k)),
    `sd` mean +- the seeds' sd, `se` mean +- sd / sqrt(k), `minmax` the seeds' range; NaN
    where fewer than two seeds have a value."""
    if kind not in BANDS:
        raise UsageError(f"band must be one of {', '.join(BANDS)}, got {kind!r}")
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        mean = np.nanmean(values, 0)
        k = np.isfinite(values).sum(0)
        sd = np.nanstd(values, 0, ddof=1)
        if kind == "minmax":
            low, high = np.nanmin(values, 0), np.nanmax(values, 0)
            low[k < 2], high[k < 2] = np.nan, np.nan
            return mean, low, high
    half = np.full(mean.size, np.nan)
    for count in np.unique(k[k >= 2]):
        at = k == count
        scale = {"sd": 1.0, "se": 1 / math.sqrt(count),
                 "ci95": t_quantile(level, int(count) - 1) / math.sqrt(count)}[kind]
        half[at] = scale * sd[at]
    return mean, mean - half, mean + half


def metric_bounds(metric: str, values) -> tuple[float | None, float | None]:
    """The bounds a metric is known to have, from its name and `values` (an array, or a list
    of the seeds' arrays): a rate (a word of
    `RATE_WORDS`: accuracy, pass@k, exact match...) whose values all lie in [0, 1] is in [0, 1];
    a loss, an NLL, a perplexity (`says_lower_is_better`), a KL or an entropy whose values are
    all >= 0 cannot go below 0. Else (None, None): a reward or a score may be anything."""
    from phasewatch.direction_words import name_words, says_lower_is_better

    parts = values if isinstance(values, (list, tuple)) else [values]  # seeds of any lengths
    y = np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in parts] or [[]])
    y = y[np.isfinite(y)]
    if y.size == 0:
        return None, None
    words = set(name_words(metric))
    if words & RATE_WORDS and y.min() >= 0 and y.max() <= 1:
        return 0.0, 1.0
    if (says_lower_is_better(metric) or words & {"kl", "entropy"}) and y.min() >= 0:
        return 0.0, None
    return None, None


def joined_cuts(cuts) -> str:
    """Several bands' `clip_band` notes as one: "cut at 0" and "cut at 1" -> "cut at 0 and 1"
    ("" when none was cut)."""
    at = sorted({b for c in cuts if c for b in c.removeprefix("cut at ").split(" and ")}, key=float)
    return f"cut at {' and '.join(at)}" if at else ""


def clip_band(low: np.ndarray, high: np.ndarray, bounds) -> tuple[np.ndarray, np.ndarray, str]:
    """The band cut at `bounds` (`metric_bounds`), and what to say in the legend when it was
    cut somewhere ("", else "cut at 1", "cut at 0", "cut at 0 and 1")."""
    lo, hi = bounds
    cut = []
    if lo is not None and np.nanmin(low, initial=np.inf) < lo:
        low, cut = np.maximum(low, lo), [*cut, f"{lo:g}"]
    if hi is not None and np.nanmax(high, initial=-np.inf) > hi:
        high, cut = np.minimum(high, hi), [*cut, f"{hi:g}"]
    return low, high, ("cut at " + " and ".join(cut)) if cut else ""


def seed_curves(runs: Sequence[Run], metric: str, smoothing: Smoothing,
                level: float = 0.95, breaks: Sequence[float] = (),
                band: str = "ci95") -> SeedCurves | None:
    """Each seed smoothed on its own steps (cut at its events and at `breaks`, the group's
    trough), then put on the steps of the longest seed (NaN outside a seed's own range:
    no extrapolation); the `band` of `band_limits`, cut at the metric's bounds (`cut` says
    where, for the legend)."""
    curves = []
    for run in runs:
        try:
            series = run.series(metric)
        except UsageError:
            continue
        if series.empty:
            continue
        steps = series.index.to_numpy(dtype=np.float64)
        values = series.to_numpy()
        cuts = sorted({*event_breaks(run.events), *breaks})
        curves.append((steps, smoothing.apply(values, steps, cuts), values))
    if not curves:
        return None
    grid = max(curves, key=lambda c: c[0].size)[0]

    def on_grid(s, y):
        return np.where((grid >= s[0]) & (grid <= s[-1]), np.interp(grid, s, y), np.nan)

    smooth = np.vstack([on_grid(s, y) for s, y, _ in curves])
    raw = np.vstack([on_grid(s, r) for s, _, r in curves])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        raw_mean = np.nanmean(raw, 0)
    mean, low, high = band_limits(smooth, band, level)
    low, high, cut = clip_band(low, high, metric_bounds(metric, raw))
    behind = np.isfinite(raw).sum(0)[np.isfinite(raw_mean)]
    fewest = int(behind.min()) if behind.size else 0
    return SeedCurves(grid, mean, low, high, raw_mean, len(curves), fewest, cut)


def mean_options(options: Mapping[str, Any], curves: SeedCurves) -> dict[str, Any]:
    """The analyze options of the seeds, for the mean of their raw values: the same options,
    with the noise of one evaluation (`noise_sd`, `eval_size`) turned into the noise of a mean
    of `curves.fewest` evaluations (sd / sqrt(k), k times the items): told the noise of one
    evaluation, the mean of 3 seeds would otherwise be judged against sqrt(3) times its own
    noise. The fewest seeds at any step: where fewer seeds have a value the mean is noisier,
    and a noise too small would make its noise look like phases."""
    out = dict(options)
    k = max(curves.fewest, 1)
    if out.get("noise_sd") is not None:
        out["noise_sd"] = float(out["noise_sd"]) / math.sqrt(k)
    if out.get("eval_size") is not None:
        out["eval_size"] = int(out["eval_size"]) * k
    return out


def mean_run(runs: Sequence[Run], metric: str, curves: SeedCurves, name: str) -> Run:
    """The seeds' mean raw series as a Run of its own (events and metadata of the first seed)."""
    first = runs[0]
    own = first.resolve_metric(metric)
    collector = RecordCollector(f"mean of {len(runs)} runs ({name})", "mean")
    for step, value in zip(curves.steps, curves.raw_mean):
        if np.isfinite(value):
            collector.add(int(step), {own: float(value)})
    return collector.build(name=name, algorithm=first.algorithm, performance_metric=own,
                           direction=first.direction, events=list(first.events))
