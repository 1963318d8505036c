"""The third synthetic family: power-law learning curves run on a learning-rate schedule.

A held-out check, written without reading the detector and not to be tuned on. The two other
families were written by people who also tuned the detector (`phasewatch.synth`: eased pieces
and exponential approaches, regular cadence, Gaussian noise; `phasewatch.synth_logistic`:
logistic and Gaussian-bump sums, Student-t noise, irregular cadence). This one draws every kind
and regime of `phasewatch.synth_regimes` the way large-model training curves tend to look:

- the clock of a learning curve is the training *progress*, the learning rate summed over the
  steps so far, not the step: a linear warm-up delays the first change and a cosine or step
  decay slows every change as the rate anneals;
- a change that settles is a normalised power law ``1 - (1 + x / x0) ** -c`` (front-loaded,
  with a long tail, unlike an exponential or a logistic); a disruption is a fast drop followed
  by a slower power-law recovery (asymmetric); an overfit is a decline ``(x - onset) ** p``
  with p from 1 (straight) to 2 (quadratic, accelerating);
- evaluations come every 10-500 steps or at doubling intervals (50, 100, 200, 400, ... steps
  apart), over 2,000-20,000 steps;
- noise is Gaussian, with bursts (3-5 consecutive evaluations at 2-3x the sd) or as a scale
  mixture (one evaluation in ten at 2.5x); AR(1) in the ar1 regime; binomial on a benchmark-sized
  prompt set; a failed evaluation reads 0 or a small fraction of the level; a loss is
  ``exp(-k * curve)`` with multiplicative (log-normal) noise; a bounded rate is clipped and
  rounded to its prompt set.

Effect sizes are drawn in noise sds on `synth_logistic`'s scale (dips 6-14, rises 7-16, declines
6-12). A draw is redrawn (up to `DRAWS` times) unless its noiseless curve shows its kind on its
own evaluations (`problem_with`).

    >>> s = generate_regime("three_phase", "sparse", seed=0)
    >>> s.truth["phases"], s.truth["schedule"], s.run.series(s.metric)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phasewatch.run import RecordCollector
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

DRAWS = 40  # redraws allowed until the curve shows its kind on its evaluations
MIN_EFFECT = 4.0  # noise sds every trend phase must move by between its true boundaries
PROMPT_SETS = (100, 128, 164, 200, 250, 300, 400, 500, 512, 800, 1000)  # benchmark sizes
STEADY_KINDS = ("monotone", "decline_from_start", "late_decline")  # still moving at the end
DIP_KINDS = ("three_phase", "dip_recover", "dip_no_recovery")


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule over the training fraction u in [0, 1] (peak rate 1)."""

    name: str                           # constant | cosine | step
    warmup: float = 0.0                 # fraction of the run ramping linearly up from 0
    floor: float = 1.0                  # the last rate (cosine: its minimum; step: after the drops)
    milestones: tuple[float, ...] = ()  # step decay: fractions where the rate drops

    def rate(self, u: np.ndarray) -> np.ndarray:
        """The learning rate at training fractions `u`."""
        after = np.clip((u - self.warmup) / (1.0 - self.warmup), 0.0, 1.0)
        lr = np.ones_like(u, dtype=float)
        if self.name == "cosine":
            lr = self.floor + (1.0 - self.floor) * 0.5 * (1.0 + np.cos(np.pi * after))
        elif self.name == "step":
            factor = self.floor ** (1.0 / len(self.milestones))
            for m in self.milestones:
                lr = np.where(u >= m, lr * factor, lr)
        return lr * np.minimum(1.0, u / self.warmup) if self.warmup > 0 else lr

    def progress(self, u: np.ndarray) -> np.ndarray:
        """The rate summed from step 0 to each fraction in `u`, 1 at the end of the run: the
        clock learning runs on (a step taken at a small rate teaches little)."""
        grid = np.linspace(0.0, 1.0, 4001)
        lr = self.rate(grid)
        total = np.r_[0.0, np.cumsum((lr[1:] + lr[:-1]) / 2 * np.diff(grid))]
        return np.interp(u, grid, total / total[-1])


