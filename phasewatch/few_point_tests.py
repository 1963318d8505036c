"""The tests a series of a few evaluations supports (`short_series`, `whole_run_trend`): a
rank test of a monotone trend (exact on a short series, ties included), and two t tests of a
change against the scatter it leaves out (a shift after the first evaluation, a straight line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phasewatch.signals import MIN_FOR_TREND

EXACT_TREND_MAX = 60  # longest series whose rank test is computed exactly
# longest series with tied values whose rank test is computed exactly, by enumerating the
# orderings (8! = 40,320); every series `analyze_short` tests has at most 5
EXACT_TIES_MAX = 8


def trend_test(steps: np.ndarray, y: np.ndarray, alternative: str = "two-sided") -> tuple[float, float]:
    """Kendall's tau of y against the steps and its exact p-value (`alternative`: "greater"
    for a rise expected in advance).

    With tied values scipy offers only the normal approximation, which on a few points is far
    from the truth and not on the safe side: 0.9735, 1.065, 1.116, 1.116 got p = 0.071 where 2
    of the 12 orderings of those values are as monotone (p = 0.167), and five values rising
    in two tied pairs (0.5, 0.5, 0.6, 0.7, 0.7: an accuracy on few items) p = 0.037, a
    "moderate confidence" trend, where the exact p is 0.067. So a short series with ties gets
    its exact p by enumerating the orderings (`_permutation_p`), and the text's "exact p" is
    true of every series `analyze_short` tests."""
    from scipy.stats import kendalltau  # imported here: 0.7 s that other commands do not pay

    if y.size < MIN_FOR_TREND or np.ptp(y) == 0:
        return 0.0, 1.0
    # exact without ties on a short series; the normal approximation on a long one (exact on
    # 2,800 values takes half a minute and agrees to many digits)
    tied = len(set(y.tolist())) < y.size
    exact = y.size <= EXACT_TREND_MAX and not tied
    result = kendalltau(steps, y, method="exact" if exact else "auto", alternative=alternative)
    if tied and y.size <= EXACT_TIES_MAX:
        return float(result.statistic), _permutation_p(y, alternative)
    return float(result.statistic), float(result.pvalue)


def _permutation_p(y: np.ndarray, alternative: str) -> float:
    """The exact p of Kendall's rank test of `y` (in step order, steps distinct) with ties:
    the share of the orderings of the same values whose score S (concordant minus discordant
    pairs; tau-b is S over a constant the ties fix) is as extreme. Equally likely under no
    trend, whatever the ties."""
    from itertools import permutations

    values = np.asarray(y, dtype=np.float64)
    later, earlier = np.triu_indices(values.size, 1)[::-1]

    def score(rows: np.ndarray) -> np.ndarray:
        return np.sign(rows[..., later] - rows[..., earlier]).sum(axis=-1)

    observed = score(values)
    null = score(values[np.array(list(permutations(range(values.size))))])
    if alternative == "greater":
        return float(np.mean(null >= observed))
    if alternative == "less":
        return float(np.mean(null <= observed))
    return float(np.mean(np.abs(null) >= abs(observed)))


@dataclass(frozen=True)
class ScatterTest:
    """A t test of a change against the scatter the change leaves out: the `change` in the
    series' units (higher is better), its `t`, the two-sided `p` and that scatter (`noise`, the
    noise sd the verdict was judged against, reported as the run's noise sd when it decides)."""

    change: float
    t: float
    p: float
    noise: float


def _two_sided_p(t: float, dof: int, known: bool) -> float:
    """Two-sided p of a t statistic with `dof` degrees of freedom, or of a z statistic when the
    noise was `known` (given by the user, not estimated from the same few values).

    From scipy.special's Student t distribution function (what `scipy.stats.t.sf` computes
    with), not scipy.stats: the live monitor refits a short run after each evaluation, and the
    first refit that tests a shift paid scipy.stats' 0.7 s import (scipy.special's: 0.1 s)."""
    if known:
        return math.erfc(abs(t) / math.sqrt(2.0))
    from scipy.special import stdtr  # imported here: what other commands do not pay

    return float(2.0 * stdtr(dof, -abs(t)))


def start_shift(y: np.ndarray, known_sd: float | None = None) -> ScatterTest | None:
    """The mean of the evaluations after the first against the first.

    The noise is the scatter s of the m later evaluations about their mean (m - 1 degrees of
    freedom): second differences would count the turn itself as noise. The first is one reading
    with the same noise, so the standard error of the change is s * sqrt(1 + 1/m). None for
    fewer than 3 later evaluations or when they are all equal. A `known_sd` (the user's)
    replaces s, and the test is a z test; then 2 later evaluations are enough."""
    rest = np.asarray(y[1:], dtype=np.float64)
    if rest.size < (2 if known_sd is not None else 3):
        return None
    scatter = float(np.std(rest, ddof=1)) if known_sd is None else float(known_sd)
    change = float(rest.mean() - y[0])
    if scatter <= 0:
        # every later evaluation the same value, the first another: a change that holds
        # exactly (a deterministic evaluation of a collapsed policy; trial 35: 0.597 then
        # 0.050, 0.050, 0.050 was a plateau "as good within the noise" as the start)
        return ScatterTest(change, math.copysign(math.inf, change), 0.0, 0.0) if change else None
    t = change / (scatter * float(np.sqrt(1.0 + 1.0 / rest.size)))
    return ScatterTest(change, t, _two_sided_p(t, rest.size - 1, known_sd is not None), scatter)


def line_trend(steps: np.ndarray, y: np.ndarray,
               known_sd: float | None = None) -> ScatterTest | None:
    """The least-squares line's change from the first to the last step and the t of its slope,
    the noise from the scatter about the line (n - 2 degrees of freedom). None for fewer than 3
    points; p = 0 when the points lie on the line exactly. A `known_sd` (the user's) replaces
    the scatter, and the test is a z test.

    Valid for white noise about a straight trend; a curved or stepped series leaves its bend in
    the scatter and is called less often, never more (with a known sd, the bend is not noise:
    a curved move is still a move)."""
    x = np.asarray(steps, dtype=np.float64)
    x = x - x.mean()
    dof = y.size - 2
    sxx = float(x @ x)
    if dof < 1 or sxx <= 0:
        return None
    slope = float(x @ (y - y.mean())) / sxx
    residuals = y - y.mean() - slope * x
    change = slope * float(x[-1] - x[0])
    var = float(residuals @ residuals) / dof if known_sd is None else float(known_sd) ** 2
    if var <= 0:  # on the line exactly: any slope is certain, none is no trend
        return ScatterTest(change, float(np.sign(slope)) * float("inf"), 0.0 if slope else 1.0,
                           0.0)
    t = slope / float(np.sqrt(var / sxx))
    return ScatterTest(change, t, _two_sided_p(t, dof, known_sd is not None), float(np.sqrt(var)))
