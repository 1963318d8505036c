"""The second synthetic family: logistic and Gaussian-bump sums, heavy-tailed noise, irregular cadence.

`phasewatch.synth` draws eased piecewise curves with Gaussian noise on a regular cadence; a
detector tuned on it alone could learn its corners and its noise. This family is written
differently on purpose, for every kind and regime of `phasewatch.synth_regimes`:

- curves are sums of smooth terms: Gaussian bumps for dips, logistic rises, softplus ramps for
  sustained declines, tanh saturation for fast rises, a log curve for steady improvement;
- noise is Student-t (df = 4) whose scale grows with the level, quantised to a 400-1000 item eval
  set; AR(1) with Student-t innovations; or binomial on 100-1000 prompts; a failed evaluation
  reads 0; a loss is the negative log of the accuracy-like curve; a bounded rate is clipped;
- the evaluation interval changes once mid-run and is jittered.

    >>> s = generate_regime("three_phase", "sparse", seed=0)
    >>> s.truth["phases"], s.run.series(s.metric)

`generate_legacy` keeps the dense family the phase benchmark has always reported (same draws).
"""

from __future__ import annotations

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

LEGACY_KINDS: tuple[str, ...] = ("three_phase", "three_phase_loss", "dip_recover",
                                 "dip_no_recovery", "overfit_only", "improve_plateau", "flat",
                                 "monotone")
_SYNTH_KINDS = ("three_phase", "three_phase_loss", "dip_recover", "dip_no_recovery",
                "overfit_only", "improve_plateau", "nll_overfit", "flat", "monotone")
DRAWS = 20  # redraws allowed until the curve shows its kind on a sparse grid


def _logistic(t, centre, width):
    return 1.0 / (1.0 + np.exp(-(t - centre) / width))


def _bump(t, centre, width):
    return np.exp(-0.5 * ((t - centre) / width) ** 2)


def _ramp(t, onset, sharpness=0.03):
    """Softplus ramp: 0 before `onset`, then a straight decline, with a smooth knee; 1 at t = 1."""
    r = np.log1p(np.exp((t - onset) / sharpness)) * sharpness
    return r / np.log1p(np.exp((1.0 - onset) / sharpness)) / sharpness


# --------------------------------------------------------------------------- regime runs
def _cadence(n: int, step0: bool, rng: np.random.Generator) -> np.ndarray:
    """Evaluation steps: the interval changes once (at 30-70% of the run) and is jittered."""
    first, second = int(rng.choice([4, 8, 16, 25])), int(rng.choice([10, 25, 40]))
    switch = int(rng.uniform(0.3, 0.7) * n)
    gaps = np.r_[np.full(switch, first), np.full(n - switch, second)].astype(float)
    gaps = np.maximum(1, np.round(gaps * rng.uniform(0.8, 1.2, n))).astype(np.int64)
    steps = np.cumsum(gaps)
    return steps - steps[0] if step0 else steps


