"""Synthetic training runs with known truth, for testing and benchmarking the detectors.

Real runs rarely come with the answer, so the detectors are measured on curves whose phases we
set ourselves. The generator varies what DESIGN.md "Evaluation" asks for: smooth shapes (cosine
and saturating-exponential transitions as well as straight lines), AR(1) noise, rare outliers,
NaNs, sparse eval keys (eval every k steps, train metrics every step), a resumed run that logs a
block twice, lower-is-better metrics, and the controls a detector must not over-read (flat,
steadily improving, a dip that never recovers, an overfit with no disruption before it).

    >>> s = generate("three_phase", seed=0)
    >>> s.truth["phases"]            # [(name, start_step, end_step), ...]
    >>> s.run.series(s.metric)       # what the detector sees

`generate_regime(kind, regime, seed)` draws the same shapes under each observation regime of
`phasewatch.synth_regimes` (3 to hundreds of evaluations, fast saturation, an evaluation at step
0, binomial and AR(1) noise, failed evaluations, losses, bounded and capped metrics) and for the
kinds added with them (a decline from the first evaluation, a late decline, saturating
controls); the code is in `phasewatch.synth_eased`, the truth rule in `phasewatch.synth_regimes`.
`phasewatch.synth_logistic` is the independent second family.

`generate`'s `truth` holds `phases`, `peak_step`, `trough_step`, `overfit_onset_step` (None
without overfit), `noise_sd`, and the noiseless curve (`curve_steps`, `curve`, in the metric's
own direction) so benchmarks can compute tolerance regions (where the true curve is within one
noise sd of its extreme).
"""

from __future__ import annotations

import itertools

import numpy as np

from phasewatch.run import RecordCollector
from phasewatch.synth_regimes import (
    CONTROL_KINDS,
    KIND_PHASES,
    REGIMES,
    Regime,
    SyntheticRun,
)

KINDS: tuple[str, ...] = ("three_phase", "three_phase_loss", "dip_recover", "dip_no_recovery",
                          "overfit_only", "improve_plateau", "nll_overfit", "flat", "monotone")
"""The kinds of `generate` (dense runs, the original set); `generate_regime` has more."""
SHAPES: tuple[str, ...] = ("cosine", "linear", "exp")
# Saturation rate of the "exp" shape: faster and the last ~40% of a rise is flatter than the
# noise, i.e. a genuine plateau the truth would not list.
EXP_RATE = 2.5


def _ease(u: np.ndarray, shape: str) -> np.ndarray:
    """Transition 0 -> 1 over u in [0, 1]: the form of one trend between two key points."""
    u = np.clip(u, 0.0, 1.0)
    if shape == "linear":
        return u
    if shape == "cosine":
        return 0.5 - 0.5 * np.cos(np.pi * u)
    if shape == "exp":  # fast start, saturating (learning-curve-like)
        return (1.0 - np.exp(-EXP_RATE * u)) / (1.0 - np.exp(-EXP_RATE))
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def _curve(x: np.ndarray, knots: list[tuple[float, float]], shape: str) -> np.ndarray:
    """Piecewise curve through (fraction, level) knots, each piece eased by `shape`."""
    y = np.full(x.size, knots[0][1], dtype=np.float64)
    for k, ((x0, y0), (x1, y1)) in enumerate(itertools.pairwise(knots)):
        inside = (x >= x0) & (x <= x1)
        u = (x[inside] - x0) / max(x1 - x0, 1e-12)
        # An overfit is a *sustained* decline (DESIGN.md): a decline after a rise never
        # saturates early, whatever the shape of the other pieces.
        piece = "linear" if shape == "exp" and y1 < y0 and k > 0 and knots[k - 1][1] < y0 else shape
        y[inside] = y0 + (y1 - y0) * _ease(u, piece)
    y[x > knots[-1][0]] = knots[-1][1]
    return y


