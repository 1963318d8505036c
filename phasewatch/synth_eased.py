"""Family A under the regimes: `phasewatch.synth`'s eased shapes, Gaussian / AR(1) / binomial noise.

`phasewatch.synth.generate_regime` calls `generate_regime` here. The curves are the eased
piecewise shapes of `phasewatch.synth` (cosine / linear / saturating exponential pieces between
key points), exponential approaches where a transition saturates fast, power curves for steady
trends; the cadence is regular; the noise is Gaussian white, AR(1), or binomial on a fixed prompt
count. The kinds, regimes and truth are `phasewatch.synth_regimes`'s, shared with the
independent second family `phasewatch.synth_logistic`.
"""

from __future__ import annotations

import numpy as np

from phasewatch.run import RecordCollector
from phasewatch.synth import SHAPES, _ar1_noise, _curve
from phasewatch.synth_regimes import (
    CAP,
    KIND_PHASES,
    REGIME_NAMES,
    Regime,
    SyntheticRun,
    draw_points,
    grid_index,
    regime_of,
    regime_truth,
)


def _approach(t: np.ndarray, start: float, level: float, t_sat: float, sd: float) -> np.ndarray:
    """Exponential approach from `start` (at t = 0) to `level`, within 0.3 noise sd of it by
    `t_sat`: a learning curve that saturates, with no corner anywhere."""
    tau = t_sat / np.log(max(abs(level - start) / (0.3 * sd), 1.5))
    return level + (start - level) * np.exp(-np.maximum(t, 0.0) / tau)


def _fast_curve(kind: str, t: np.ndarray, b: float, d: float, g: float, dec: float, sd: float,
                rng: np.random.Generator) -> np.ndarray:
    """Curves whose first transition saturates within the first tenth of the run (or within
    three evaluations when the cadence is coarser than that)."""
    t_sat = min(0.1, max(rng.uniform(0.04, 0.1), t[min(3, t.size - 2)]))
    if kind in ("improve_plateau", "saturating", "overfit_only"):
        q = _approach(t, b, b + g, t_sat, sd)
    elif kind == "dip_no_recovery":
        q = _approach(t, b, b - d, t_sat, sd)
    else:  # dip_recover, three_phase: down to a trough on an evaluation, then back up
        i_tr = max(1, int(np.searchsorted(t, t_sat / 3)))
        t_tr = t[i_tr]
        t_sat = max(t_sat, t[min(i_tr + 2, t.size - 3)])
        down = (1 - np.exp(-2 * t / t_tr)) / (1 - np.exp(-2.0))
        q = np.where(t <= t_tr, b - d * down,
                     _approach(t - t_tr, b - d, b + g, t_sat - t_tr, sd))
    if kind in ("three_phase", "overfit_only"):  # a sustained decline from where the rise ends
        q = q - dec * np.clip((t - t_sat) / (1 - t_sat), 0, 1)
    return q