def _curve(kind: str, reg: Regime, t: np.ndarray, base: float, sd: float,
           rng: np.random.Generator) -> tuple[np.ndarray, int | None]:
    """Higher-is-better noiseless curve at run fractions `t`, and a late decline's onset index."""
    n = t.size
    d, g, dec = rng.uniform(6, 14) * sd, rng.uniform(7, 16) * sd, rng.uniform(6, 12) * sd
    q = np.full(n, base)
    fast = reg.fast or kind == "saturating"
    t_sat = max(rng.uniform(0.04, 0.1), t[min(3 if reg.fast else 1, n - 2)])
    t_sat = min(t_sat, 0.1) if reg.fast else t_sat

    def early(lo, hi, last):
        return int(rng.integers(1, 3)) if reg.step0 else grid_index(t, lo, hi, rng, 1, last)

    if kind in ("three_phase", "dip_recover"):
        if reg.fast:
            i_tr = max(1, int(np.searchsorted(t, t_sat / 3)))
            c_tr, w_tr = t[i_tr], t[i_tr] / 2
            rise_c, width = t_sat / 2, t_sat / 10  # 99% of the rise done by t_sat
        else:
            i_tr = early(0.08, 0.2, n - 5)
            # wide enough that the evaluations beside the trough see the dip too: a dip seen
            # at one evaluation only cannot be told from a failed evaluation
            c_tr, w_tr = t[i_tr], max(t[i_tr] / 2.5, 0.8 * (t[i_tr] - t[i_tr - 1]))
            rise_c, width = t[grid_index(t, c_tr + 0.08, c_tr + 0.25, rng, i_tr + 1, n - 4)], 0.05
        q = q - d * _bump(t, c_tr, w_tr) + g * _logistic(t, rise_c, width)
        if kind == "three_phase":
            fall = t_sat if reg.fast else t[grid_index(t, rise_c + 0.12, rise_c + 0.25, rng,
                                                       int(np.searchsorted(t, rise_c)) + 1, n - 3)]
            q = q - dec * _ramp(t, fall)
    elif kind == "dip_no_recovery":
        if fast:
            q = q - d * np.tanh(t / (2 * t_sat / np.log(2 * d / (0.3 * sd))))
        else:  # under way from the first evaluation (no flat start), flat floor after
            c = t[early(0.05, 0.2, n - 3)]
            q = q - d * _logistic(t, c, c / 3)
    elif kind in ("improve_plateau", "saturating", "overfit_only"):
        if fast:
            q = q + g * np.tanh(t / (2 * t_sat / np.log(2 * g / (0.3 * sd))))
            fall = t_sat
        else:
            rise_c = t[early(0.15, 0.3, n - 3)] if kind != "overfit_only" else rng.uniform(0.15, 0.3)
            q = q + g * _logistic(t, rise_c, rise_c / 3)
            fall = rise_c + rng.uniform(0.12, 0.2)
        if kind == "overfit_only":
            q = q - dec * _ramp(t, fall)
    elif kind == "decline_from_start":
        tau = rng.uniform(0.8, 3.0)  # steady: the last quarter still loses >= 15% of it
        q = q - dec * (1 - np.exp(-t / tau)) / (1 - np.exp(-1 / tau))
    elif kind == "late_decline":
        onset = grid_index(t, 0.6, 0.72, rng, 2, n - 3)
        return q - dec * _ramp(t, t[onset], 0.01), onset
    elif kind == "monotone":
        k = rng.uniform(0.3, 1.5)  # concave, but still rising at the end
        q = q + g * np.log1p(k * t) / np.log1p(k)
    elif kind != "flat":
        raise ValueError(f"kind {kind!r} has no regime curve")
    return q, None


def _scale(q: np.ndarray, sd: float) -> np.ndarray:
    """The noise sd at each point: it grows with the level (0.7 sd at the lowest, 1.3 at the top)."""
    return sd * (0.7 + 0.6 * (q - q.min()) / max(float(np.ptp(q)), 1e-9))


def _noise(q: np.ndarray, reg: Regime, sd: float, rng: np.random.Generator) -> np.ndarray:
    """Student-t noise (df 4, unit variance after scaling) whose scale grows with the level,
    AR(1)-filtered in the ar1 regime."""
    z = rng.standard_t(4, q.size) / np.sqrt(2.0)
    if reg.noise == "ar1":
        phi = rng.uniform(0.3, 0.65)
        e = np.empty_like(z)
        e[0] = z[0]
        for i in range(1, z.size):
            e[i] = phi * e[i - 1] + np.sqrt(1 - phi**2) * z[i]
        z = e
    return z * _scale(q, sd)


def _draw(kind: str, reg: Regime, rng: np.random.Generator):
    """Steps, noiseless curve (a capped length before the cap), noise sd, prompt count (0 when
    not binomial) and late-decline onset index of one draw."""
    n = draw_points(reg, kind, rng)
    steps = _cadence(n, reg.step0, rng)
    t = (steps - steps[0]) / (steps[-1] - steps[0])
    prompts = int(np.exp(rng.uniform(np.log(100), np.log(1000)))) if reg.noise == "binomial" else 0
    base = rng.uniform(0.25, 0.55)
    sd = float(np.sqrt(base * (1 - base) / prompts)) if prompts else rng.uniform(0.008, 0.02)
    if kind == "capped":  # a length that would rise to `top` but is cut at the cap
        start, top, sd = rng.uniform(3, 7), CAP + rng.uniform(1, 3), rng.uniform(0.2, 0.5)
        c = rng.uniform(0.1, 0.25)
        return steps, start + (top - start) * _logistic(t, c, c / 4), sd, prompts, None
    q, onset = _curve(kind, reg, t, base, sd, rng)
    if not (reg.bounded or prompts):  # an accuracy stays above 0 (a loss's noise bounded)
        q = q + max(0.0, (0.25 if reg.lower_is_better else 0.05) - q.min())
    if reg.bounded:  # a rate that reaches 1 (or 0): shifted there, shrunk only if too wide
        span = float(np.ptp(q))
        q = (q - q.min()) / span * 0.98 + q.min() if span > 0.98 else q
        q = np.clip(q + (1.0 - q.max() if rng.random() < 0.5 else -q.min()), 0.0, 1.0)
    elif prompts and (q.min() < 0.02 or q.max() > 0.98):
        q = base + (q - base) * min((base - 0.02) / max(base - q.min(), 1e-12),
                                    (0.98 - base) / max(q.max() - base, 1e-12), 1.0)
    return steps, q, sd, prompts, onset