def _knots(kind: str, rng: np.random.Generator, sd: float) -> tuple[list, dict[str, float]]:
    """(fraction, level) key points of the higher-is-better curve, and the boundary fractions.

    Effect sizes are drawn in units of the noise sd so every phase is detectable in principle
    (between ~4 and ~15 sd): the generator tests detection, not the limits of information.
    """
    base = rng.uniform(0.3, 0.5)
    depth = rng.uniform(5, 14) * sd
    gain = rng.uniform(6, 15) * sd
    decline = rng.uniform(5, 12) * sd
    trough = rng.uniform(0.06, 0.22)
    peak = rng.uniform(0.40, 0.65)
    b: dict[str, float] = {}
    if kind in ("three_phase", "three_phase_loss", "dip_recover"):
        knots = [(0.0, base), (trough, base - depth), (peak, base + gain)]
        b.update(trough=trough, peak=peak)
        if kind == "dip_recover":
            knots.append((1.0, base + gain))
        else:
            knots.append((1.0, base + gain - decline))
    elif kind == "dip_no_recovery":
        trough = rng.uniform(0.15, 0.5)
        knots = [(0.0, base), (trough, base - depth), (1.0, base - depth)]
        b.update(trough=trough)
    elif kind in ("overfit_only", "nll_overfit"):
        end_level = base + gain - (decline if kind == "overfit_only" else 0.0)
        knots = [(0.0, base), (peak, base + gain), (1.0, end_level)]
        b.update(peak=peak)
    elif kind == "improve_plateau":
        knots = [(0.0, base), (peak, base + gain), (1.0, base + gain)]
        b.update(peak=peak)
    elif kind == "flat":
        knots = [(0.0, base), (1.0, base)]
    elif kind == "monotone":
        # a steady rise (a power curve, see `_curve`): eased ends would be genuine plateaus
        knots = [(0.0, base), (1.0, base + gain)]
    else:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return knots, b


def _ar1_noise(rng: np.random.Generator, n: int, sd: float, phi: float) -> np.ndarray:
    """Stationary AR(1) noise with marginal sd `sd` (evaluations on overlapping batches)."""
    z = rng.standard_normal(n) * sd * np.sqrt(1.0 - phi**2)
    e = np.empty(n)
    prev = rng.standard_normal() * sd
    for i in range(n):
        prev = phi * prev + z[i]
        e[i] = prev
    return e