def _schedule(kind: str, reg: Regime, rng: np.random.Generator) -> Schedule:
    """No warm-up where the change must start at once or saturate fast; a schedule that keeps
    at least 30% of its rate for kinds that must still be moving at the end."""
    instant = reg.step0 or reg.fast or kind == "saturating"
    warmup = 0.0 if instant or rng.random() < 0.4 else rng.uniform(0.02, 0.08)
    name = str(rng.choice(["constant", "cosine", "cosine", "step"]))
    steady = kind in STEADY_KINDS
    if name == "cosine":
        return Schedule(name, warmup, rng.uniform(0.3, 0.6) if steady else rng.uniform(0.0, 0.2))
    if name == "step":
        drops = ((0.5,), (0.6,)) if steady else ((0.5,), (0.5, 0.75), (0.6, 0.85), (0.33, 0.67))
        milestones = drops[int(rng.integers(len(drops)))]
        return Schedule(name, warmup, rng.uniform(0.3, 0.6) ** len(milestones), milestones)
    return Schedule(name, warmup)


def _cadence(n: int, step0: bool, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Evaluation steps over 2,000-20,000 training steps: a fixed interval rounded as people
    round it, or an interval that doubles every block of evaluations (50, 100, 200, ...)."""
    total = float(np.exp(rng.uniform(np.log(2000), np.log(20000))))
    weights, style = np.ones(n), "regular"
    if n >= 4 and rng.random() < 0.4:
        doublings = int(rng.integers(2, min(5, n - 1) + 1))
        weights, style = 2.0 ** (np.arange(n) // -(-n // (doublings + 1))), "doubling"
    base = total / weights.sum()
    unit = 50 if base >= 200 else 10 if base >= 30 else 1
    base = max(unit, unit * round(base / unit))
    steps = np.cumsum(np.round(base * weights)).astype(np.int64)
    return (steps - steps[0] if step0 else steps), style


def _approach(y: np.ndarray, y0: float, c: float, end: float) -> np.ndarray:
    """A power-law learning curve from 0 at y = 0 to 1 at y = `end`: ``1 - (1 + y / y0) ** -c``,
    scaled. Most of the way is covered early; the rest takes long (a heavy tail)."""
    y = np.clip(y, 0.0, None)
    return (1.0 - (1.0 + y / y0) ** -c) / (1.0 - (1.0 + end / y0) ** -c)


def _scale_for(at: float, end: float, c: float, left: float) -> float:
    """The `y0` with which `_approach` still has the fraction `left` of its way to go at `at`
    (bisection: less is left the smaller `y0`)."""
    lo, hi = np.log(1e-9), np.log(1e3)
    for _ in range(80):
        mid = (lo + hi) / 2
        if 1.0 - _approach(np.array(at), float(np.exp(mid)), c, end) > left:
            hi = mid
        else:
            lo = mid
    return float(np.exp(lo))


def _decline(x: np.ndarray, onset: float, p: float) -> np.ndarray:
    """0 before `onset`, then ``((x - onset) / (1 - onset)) ** p`` up to 1 at the end."""
    return np.clip((x - onset) / (1.0 - onset), 0.0, 1.0) ** p


def _curve(kind: str, reg: Regime, t: np.ndarray, x: np.ndarray, b: float, sd: float,
           rng: np.random.Generator) -> tuple[np.ndarray, int | None]:
    """Higher-is-better noiseless curve at evaluation step fractions `t` (progress `x`), and
    the onset index of a late decline. Features sit on evaluations (`grid_index`)."""
    n = t.size
    d, g, dec = rng.uniform(6, 14) * sd, rng.uniform(7, 16) * sd, rng.uniform(6, 12) * sd
    c, p = rng.uniform(1.0, 2.5), rng.uniform(1.0, 2.0)
    fast = reg.fast or kind == "saturating"
    t_sat = max(rng.uniform(0.04, 0.1), t[min(3 if reg.fast else 1, n - 2)])
    t_sat = min(t_sat, 0.1) if reg.fast else t_sat
    x_sat = float(np.interp(t_sat, t, x))

    def early(lo: float, hi: float, last: int) -> int:
        return int(rng.integers(1, 3)) if reg.step0 else grid_index(t, lo, hi, rng, 1, last)

    def settling(amount: float, at: float, within: float) -> np.ndarray:
        # 0 -> 1 along x, with `within` noise sds of `amount` still to go at progress `at`
        return _approach(x, _scale_for(at, 1.0, c, within * sd / amount), c, 1.0)

    if kind == "flat":
        return np.full(n, b), None
    if kind == "monotone":  # a slow power law, still rising at the end
        return b + g * _approach(x, rng.uniform(0.3, 3.0), rng.uniform(0.5, 1.5), 1.0), None
    if kind == "decline_from_start":
        return b - dec * _decline(x, 0.0, rng.uniform(0.7, 1.5)), None
    if kind == "late_decline":
        onset = grid_index(t, 0.6, 0.72, rng, 2, n - 3)
        return b - dec * _decline(x, x[onset], p), onset
    if kind == "dip_no_recovery":  # a fast power-law drop onto a floor
        at = x_sat if fast else x[early(0.05, 0.25, n - 3)]
        return b - d * settling(d, at, 0.3), None
    if kind in ("improve_plateau", "saturating", "overfit_only"):
        if fast:
            at, within = x_sat, 0.3
        elif kind == "improve_plateau":
            i = int(rng.integers(2, 4)) if reg.step0 else grid_index(t, 0.2, 0.5, rng, 2, n - 3)
            at, within = x[i], rng.uniform(0.2, 0.6)
        else:
            at, within = x[grid_index(t, 0.3, 0.6, rng, 2, n - 3)], rng.uniform(0.5, 1.5)
        q = b + g * settling(g, at, within)
        return (q - dec * _decline(x, at, p) if kind == "overfit_only" else q), None
    if kind not in ("three_phase", "dip_recover"):
        raise ValueError(f"kind {kind!r} has no power-law curve")
    # a fast drop onto a trough on an evaluation, then a slower power-law recovery to `level`
    c = rng.uniform(1.5, 4.0)
    level = b + g * (1.0 if kind == "three_phase" else rng.uniform(0.2, 0.8))
    if reg.fast:  # under way from the first evaluation, settled by t_sat
        i_tr = max(2, int(np.searchsorted(t, t_sat / 3)))
        i_set = max(i_tr + 2, int(np.searchsorted(t, t_sat)))
    else:
        i_tr = early(0.05, 0.2, n - 5)
        lo = t[i_tr] + (0.2 if kind == "three_phase" else 0.15)
        i_set = grid_index(t, lo, lo + 0.25, rng, i_tr + 2, n - 3)
    within = rng.uniform(0.5, 1.5) if kind == "three_phase" else rng.uniform(0.3, 0.8)
    x_tr, amount = x[i_tr], level - (b - d)
    to_half = 2.0 ** (1.0 / c) - 1.0  # (1 + y / y0) ** -c is 1/2 at y = y0 * to_half
    half = _scale_for(x[i_set] - x_tr, 1.0 - x_tr, c, within * sd / amount) * to_half
    if not reg.fast:  # slow enough that the evaluation after the trough still sees the dip
        half = max(half, (x[i_tr + 1] - x_tr) * rng.uniform(0.8, 2.0))
    y0 = half / to_half
    drop_from = 0.0 if reg.step0 or reg.fast else max(0.0, x_tr - half * rng.uniform(0.3, 0.7))
    fall = np.clip((x - drop_from) / (x_tr - drop_from), 0.0, 1.0) ** rng.uniform(0.6, 1.0)
    q = np.where(x <= x_tr, b - d * fall,
                 b - d + amount * _approach(x - x_tr, y0, c, 1.0 - x_tr))
    return (q - dec * _decline(x, x[i_set], p) if kind == "three_phase" else q), None


def problem_with(kind: str, truth: dict, sign: float) -> str | None:
    """Why a noiseless curve does not show `kind` on its evaluations, or None. Every trend
    phase moves by `MIN_EFFECT` sds; a dip is seen at two evaluations (one low evaluation looks
    like a failed one); a final trend still moves in the last third (it does not flatten into
    a plateau the truth does not have); a floor is reached in the first half; a late decline
    starts after 55% of the run."""
    steps, sd = truth["curve_steps"], truth["noise_sd"]
    q = sign * truth["curve"]
    t = (steps - steps[0]) / (steps[-1] - steps[0])
    at = {int(s): i for i, s in enumerate(steps.tolist())}
    for name, start, end in truth["phases"]:
        if name != "plateau" and abs(q[at[end]] - q[at[start]]) < MIN_EFFECT * sd:
            return f"{name} moves less than {MIN_EFFECT} sd"
    if kind in DIP_KINDS and (q < q[0] - 2 * sd).sum() < 2:
        return "the dip is seen at fewer than two evaluations"
    name, start, end = truth["phases"][-1]
    if name in ("improvement", "overfit"):
        i = max(at[start], int(np.searchsorted(t, 2 / 3)))
        if abs(q[-1] - q[i]) < 0.15 * abs(q[-1] - q[at[start]]):
            return f"the {name} has stopped before the last third"
    boundary = t[at[truth["boundaries"][0][2]]] if truth["boundaries"] else 0.0
    if kind == "dip_no_recovery" and boundary > 0.5:
        return "the floor is reached after half the run"
    if kind == "late_decline" and boundary < 0.55:
        return "the late decline starts before 55% of the run"
    return None


def _unit_noise(n: int, reg: Regime, rng: np.random.Generator) -> tuple[np.ndarray, str, list]:
    """Noise of sd 1 at the first evaluation (whose sd is the truth's `start_sd`): AR(1) in the
    ar1 regime, else Gaussian, with bursts of 3-5 noisier evaluations or as a scale mixture.
    Returns the noise, its style and the indices where it is louder."""
    z = rng.standard_normal(n)
    if reg.noise == "ar1":
        phi = rng.uniform(0.3, 0.7)
        for i in range(1, n):
            z[i] = phi * z[i - 1] + np.sqrt(1.0 - phi**2) * z[i]
        return z, "ar1", []
    style = str(rng.choice(["gaussian", "bursts", "mixture"]))
    scale = np.ones(n)
    if style == "bursts" and n >= 15:
        for _ in range(int(rng.integers(1, 3))):
            length = int(rng.integers(3, 6))
            start = int(rng.integers(1, n - length + 1))
            scale[start:start + length] = rng.uniform(2.0, 3.0)
    elif style == "mixture":
        scale[1:][rng.random(n - 1) < 0.1] = 2.5
    return z * scale, (style if (scale > 1).any() else "gaussian"), np.flatnonzero(scale > 1)


def _keep_rate_inside(q: np.ndarray, b: float, reg: Regime,
                      rng: np.random.Generator) -> np.ndarray:
    """A binomial accuracy is shrunk toward its start to stay in [0.02, 0.98]; a bounded rate
    is moved until its best (or worst) point is exactly 1 (or 0); an accuracy stays above 0.05."""
    if reg.bounded:
        span = float(np.ptp(q))
        q = q if span <= 0.98 else q.min() + (q - q.min()) * 0.98 / span
        return np.clip(q + (1.0 - q.max() if rng.random() < 0.5 else -q.min()), 0.0, 1.0)
    if reg.noise == "binomial":
        room = min((0.98 - b) / max(q.max() - b, 1e-12), (b - 0.02) / max(b - q.min(), 1e-12))
        return b + (q - b) * min(1.0, room)
    return q + max(0.0, 0.05 - q.min())


def _draw(kind: str, reg: Regime, rng: np.random.Generator) -> dict:
    """One draw: steps, noiseless metric curve (a capped length before the cap: `free`), the
    nominal noise sd in the metric's units and how the run is observed."""
    n = draw_points(reg, kind, rng)
    steps, cadence = _cadence(n, reg.step0, rng)
    schedule = _schedule(kind, reg, rng)
    absolute = schedule.progress(steps / steps[-1])
    x = (absolute - absolute[0]) / (1.0 - absolute[0])  # progress since the first evaluation
    t = (steps - steps[0]) / (steps[-1] - steps[0])
    prompts = int(rng.choice(PROMPT_SETS)) if reg.noise == "binomial" or reg.bounded else 0
    b = rng.uniform(0.2, 0.6)
    sd = float(np.sqrt(b * (1 - b) / prompts)) if reg.noise == "binomial" else rng.uniform(0.008, 0.02)
    draw = {"steps": steps, "cadence": cadence, "schedule": schedule, "prompts": prompts,
            "onset": None, "sign": 1.0, "sd": sd, "start_sd": sd, "loss_rel_sd": None}
    if kind == "capped":  # a response length rising onto the cap as a power law
        start, top, sd = rng.uniform(3, 7), CAP + rng.uniform(1, 3), rng.uniform(0.2, 0.5)
        hit = x[grid_index(t, 0.15, 0.4, rng, 1, n - 4)]
        c = rng.uniform(1.0, 2.5)
        free = start + (top - start) * _approach(
            x, _scale_for(hit, 1.0, c, (top - CAP) / (top - start)), c, 1.0)
        return {**draw, "free": free, "curve": np.minimum(free, CAP), "sd": sd, "start_sd": sd}
    q, draw["onset"] = _curve(kind, reg, t, x, b, sd, rng)
    q = _keep_rate_inside(q, b, reg, rng)
    if reg.noise == "binomial":
        draw["start_sd"] = max(float(np.sqrt(q[0] * (1 - q[0]) / prompts)), 1.0 / prompts)
    if reg.lower_is_better:  # a held-out loss: k sds up in accuracy = k relative sds down
        rel = rng.uniform(0.004, 0.015)
        loss = rng.uniform(0.6, 2.5) * np.exp(-rel * (q - b) / sd)
        return {**draw, "curve": loss, "free": q, "sign": -1.0, "loss_rel_sd": rel,
                "sd": rel * float(np.median(loss)), "start_sd": rel * float(loss[0])}
    return {**draw, "curve": q, "free": q}


def _observe(kind: str, reg: Regime, draw: dict, rng: np.random.Generator):
    """Noisy evaluations of the drawn curve, the noise style and the louder evaluations."""
    curve, prompts = draw["curve"], draw["prompts"]
    z, style, loud = _unit_noise(curve.size, reg, rng)
    if kind == "capped":
        return np.round(np.minimum(draw["free"] + z * draw["sd"], CAP), 1), style, loud
    if reg.noise == "binomial":
        return rng.binomial(prompts, np.clip(curve, 0, 1)) / prompts, "binomial", []
    if draw["loss_rel_sd"]:
        return curve * np.exp(draw["loss_rel_sd"] * z), style, loud
    observed = curve + z * draw["sd"]
    if reg.bounded:  # a rate on a prompt set
        observed = np.clip(np.round(observed * prompts) / prompts, 0.0, 1.0)
    return observed, style, loud


def generate_regime(kind: str, regime: str | Regime, seed: int) -> SyntheticRun:
    """A run of `kind` observed as `regime`, drawn by this family (see the module docstring)."""
    reg = regime_of(regime)
    if kind not in reg.kinds():
        raise ValueError(f"kind {kind!r} is not generated in regime {reg.name!r}; "
                         f"expected one of {', '.join(reg.kinds())}")
    rng = np.random.default_rng([seed, 0xC, REGIME_NAMES.index(reg.name),
                                 tuple(KIND_PHASES).index(kind)])
    for attempt in range(DRAWS):
        draw = _draw(kind, reg, rng)
        steps = draw["steps"]
        try:
            truth = regime_truth(kind, reg, "powerlaw", steps, draw["curve"], draw["sd"],
                                 draw["sign"], draw["onset"], start_sd=draw["start_sd"])
            problem = problem_with(kind, truth, draw["sign"])
        except ValueError as exc:
            problem = str(exc)
        if problem is None:
            break
        if attempt == DRAWS - 1:
            raise ValueError(f"powerlaw: no {kind} run in regime {reg.name} with seed {seed} "
                             f"after {DRAWS} draws (last: {problem})")
    observed, style, loud = _observe(kind, reg, draw, rng)
    metric = ("eval/response_length" if kind == "capped" else
              "eval/loss" if reg.lower_is_better else "eval/accuracy")
    binomial = reg.noise == "binomial"  # (a bounded rate's prompt set only rounds it)
    truth.update(prompts=draw["prompts"] if binomial else None, outlier_steps=[], noise=style,
                 loud_steps=[int(steps[i]) for i in loud], cadence=draw["cadence"],
                 schedule=draw["schedule"].name, warmup=draw["schedule"].warmup)
    if reg.outliers:  # failed evaluations: away from the ends and from the true boundaries
        cuts = {s for _, _, s in truth["boundaries"]}
        allowed = [i for i in range(1, steps.size - 1) if int(steps[i]) not in cuts]
        for i in rng.choice(allowed, size=min(len(allowed), int(rng.integers(1, 3))),
                            replace=False):
            observed[i] = 0.0 if rng.random() < 0.5 else draw["curve"][i] * rng.uniform(0.02, 0.25)
            truth["outlier_steps"].append(int(steps[i]))
        truth["outlier_steps"].sort()
    return SyntheticRun(run=_build_run(kind, reg, seed, metric, steps, observed,
                                       draw["schedule"], rng),
                        metric=metric, direction="min" if reg.lower_is_better else "max",
                        truth=truth)


def _build_run(kind: str, reg: Regime, seed: int, metric: str, steps: np.ndarray,
               observed: np.ndarray, schedule: Schedule, rng: np.random.Generator):
    """The run: the evaluations and a train loss falling as a power law in the progress,
    logged about 300 times whatever the run's length."""
    collector = RecordCollector(f"powerlaw:{reg.name}:{kind}:{seed}", "synthetic")
    rows = {int(s): {metric: float(v)} for s, v in zip(steps, observed)}
    every = max(1, int(steps[-1]) // 300)
    train_steps = np.arange(every, int(steps[-1]) + 1, every)
    progress = schedule.progress(train_steps / steps[-1])
    scale, exponent = rng.uniform(0.02, 0.1), rng.uniform(0.3, 0.7)
    train = 0.3 + rng.uniform(1.0, 2.0) * (1.0 + progress / scale) ** -exponent
    for s, v in zip(train_steps.tolist(), train + rng.standard_normal(train.size) * 0.01):
        rows.setdefault(int(s), {})["train/loss"] = float(v)
    for line, s in enumerate(sorted(rows), start=1):
        collector.add(s, rows[s], line=line)
    direction = "min" if reg.lower_is_better else "max"
    return collector.build(name=f"{kind}-{reg.name}-{seed}", algorithm="synthetic",
                           performance_metric=metric, direction=direction, events=[])


__all__ = ["DRAWS", "Schedule", "generate_regime", "problem_with"]
