"""Several runs of one arm (seeds): their mean, a confidence band, and the mean's recommended stop.

The band is a t-interval for the mean of the seeds' smoothed curves at each step
(mean +- t(0.975, k-1) * sd / sqrt(k) for k seeds with a value there): what a reader needs to
judge whether two arms differ, which a min-max range (it widens with every seed added) is not.
The recommended stop is that of the mean of the seeds' RAW values, analysed like one run with
the options the seeds were analysed with (`mean_options`), so it is a property of the arm, not of
a lucky seed.
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


def t_quantile(level: float, dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + level / 2, dof))


def seed_curves(runs: Sequence[Run], metric: str, smoothing: Smoothing,
                level: float = 0.95, breaks: Sequence[float] = ()) -> SeedCurves | None:
    """Each seed smoothed on its own steps (cut at its events and at `breaks`, the group's
    trough), then put on the steps of the longest seed (NaN outside a seed's own range:
    no extrapolation)."""
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
        mean = np.nanmean(smooth, 0)
        raw_mean = np.nanmean(raw, 0)
        k = np.isfinite(smooth).sum(0)
        sd = np.nanstd(smooth, 0, ddof=1)
    behind = np.isfinite(raw).sum(0)[np.isfinite(raw_mean)]
    fewest = int(behind.min()) if behind.size else 0
    half = np.full(grid.size, np.nan)
    for count in np.unique(k[k >= 2]):
        at = k == count
        half[at] = t_quantile(level, int(count) - 1) * sd[at] / np.sqrt(count)
    return SeedCurves(grid, mean, mean - half, mean + half, raw_mean, len(curves), fewest)


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