def _regime_curve(kind: str, reg: Regime, t: np.ndarray, b: float, sd: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, int | None]:
    """The higher-is-better noiseless curve at run fractions `t` (0 = first evaluation), and the
    onset index of a late decline. Features sit on evaluations (`grid_index`)."""
    n = t.size
    d, g, dec = (rng.uniform(5, 12) * sd, rng.uniform(6, 14) * sd, rng.uniform(6, 12) * sd)
    shape = str(rng.choice(SHAPES))
    power = rng.uniform(0.8, 1.25)
    early = (lambda lo, hi, first, last: int(rng.integers(1, 3))) if reg.step0 else (
        lambda lo, hi, first, last: grid_index(t, lo, hi, rng, first, last))
    if reg.fast and kind in ("three_phase", "dip_recover", "dip_no_recovery", "improve_plateau",
                             "overfit_only", "saturating"):
        return _fast_curve(kind, t, b, d, g, dec, sd, rng), None
    if kind == "saturating":
        return _approach(t, b, b + g, max(rng.uniform(0.04, 0.1), t[1]), sd), None
    if kind in ("flat", "monotone", "decline_from_start"):
        sign = {"flat": 0.0, "monotone": g, "decline_from_start": -dec}[kind]
        return b + sign * t**power, None
    onset = None
    if kind in ("three_phase", "dip_recover"):
        i_tr = early(0.06, 0.22, 1, n - 5)
        i_pk = grid_index(t, 0.4, 0.65, rng, i_tr + 2, n - 3)
        end = b + g - (dec if kind == "three_phase" else 0.0)
        knots = [(0.0, b), (t[i_tr], b - d), (t[i_pk], b + g), (1.0, end)]
    elif kind == "dip_no_recovery":
        i_tr = early(0.05, 0.25, 1, n - 3)  # a fast early drop
        knots = [(0.0, b), (t[i_tr], b - d), (1.0, b - d)]
    elif kind == "improve_plateau":  # a saturating rise, done in the first half
        shape = str(rng.choice(["exp", "cosine"]))
        i_pk = int(rng.integers(2, 4)) if reg.step0 else grid_index(t, 0.2, 0.5, rng, 2, n - 3)
        knots = [(0.0, b), (t[i_pk], b + g), (1.0, b + g)]
    elif kind == "overfit_only":
        i_pk = grid_index(t, 0.3, 0.6, rng, 2, n - 3)
        knots = [(0.0, b), (t[i_pk], b + g), (1.0, b + g - dec)]
    elif kind == "late_decline":
        onset = grid_index(t, 0.6, 0.72, rng, 2, n - 3)
        knots = [(0.0, b), (t[onset], b), (1.0, b - dec)]
        shape = "linear"  # a sustained decline, not one that saturates
    else:
        raise ValueError(f"kind {kind!r} has no regime curve")
    return _curve(t, knots, shape), onset


def _observe(q: np.ndarray, reg: Regime, sd: float, prompts: int,
             rng: np.random.Generator) -> np.ndarray:
    """Noisy evaluations of the accuracy-like curve `q`."""
    if reg.noise == "binomial" or reg.bounded:
        return rng.binomial(prompts, np.clip(q, 0.0, 1.0)) / prompts
    phi = rng.uniform(0.4, 0.7) if reg.noise == "ar1" else 0.0
    return q + _ar1_noise(rng, q.size, sd, phi)


def _fit_bounds(q: np.ndarray, b: float, reg: Regime, rng: np.random.Generator) -> np.ndarray:
    """Keep a rate inside [0, 1]. Binomial: shrink around the start if it would leave
    [0.02, 0.98]. Bounded: shift (and shrink if needed) so the curve reaches 0 or 1."""
    if reg.bounded:
        span = np.ptp(q)
        if span > 1.0:
            q = (q - q.min()) / span
        return np.clip(q + (1.0 - q.max() if rng.random() < 0.5 else -q.min()), 0.0, 1.0)
    if reg.noise == "binomial":
        shrink = min(1.0, (0.98 - b) / max(q.max() - b, 1e-12), (b - 0.02) / max(b - q.min(), 1e-12))
        return b + (q - b) * shrink
    return q


