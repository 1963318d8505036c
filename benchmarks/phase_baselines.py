"""Standard methods that answer the same question as `analyze_run`, for side-by-side scoring.

The project's rule is that a target out of reach is reported beside the best known method on
the same data. These comparators produce the same kind of answer as the detector (a
`phasewatch.results.Analysis`: named phases with boundary steps and a baseline), so
`bench_phase_accuracy.py` and `bench_real_corpus.py` score them with the same scorer:

- `segmented`: continuous piecewise-linear regression with 0-3 breakpoints at evaluation steps,
  the number chosen by BIC (the method of R's `segmented` package, Muggeo 2003, with an exhaustive
  grid instead of its iterative search, so the least-squares optimum is found on short series);
- `pelt`: ruptures' PELT with the `linear` cost (a least-squares line per segment, against the
  step) and a BIC-like penalty `c sigma^2 log n` (c = 3 would count two coefficients and a
  location per change; c = 8 was chosen on the tuning seeds), sigma from the median absolute
  first difference;
- `segmented-oracle`, `pelt-oracle`: the same, told the true noise sd (synthetic runs only), to
  show what the information in a run of that cadence supports.

Both see the finite values only, turned so higher is better; neither removes outliers (the
standard methods do not). One naming rule, `name_segments`, turns either fit into phases; its
threshold was chosen on seeds below 5000 (`tune_phase_baselines.py`), never on report seeds.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from phasewatch.results import Analysis, ChangePoint, Phase
from phasewatch.run import Run
from phasewatch.signals import choose_direction, choose_metric

METHODS = ("segmented", "pelt", "segmented-oracle", "pelt-oracle")


@dataclass
class BaselineConfig:
    """Settings shared by the comparators (defaults chosen on seeds < 5000)."""

    # a segment is a trend when its change exceeds k_sd noise sds (per method: each judges
    # against its own sd estimate, so each gets the threshold that suits it best)
    k_sd: dict[str, float] = field(default_factory=lambda: {
        "segmented": 3.0, "pelt": 4.0, "segmented-oracle": 3.0, "pelt-oracle": 4.0})
    max_breaks: int = 3       # segmented: 0..max_breaks breakpoints
    grid: int = 40            # segmented: candidate breakpoints searched exhaustively (then refined)
    min_gap: int = 2          # segmented: evaluations between breakpoints (and from the ends);
    #                           1 scored 0.725 against 0.771 at the best k_sd (tuning seeds)
    min_df: int = 1           # segmented, estimated noise: residual degrees of freedom kept
    pelt_min_size: int = 3    # pelt: fewest evaluations per segment (a line plus one residual)
    # pelt: penalty = pelt_pen * sigma^2 * log(n); the textbook 3 (two coefficients and a
    # location) cuts saturating curves and AR(1) wanders into many lines: 8 scored 0.704, 3 0.638
    pelt_pen: float = 8.0

    def k_sd_of(self, method: str) -> float:
        return self.k_sd[method]


@dataclass
class Fit:
    """A piecewise-linear fit: segment k covers evaluation indices cuts[k]..cuts[k+1]; it starts at
    fitted level starts[k] and ends at ends[k] (continuous fits: starts[k+1] == ends[k])."""

    cuts: list[int]
    starts: list[float]
    ends: list[float]
    sd: float  # the noise sd the trends are judged against


# --------------------------------------------------------------------------- series
def noise_sd_diff(y: np.ndarray) -> float:
    """Noise sd from first differences (1.4826 * MAD / sqrt 2): the textbook robust estimate that
    a trend barely inflates. Floored so a constant series does not divide by zero."""
    if y.size < 3:
        return float(max(np.ptp(y), 1e-12))
    d = np.diff(y)
    sd = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2)
    return max(sd, 1e-9 * max(float(np.abs(y).max()), 1.0))


def _unit_time(steps: np.ndarray) -> np.ndarray:
    """Steps mapped onto [0, 1] (well-conditioned design matrices)."""
    span = float(steps[-1] - steps[0]) or 1.0
    return (steps.astype(np.float64) - float(steps[0])) / span


# --------------------------------------------------------------------------- segmented regression
def _design(t: np.ndarray, knots: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones_like(t), t, *(np.maximum(t - t[j], 0.0) for j in knots)])


def _rss(t: np.ndarray, y: np.ndarray, knots) -> float:
    x = _design(t, np.asarray(knots, dtype=int))
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ beta
    return float(r @ r)


def _best_with_k(t: np.ndarray, y: np.ndarray, cands: np.ndarray, k: int,
                 min_gap: int) -> tuple[float, tuple[int, ...]]:
    """Least-squares optimum over every k-subset of the candidate knots (batched normal equations
    from one Gram matrix of [1, t, hinge at each candidate])."""
    if k == 0:
        return _rss(t, y, []), ()
    x = _design(t, cands)
    gram, xy, yy = x.T @ x, x.T @ y, float(y @ y)
    combos = [c for c in itertools.combinations(range(cands.size), k)
              if all(cands[b] - cands[a] >= min_gap for a, b in itertools.pairwise(c))]
    if not combos:
        return math.inf, ()
    cols = np.array([(0, 1, *(2 + j for j in c)) for c in combos])
    a = gram[cols[:, :, None], cols[:, None, :]]
    b = xy[cols]
    a = a + 1e-12 * np.trace(gram) * np.eye(k + 2)  # adjacent hinges are nearly collinear
    beta = np.linalg.solve(a, b[..., None])[..., 0]
    rss = yy - np.einsum("mp,mp->m", beta, b)
    best = int(np.argmin(rss))
    knots = tuple(int(cands[j]) for j in combos[best])
    return _rss(t, y, knots), knots  # recomputed directly: the normal equations lose digits


def _refine(t: np.ndarray, y: np.ndarray, knots: tuple[int, ...], rss: float, n: int,
            min_gap: int) -> tuple[float, tuple[int, ...]]:
    """Move each knot one evaluation at a time while the fit improves (the grid was coarser than
    the evaluations)."""
    knots_l = list(knots)
    improved = True
    while improved:
        improved = False
        for i in range(len(knots_l)):
            for move in (-1, 1):
                trial = knots_l.copy()
                trial[i] += move
                lo = trial[i - 1] + min_gap if i else min_gap
                hi = trial[i + 1] - min_gap if i + 1 < len(trial) else n - 1 - min_gap
                if not lo <= trial[i] <= hi:
                    continue
                r = _rss(t, y, trial)
                if r < rss - 1e-15 * max(rss, 1.0):
                    rss, knots_l, improved = r, trial, True
    return rss, tuple(knots_l)


def segmented_fit(steps: np.ndarray, y: np.ndarray, cfg: BaselineConfig,
                  oracle_sd: float | None = None) -> Fit:
    """Continuous piecewise-linear fit with the number of breakpoints chosen by BIC:
    n log(RSS/n) + p log n with p = 2 + 2k (intercept, slope, and per breakpoint a slope change
    and a location, as `segmented` counts them); told the noise sd, RSS/sd^2 + p log n."""
    n = y.size
    t = _unit_time(steps)
    cands = np.arange(cfg.min_gap, n - cfg.min_gap)
    if cands.size > cfg.grid:
        cands = np.unique(np.linspace(cfg.min_gap, n - 1 - cfg.min_gap, cfg.grid).round()
                          .astype(int))
    best: tuple[float, float, tuple[int, ...]] | None = None
    for k in range(cfg.max_breaks + 1):
        p = 2 + 2 * k
        if oracle_sd is None and n - (2 + k) < max(cfg.min_df, 1) or k > cands.size:
            break
        if oracle_sd is not None and 2 + k > n:
            break
        rss, knots = _best_with_k(t, y, cands, k, cfg.min_gap)
        if not math.isfinite(rss):
            break
        if k and cands.size < n - 2 * cfg.min_gap:
            rss, knots = _refine(t, y, knots, rss, n, cfg.min_gap)
        if oracle_sd is None:
            # an exact fit (RSS 0) would score minus infinity: floor it at rounding level
            floor = max(1e-20 * float(y @ y), 1e-300)
            crit = n * math.log(max(rss, floor) / n) + p * math.log(n)
        else:
            crit = rss / oracle_sd ** 2 + p * math.log(n)
        if best is None or crit < best[0]:
            best = (crit, rss, knots)
    assert best is not None  # k = 0 always fits (n >= 3)
    _, rss, knots = best
    x = _design(t, np.asarray(knots, dtype=int))
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    fitted = x @ beta
    cuts = [0, *knots, n - 1]
    if oracle_sd is not None:
        sd = oracle_sd
    else:
        sd = math.sqrt(rss / max(n - (2 + len(knots)), 1))
    return Fit(cuts, [float(fitted[a]) for a in cuts[:-1]],
               [float(fitted[b]) for b in cuts[1:]], sd)


# --------------------------------------------------------------------------- PELT (ruptures)
def _linear_cost_class():
    """ruptures' `linear` cost for the design [1, t], from prefix sums: the same least-squares
    residual per segment in O(1) instead of a `lstsq` per call (PELT on 300 evaluations took
    ~2.4 s with the built-in cost; the test checks both give the same breakpoints)."""
    from ruptures.base import BaseCost
    from ruptures.costs import NotEnoughPoints

    class CostLinearTrend(BaseCost):
        """Residual sum of squares of a least-squares line y ~ a + b t on the segment."""

        model = "linear_trend"

        def __init__(self, min_size: int = 3) -> None:
            self.min_size = min_size
            self.signal = None  # ruptures reads the length from it
            self.sums = None

        def fit(self, signal: np.ndarray) -> CostLinearTrend:
            """`signal`: columns y and t."""
            self.signal = signal
            y, t = signal[:, 0], signal[:, 1]
            cols = np.column_stack([np.ones_like(t), t, t * t, y, t * y, y * y])
            # Python floats: PELT calls `error` ~n^2/2 times, numpy scalars cost 5x more per call
            self.sums = np.vstack([np.zeros(6), np.cumsum(cols, axis=0)]).tolist()
            return self

        def error(self, start: int, end: int) -> float:
            if end - start < self.min_size:
                raise NotEnoughPoints
            n, st, stt, sy, sty, syy = (b - a for a, b in zip(self.sums[start], self.sums[end]))
            vt, cty = stt - st * st / n, sty - st * sy / n
            rss = syy - sy * sy / n - (cty * cty / vt if vt > 0 else 0.0)
            return max(float(rss), 0.0)

    return CostLinearTrend


def pelt_fit(steps: np.ndarray, y: np.ndarray, cfg: BaselineConfig,
             oracle_sd: float | None = None, builtin_cost: bool = False) -> Fit:
    """ruptures `Pelt(jump=1)` with the `linear` cost on the design [1, t]: a least-squares line
    per segment (not joined), penalty `pelt_pen * sigma^2 * log n`. `builtin_cost` uses ruptures'
    own `CostLinear` (slow; for checking the prefix-sum twin)."""
    import ruptures as rpt

    n = y.size
    t = _unit_time(steps)
    sd = oracle_sd if oracle_sd is not None else noise_sd_diff(y)
    bkps = [n]
    if n >= 2 * cfg.pelt_min_size:
        if builtin_cost:
            algo = rpt.Pelt(model="linear", min_size=cfg.pelt_min_size, jump=1)
            algo.fit(np.column_stack([y, np.ones(n), t]))
        else:
            cost = _linear_cost_class()(cfg.pelt_min_size)
            algo = rpt.Pelt(custom_cost=cost, min_size=cfg.pelt_min_size, jump=1)
            algo.fit(np.column_stack([y, t]))
        bkps = algo.predict(pen=cfg.pelt_pen * sd ** 2 * math.log(n))
    # ruptures' breakpoints are segment ends (exclusive); segment k is [edges[k], edges[k+1])
    edges = [0, *bkps[:-1], n]
    cuts = [0, *bkps[:-1], n - 1]
    starts, ends = [], []
    for a, b in itertools.pairwise(edges):
        slope, icpt = np.polyfit(t[a:b], y[a:b], 1) if b - a >= 2 else (0.0, float(y[a]))
        starts.append(float(icpt + slope * t[a]))
        ends.append(float(icpt + slope * t[b - 1]))
    return Fit(cuts, starts, ends, float(sd))


# --------------------------------------------------------------------------- the naming rule
def name_segments(steps: np.ndarray, fit: Fit, k_sd: float) -> list[Phase]:
    """Phases from a piecewise-linear fit, one rule for every comparator.

    A segment's change runs from the previous segment's fitted end (the fitted start for the
    first) to its own fitted end, so a jump between unjoined lines counts with the line after
    it. A change beyond `k_sd` noise sds is a rise or a fall, else flat; neighbours moving the
    same way are one segment. Then, in order:
    - flat: plateau;
    - a fall from the start followed by anything (a recovery or a floor): disruption;
    - any other fall (from the start to the end, after a flat stretch, after a rise): overfit;
    - a rise after a disruption: readaptation; any other rise: improvement.
    Consecutive phases of the same name are merged.
    """
    thr = k_sd * fit.sd
    moves, prev = [], fit.starts[0]
    for end in fit.ends:
        d = end - prev
        moves.append(1 if d > thr else -1 if d < -thr else 0)
        prev = end
    # join neighbours that move the same way
    cuts, dirs = [fit.cuts[0]], []
    for k, m in enumerate(moves):
        if dirs and dirs[-1] == m:
            cuts[-1] = fit.cuts[k + 1]
        else:
            dirs.append(m)
            cuts.append(fit.cuts[k + 1])
    names: list[str] = []
    for k, m in enumerate(dirs):
        if m == 0:
            names.append("plateau")
        elif m < 0:
            names.append("disruption" if k == 0 and len(dirs) > 1 else "overfit")
        else:
            last_trend = next((x for x in reversed(names) if x != "plateau"), None)
            names.append("readaptation" if last_trend == "disruption" else "improvement")
    phases: list[Phase] = []
    for k, name in enumerate(names):
        a, b = int(steps[cuts[k]]), int(steps[cuts[k + 1]])
        if phases and phases[-1].name == name:
            phases[-1].end_step = b
        else:
            phases.append(Phase(name, a, b))
    return phases


# --------------------------------------------------------------------------- front door
def finite_series(run: Run, metric: str | None, direction: str | None):
    """(steps, values turned higher-is-better, sign, metric's own name, direction)."""
    metric = choose_metric(run, metric)
    direction = choose_direction(run, metric, direction)
    s = run.series(metric)
    sign = 1.0 if direction == "max" else -1.0
    return (s.index.to_numpy(dtype=np.int64), sign * s.to_numpy(dtype=np.float64), sign,
            str(s.name), direction)


def fit_series(steps: np.ndarray, y: np.ndarray, method: str, cfg: BaselineConfig,
               oracle_sd: float | None = None) -> Fit:
    """The fit of comparator `method` (segmented or pelt; `-oracle`: judged against `oracle_sd`)."""
    oracle = method.endswith("-oracle")
    fitter = segmented_fit if method.startswith("segmented") else pelt_fit
    return fitter(steps, y, cfg, oracle_sd if oracle else None)


def analysis_from_fit(run: Run, method: str, steps: np.ndarray, fit: Fit, sign: float, own: str,
                      direction: str, k_sd: float) -> Analysis:
    """The named phases of `fit` as an `Analysis` (baseline: the fitted level at the first
    evaluation, the method's own estimate of the start)."""
    phases = name_segments(steps, fit, k_sd)
    stop = next((p.start_step for p in phases if p.name == "overfit"), None)
    if stop is None:
        levels = [*fit.starts, *fit.ends]
        stop = int(steps[[*fit.cuts[:-1], *fit.cuts[1:]][int(np.argmax(levels))]])
    cps = [ChangePoint(p.start_step, p.start_step, p.start_step) for p in phases[1:]]
    return Analysis(run.source, own, direction, float(sign * fit.starts[0]), cps, phases,
                    int(stop), [], {"method": method, "noise_sd": float(fit.sd),
                                    "breaks": [int(steps[c]) for c in fit.cuts[1:-1]]})


def analyze_baseline(run: Run, method: str, metric: str | None = None,
                     direction: str | None = None, oracle_sd: float | None = None,
                     cfg: BaselineConfig | None = None) -> Analysis:
    """The comparator `method` on `run`, as an `Analysis` the benchmarks score like the
    detector's. `*-oracle` methods need `oracle_sd` (the true noise sd, own units)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if method.endswith("-oracle") and not (oracle_sd and oracle_sd > 0):
        raise ValueError(f"{method} needs the true noise sd (oracle_sd > 0)")
    cfg = cfg or BaselineConfig()
    steps, y, sign, own, direction = finite_series(run, metric, direction)
    if y.size < 3:
        return Analysis(run.source, own, direction, float(sign * y[0]) if y.size else None,
                        [], [Phase("plateau", int(steps[0]), int(steps[-1]))] if y.size else [],
                        None, [f"{own}: {y.size} finite values, too few to fit"])
    fit = fit_series(steps, y, method, cfg, oracle_sd)
    return analysis_from_fit(run, method, steps, fit, sign, own, direction, cfg.k_sd_of(method))


__all__ = ["METHODS", "BaselineConfig", "Fit", "analysis_from_fit", "analyze_baseline",
           "finite_series", "fit_series",
           "name_segments", "noise_sd_diff", "pelt_fit", "segmented_fit"]