def generate(
    kind: str,
    seed: int,
    n_points: int = 300,
    *,
    eval_every: int | None = None,
    shape: str | None = None,
    noise_sd: float | None = None,
    ar: float | None = None,
    outlier_rate: float = 0.01,
    nan_rate: float = 0.01,
    resume: bool | None = None,
    train_metrics: bool = True,
) -> SyntheticRun:
    """A synthetic run of `kind` (see `KINDS`) with `n_points` evaluations.

    Unset options are drawn from `seed`: `eval_every` (1, 5, 10 or 20 steps between
    evaluations; train metrics are logged every step), `shape` ("cosine", "linear", "exp"),
    `noise_sd`, `ar` (AR(1) coefficient, 0-0.5) and `resume` (a block of steps logged twice,
    the second copy superseding the first, as after a restart from a checkpoint).
    """
    if kind not in KIND_PHASES:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if n_points < 2:
        raise ValueError("n_points must be at least 2")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    every = int(eval_every or rng.choice([1, 5, 10, 20]))
    shape = shape or str(rng.choice(SHAPES))
    sd = float(noise_sd if noise_sd is not None else rng.uniform(0.008, 0.02))
    phi = float(ar if ar is not None else rng.choice([0.0, rng.uniform(0.1, 0.5)]))
    resume = bool(rng.random() < 0.3) if resume is None else resume

    knots, bounds = _knots(kind, rng, sd)
    eval_steps = np.arange(n_points, dtype=np.int64) * every
    last_step = int(eval_steps[-1])
    x_eval = np.linspace(0.0, 1.0, n_points)
    power = rng.uniform(0.8, 1.25)
    curve_of = (lambda x: base_level + (x**power) * (knots[-1][1] - base_level)) if (
        kind == "monotone") else (lambda x: _curve(x, knots, shape))
    base_level = knots[0][1]
    curve = curve_of(x_eval)
    observed = curve + _ar1_noise(rng, n_points, sd, phi)
    outliers = rng.random(n_points) < outlier_rate
    observed[outliers] -= rng.uniform(4, 8, outliers.sum()) * sd  # failed evals read low
    observed[rng.random(n_points) < nan_rate] = np.nan

    lower_is_better = kind == "three_phase_loss"
    metric = "eval/loss" if lower_is_better else "eval/accuracy"
    direction = "min" if lower_is_better else "max"
    sign = -1.0 if lower_is_better else 1.0
    offset = 2.0 if lower_is_better else 0.0  # loss = 2 - accuracy-like curve (stays > 0)

    def to_step(frac: float) -> int:
        return int(eval_steps[round(frac * (n_points - 1))])

    truth_phases = _truth_phases(kind, bounds, to_step, last_step)
    peak_step = to_step(bounds["peak"]) if "peak" in bounds else None
    trough_step = to_step(bounds["trough"]) if "trough" in bounds else None
    overfit_onset = peak_step if "overfit" in KIND_PHASES[kind] else None

    # Supporting signals (at eval steps): expert NLL on train and held-out expert data, response
    # length, and per-step train metrics. Held-out NLL turns up at the overfit onset while train
    # NLL keeps falling; entropy spikes during the disruption.
    rows: dict[int, dict[str, float]] = {int(s): {} for s in eval_steps}
    nll_train = 1.5 * np.exp(-3.0 * x_eval) + 0.2
    nll_held = nll_train.copy() + 0.1
    if overfit_onset is not None:
        # held-out NLL follows train NLL down until the onset, then turns up (its minimum is
        # the onset) while train NLL keeps falling
        after = x_eval > bounds["peak"]
        at_onset = np.interp(bounds["peak"], x_eval, nll_held)
        nll_held[after] = at_onset + 0.6 * (x_eval[after] - bounds["peak"])
    nll_sd = 0.01
    nll_train = nll_train + rng.standard_normal(n_points) * nll_sd
    nll_held = nll_held + rng.standard_normal(n_points) * nll_sd
    resp_len = 120 + 200 * _ease(x_eval / 0.3, "cosine") + rng.standard_normal(n_points) * 5
    for i, s in enumerate(eval_steps):
        rows[int(s)].update({
            metric: float(offset + sign * observed[i]),
            "expert/nll_train": float(nll_train[i]),
            "expert/nll_heldout": float(nll_held[i]),
            "eval/response_length": float(resp_len[i]),
        })
    if train_metrics:
        steps = np.arange(last_step + 1, dtype=np.int64)
        x = steps / max(last_step, 1)
        perf = curve_of(x)
        reward = perf + rng.standard_normal(steps.size) * 3 * sd
        loss = 1.2 * np.exp(-2.5 * x) + 0.3 + rng.standard_normal(steps.size) * 0.05
        trough_frac = bounds.get("trough", 0.0)
        entropy = 0.8 + 0.6 * np.exp(-((x - trough_frac * 0.6) / 0.05) ** 2) * ("trough" in bounds)
        entropy = entropy + rng.standard_normal(steps.size) * 0.02
        for j, s in enumerate(steps):
            row = rows.setdefault(int(s), {})
            row.update({"train/reward": float(reward[j]), "train/loss": float(loss[j]),
                        "train/entropy": float(entropy[j])})

    order = sorted(rows)
    collector = RecordCollector(f"synthetic:{kind}:{seed}", "synthetic")
    line = 0
    records = [(s, rows[s]) for s in order]
    if resume and len(records) > 20:
        # The run crashed at `stop` and restarted from a checkpoint at `restart`: the block
        # restart..stop is logged twice; the first copy is noise-only garbage the second replaces.
        stop = int(rng.integers(len(records) // 3, 2 * len(records) // 3))
        restart = max(0, stop - int(rng.integers(5, max(6, len(records) // 10))))
        for s, row in records[:stop]:
            line += 1
            stale = {k: (v + rng.standard_normal() * 0.5 * abs(v) if k == metric else v)
                     for k, v in row.items()}
            collector.add(s, stale if s >= records[restart][0] else row, line=line)
        records = records[restart:]
    for s, row in records:
        line += 1
        collector.add(s, row, line=line)
    run = collector.build(
        name=f"{kind}-{seed}", algorithm="synthetic", performance_metric=metric,
        direction=direction, events=[],
    )
    truth = {
        "kind": kind,
        "phases": truth_phases,
        "peak_step": peak_step,
        "trough_step": trough_step,
        "overfit_onset_step": overfit_onset,
        "noise_sd": sd,
        "ar": phi,
        "shape": shape,
        "eval_every": every,
        "resume": bool(resume),
        "curve_steps": eval_steps,
        "curve": offset + sign * curve,
    }
    return SyntheticRun(run=run, metric=metric, direction=direction, truth=truth)


def _truth_phases(kind, bounds, to_step, last_step) -> list[tuple[str, int, int]]:
    names = KIND_PHASES[kind]
    cuts = [0]
    if "trough" in bounds:
        cuts.append(to_step(bounds["trough"]))
    if "peak" in bounds:
        cuts.append(to_step(bounds["peak"]))
    cuts.append(last_step)
    return [(name, cuts[i], cuts[i + 1]) for i, name in enumerate(names)]


def generate_regime(kind: str, regime: str | Regime, seed: int) -> SyntheticRun:
    """A run of `kind` observed as `regime`, drawn with this family's shapes and noise
    (`phasewatch.synth_eased`, which builds on the helpers here)."""
    from phasewatch.synth_eased import generate_regime as eased

    return eased(kind, regime, seed)


__all__ = ["CONTROL_KINDS", "KINDS", "KIND_PHASES", "REGIMES", "SHAPES", "SyntheticRun",
           "generate", "generate_regime"]