def generate_regime(kind: str, regime: str | Regime, seed: int) -> SyntheticRun:
    """A run of `kind` observed as `regime` (see `phasewatch.synth_regimes.REGIMES`).

    Regular cadence (every 5-100 steps), first evaluation at step 0 only in the step0 regime.
    Curves: eased piecewise shapes (cosine / linear / saturating exponential), exponential
    approaches for fast and saturating runs. Noise: Gaussian white, AR(1), or binomial on a fixed
    prompt count. `train/loss` keeps falling in every run (logged five times per evaluation).
    """
    reg = regime_of(regime)
    if kind not in reg.kinds():
        raise ValueError(f"kind {kind!r} is not generated in regime {reg.name!r}; "
                         f"expected one of {', '.join(reg.kinds())}")
    rng = np.random.default_rng([seed, 0xA, REGIME_NAMES.index(reg.name),
                                 tuple(KIND_PHASES).index(kind)])
    n = draw_points(reg, kind, rng)
    every = int(rng.choice([5, 10, 20, 50, 100]))
    steps = (np.arange(n, dtype=np.int64) + (0 if reg.step0 else 1)) * every
    t = (steps - steps[0]) / (steps[-1] - steps[0])
    prompts = 0
    if reg.noise == "binomial" or reg.bounded:
        prompts = int(np.exp(rng.uniform(np.log(100 if reg.noise == "binomial" else 200),
                                         np.log(1000))))
        b = rng.uniform(0.3, 0.6)
        sd = float(np.sqrt(b * (1 - b) / prompts))
    else:
        b, sd = rng.uniform(0.3, 0.5), rng.uniform(0.008, 0.02)

    metric, direction, sign, scale = "eval/accuracy", "max", 1.0, 1.0
    if kind == "capped":  # a response length rising onto a hard cap
        start, top, sd = rng.uniform(4, 8), CAP + rng.uniform(1, 4), rng.uniform(0.2, 0.5)
        hit = rng.uniform(0.15, 0.4)  # would saturate at `top`, but reaches the cap at `hit`
        free = top + (start - top) * np.exp(-t * np.log((top - start) / (top - CAP)) / hit)
        curve = np.minimum(free, CAP)
        observed = np.round(np.minimum(free + rng.standard_normal(n) * sd, CAP), 2)
        metric, onset = "eval/response_length", None
    else:
        q, onset = _regime_curve(kind, reg, t, b, sd, rng)
        q = _fit_bounds(q, b, reg, rng)
        observed = _observe(q, reg, sd, prompts, rng)
        if reg.lower_is_better:  # a loss: a scaled mirror of the accuracy-like curve
            scale, sign, direction, metric = rng.uniform(0.5, 3.0), -1.0, "min", "eval/loss"
            q, observed = scale * (2.0 - q), scale * (2.0 - observed)
        curve = q
    start_sd = scale * sd
    if prompts and kind != "capped":  # binomial: the sd at the start level, at least 1/prompts
        start_sd = max(float(np.sqrt(curve[0] * (1 - curve[0]) / prompts)), 1.0 / prompts)
    truth = regime_truth(kind, reg, "synth", steps, curve, scale * sd, sign, onset,
                         prompts=prompts or None, outlier_steps=[], start_sd=start_sd)
    if reg.outliers:  # failed evaluations: away from the ends and from the true boundaries
        cut_steps = {s for _, _, s in truth["boundaries"]}
        allowed = [i for i in range(1, n - 1) if int(steps[i]) not in cut_steps]
        k = min(len(allowed), int(rng.integers(1, 3)))
        for i in rng.choice(allowed, size=k, replace=False):
            observed[i] = curve[i] * rng.uniform(0.0, 0.3)
            truth["outlier_steps"].append(int(steps[i]))
        truth["outlier_steps"].sort()

    collector = RecordCollector(f"synthetic:{reg.name}:{kind}:{seed}", "synthetic")
    rows = {int(s): {metric: float(v)} for s, v in zip(steps, observed)}
    train_every = max(1, every // 5)
    for s in range(train_every, int(steps[-1]) + 1, train_every):
        x = s / steps[-1]
        rows.setdefault(s, {})["train/loss"] = float(
            1.2 * np.exp(-2.5 * x) + 0.3 + rng.standard_normal() * 0.02)
    for line, s in enumerate(sorted(rows), start=1):
        collector.add(s, rows[s], line=line)
    run = collector.build(name=f"{kind}-{reg.name}-{seed}", algorithm="synthetic",
                          performance_metric=metric, direction=direction, events=[])
    return SyntheticRun(run=run, metric=metric, direction=direction, truth=truth)


__all__ = ["generate_regime"]