def generate_regime(kind: str, regime: str | Regime, seed: int) -> SyntheticRun:
    """A run of `kind` observed as `regime`, drawn by this family (see the module docstring)."""
    reg = regime_of(regime)
    if kind not in reg.kinds():
        raise ValueError(f"kind {kind!r} is not generated in regime {reg.name!r}; "
                         f"expected one of {', '.join(reg.kinds())}")
    rng = np.random.default_rng([seed, 0xB, REGIME_NAMES.index(reg.name),
                                 tuple(KIND_PHASES).index(kind)])
    for attempt in range(DRAWS):
        steps, free, sd, prompts, onset = _draw(kind, reg, rng)
        q = np.minimum(free, CAP) if kind == "capped" else free
        try:
            regime_truth(kind, reg, "logistic", steps, q, sd, 1.0, onset)
            break
        except ValueError:
            if attempt == DRAWS - 1:
                raise
    n = steps.size
    metric, direction, own, own_sd, sign = "eval/accuracy", "max", q, sd, 1.0
    start_sd = float(_scale(free, sd)[0])
    if kind == "capped":
        observed = np.round(np.minimum(free + _noise(free, reg, sd, rng), CAP), 1)
        metric = "eval/response_length"
    elif prompts:
        observed = rng.binomial(prompts, np.clip(q, 0, 1)) / prompts
        start_sd = max(float(np.sqrt(q[0] * (1 - q[0]) / prompts)), 1.0 / prompts)
    else:
        items = int(rng.choice([400, 600, 1000]))
        observed = np.round((q + _noise(q, reg, sd, rng)) * items) / items
        if reg.bounded:
            observed = np.clip(observed, 0.0, 1.0)
    if reg.lower_is_better:  # a negative log-likelihood of the accuracy-like curve
        metric, direction, sign = "eval/loss", "min", -1.0
        own, observed = -np.log(q), -np.log(np.clip(observed, 1e-3, None))
        own_sd, start_sd = sd / float(np.median(q)), start_sd / float(q[0])
    truth = regime_truth(kind, reg, "logistic", steps, own, own_sd, sign, onset,
                         prompts=prompts or None, outlier_steps=[], start_sd=start_sd)
    if reg.outliers:  # a failed evaluation reads 0, away from the ends and the true boundaries
        cuts = {s for _, _, s in truth["boundaries"]}
        allowed = [i for i in range(1, n - 1) if int(steps[i]) not in cuts]
        for i in rng.choice(allowed, size=min(len(allowed), int(rng.integers(1, 3))),
                            replace=False):
            observed[i] = 0.0
            truth["outlier_steps"].append(int(steps[i]))
        truth["outlier_steps"].sort()
    collector = RecordCollector(f"logistic:{reg.name}:{kind}:{seed}", "synthetic")
    rows = {int(s): {metric: float(v)} for s, v in zip(steps, observed)}
    s0 = max(float(steps[-1]) / 20, 1.0)
    for s in sorted(set(steps.tolist()) | set((steps[:-1] + np.diff(steps) // 2).tolist())):
        if s > 0:  # a train loss that keeps falling, as a power law
            rows.setdefault(int(s), {})["train/loss"] = float(
                0.2 + 1.0 / (1.0 + s / s0) + rng.standard_normal() * 0.01)
    for line, s in enumerate(sorted(rows), start=1):
        collector.add(s, rows[s], line=line)
    run = collector.build(name=f"{kind}-{reg.name}-{seed}", algorithm="synthetic",
                          performance_metric=metric, direction=direction, events=[])
    return SyntheticRun(run=run, metric=metric, direction=direction, truth=truth)


# --------------------------------------------------------------------------- legacy dense family
def generate_legacy(kind: str, seed: int, n_points: int) -> SyntheticRun:
    """The dense family the phase benchmark reported before the regimes (same draws, same
    truth), so today's dense figures can be compared run for run."""
    rng = np.random.default_rng([seed, 7919, _SYNTH_KINDS.index(kind)])
    first, second = int(rng.choice([4, 8, 16])), int(rng.choice([10, 25]))
    switch = n_points // 2
    gaps = np.r_[np.full(switch, first), np.full(n_points - switch - 1, second)]
    steps = np.r_[0, np.cumsum(gaps)].astype(np.int64)
    t = steps / steps[-1]
    sd = rng.uniform(0.008, 0.02)
    base = rng.uniform(0.25, 0.55)
    depth, gain, decline = (rng.uniform(6, 14) * sd, rng.uniform(7, 16) * sd,
                            rng.uniform(6, 12) * sd)
    dip = kind in ("three_phase", "three_phase_loss", "dip_recover", "dip_no_recovery")
    trough_c = rng.uniform(0.08, 0.2)
    if dip:  # the rise overlaps the recovery from the dip (no flat stretch between them)
        rise_c, width = trough_c + rng.uniform(0.08, 0.18), 0.05
    else:    # the rise is under way from the first step (no flat start)
        rise_c = rng.uniform(0.15, 0.3)
        width = rise_c / 3
    fall_c = rise_c + rng.uniform(0.12, 0.2)  # the decline sets in as the rise completes
    curve = np.full(t.size, base)
    rise = kind not in ("flat", "dip_no_recovery")
    fall = kind in ("three_phase", "three_phase_loss", "overfit_only")
    if dip:
        if kind == "dip_no_recovery":
            curve -= depth * _logistic(t, trough_c, 0.04)
        else:  # a Gaussian bump down: falls, bottoms out, comes back
            curve -= depth * np.exp(-0.5 * ((t - trough_c) / (trough_c / 2.5)) ** 2)
    if rise:
        if kind == "monotone":
            curve += gain * t ** rng.uniform(0.8, 1.3)
        else:
            curve += gain * _logistic(t, rise_c, width)
    if fall:
        # a slow sustained decline: softplus ramp from the fall onset
        ramp = np.log1p(np.exp((t - fall_c) / 0.03)) * 0.03
        curve -= decline * ramp / ramp[-1]
    noise = sd * rng.standard_t(4, t.size) / np.sqrt(2.0) * (0.7 + 0.6 * (curve - curve.min())
                                                              / max(np.ptp(curve), 1e-9))
    items = int(rng.choice([400, 600, 1000]))
    observed = np.round((curve + noise) * items) / items  # accuracy on a finite eval set
    observed[rng.random(t.size) < 0.01] = np.nan
    lower = kind == "three_phase_loss"
    own_curve = 2.0 - curve if lower else curve
    own_obs = 2.0 - observed if lower else observed
    metric = "eval/loss" if lower else "eval/accuracy"
    collector = RecordCollector(f"logistic:{kind}:{seed}", "synthetic")
    for i, s in enumerate(steps):
        collector.add(int(s), {metric: float(own_obs[i])}, line=i + 1)
    run = collector.build(performance_metric=metric, direction="min" if lower else "max")
    truth = {"kind": kind, "phases": _legacy_truth(kind, steps, curve), "curve_steps": steps,
             "curve": own_curve, "noise_sd": float(sd)}
    return SyntheticRun(run=run, metric=metric, direction="min" if lower else "max", truth=truth)


def _legacy_truth(kind: str, steps: np.ndarray, curve: np.ndarray) -> list:
    """Boundaries at the true curve's trough / peak / end of the rise, named by the kind."""
    names = KIND_PHASES[kind]
    last = int(steps[-1])
    if names == ("plateau",) or names == ("improvement",):
        return [(names[0], 0, last)]
    if kind == "dip_no_recovery":
        # the trough is where the fall has flattened to within 1% of its depth
        depth = curve[0] - curve.min()
        i = int(np.argmax(curve <= curve.min() + 0.01 * depth))
        return [("disruption", 0, int(steps[i])), ("plateau", int(steps[i]), last)]
    cuts = [0]
    if names[0] == "disruption":
        half = int(np.argmax(curve)) if kind != "dip_recover" else curve.size - 1
        cuts.append(int(steps[int(np.argmin(curve[: max(half, 1)]))]))
    if names[-1] == "plateau":  # the rise ends where it is within 1% of its total
        top = curve.max()
        low = curve[np.searchsorted(steps, cuts[-1]):].min() if len(cuts) > 1 else curve[0]
        i = int(np.argmax(curve >= top - 0.01 * (top - low)))
        cuts.append(int(steps[i]))
    else:
        cuts.append(int(steps[int(np.argmax(curve))]))
    cuts.append(last)
    return [(name, cuts[k], cuts[k + 1]) for k, name in enumerate(names)]


__all__ = ["LEGACY_KINDS", "generate_legacy", "generate_regime"]
