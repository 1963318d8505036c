"""The runs `bench_early_stop.py` scores, each a `Case`: what a live monitor sees (the records
in log order) and the truth it is scored against (the noiseless curve, the overfit onset).

Generators: `phasewatch.synth` runs of every kind (`synth_cases`, `case_of` for the regime
runs of `early_stop_baselines.regime_runs`), the benchmark's own smooth curves (`own_cases`),
plateaus with one upset that recovers (`upset_cases`) and long flat runs with strongly
autocorrelated noise (`ar_flat_cases`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np


# ----------------------------------------------------------------------------- test runs
@dataclass
class Case:
    name: str
    kind: str
    records: list  # (step, {metric: value}) in log order: what a live monitor sees
    metric: str
    direction: str
    curve_steps: np.ndarray  # the noiseless performance curve (for regret)
    curve: np.ndarray
    onset: int | None  # true overfit onset step (None: no overfit)
    noise_sd: float | None = None
    run: object = None  # the resolved Run (for the offline detector)
    planned: int | None = None  # the run's planned last step (a trainer's max_steps)
    events: tuple = ()  # known boundaries (run.json), told to the monitor

    def __post_init__(self) -> None:
        if self.planned is None and self.records:  # a finished run: its last logged step
            self.planned = max(step for step, _ in self.records)

    def performance_only(self) -> Case:
        records = [(s, {self.metric: r[self.metric]}) for s, r in self.records if self.metric in r]
        return dataclasses.replace(self, records=records)


def _ar1(rng, n, phi, sd):
    e = rng.normal(0, sd * math.sqrt(1 - phi**2), n)
    x = np.empty(n)
    x[0] = rng.normal(0, sd)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def own_generator(kind: str, seed: int) -> Case:
    """Training-like curves: smooth shapes, AR(1) noise, rare outliers, NaNs, eval every
    `every` steps. Used until `phasewatch.synth` exists (and as a second opinion after)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(120, 400))
    every = int(rng.choice([5, 10, 20]))
    t = np.linspace(0, 1, n)
    start = rng.uniform(0.3, 0.6)
    sd = rng.uniform(0.01, 0.03)
    dip = rng.uniform(0.08, 0.2)
    gain = rng.uniform(0.1, 0.3)
    t_dip, t_peak = rng.uniform(0.05, 0.15), rng.uniform(0.35, 0.65)
    decline = rng.uniform(0.06, 0.15)  # total loss over the overfit phase
    onset = None
    if kind in ("three_phase", "overfit_only"):
        rise = start + gain / (1 + np.exp(-(t - (t_dip + t_peak) / 2) / 0.05))
        base = rise - (dip * np.exp(-((t - t_dip) / 0.05) ** 2) if kind == "three_phase" else 0)
        # after the peak: a decline that starts smoothly (quadratic), then linear
        after = np.clip(t - t_peak, 0, None)
        curve = base - decline * (after / (1 - t_peak)) ** 1.3
    elif kind == "flat":
        curve = np.full(n, start)
    elif kind == "monotone":
        curve = start + gain * (1 - np.exp(-t / rng.uniform(0.1, 0.4)))
    elif kind == "dip_recover":
        curve = (start + gain / (1 + np.exp(-(t - 0.3) / 0.05))
                 - dip * np.exp(-((t - t_dip) / 0.05) ** 2))
    else:
        raise ValueError(kind)
    phi = rng.choice([0.0, 0.3, 0.5])
    y = curve + _ar1(rng, n, phi, sd)
    outliers = rng.random(n) < 0.01
    y[outliers] -= rng.uniform(3, 8) * sd
    y[rng.random(n) < 0.01] = np.nan
    steps = np.arange(n) * every
    if kind in ("three_phase", "overfit_only"):
        onset = int(steps[int(np.argmax(curve))])
    records = [(int(st), {"eval/accuracy": float(v)}) for st, v in zip(steps, y)]
    return Case(f"own:{kind}/{seed}", kind, records, "eval/accuracy", "max", steps, curve, onset)


def own_cases(n_runs: int) -> list[Case]:
    kinds = ("three_phase", "overfit_only", "flat", "monotone", "dip_recover")
    return [own_generator(kind, 1000 + i) for i in range(n_runs) for kind in kinds]


def upset_run(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One upset run (`upset_cases`) drawn from `seed`: steps, noiseless curve, logged values,
    noise sd. tests/test_online_after_peak.py draws its runs here too."""
    rng = np.random.default_rng(seed)
    n, sd = int(rng.integers(150, 300)), rng.uniform(0.01, 0.02)
    t = np.arange(n, dtype=float)
    curve = 0.5 + 15 * sd / (1 + np.exp(-(t - 0.15 * n) / (0.03 * n)))
    start, length = int(rng.integers(int(0.4 * n), int(0.8 * n))), int(rng.integers(3, 11))
    upset = np.where((t >= start) & (t < start + length), rng.uniform(4, 10) * sd, 0.0)
    return np.arange(n) * 10, curve, curve - upset + rng.normal(0, sd, n), sd


def upset_cases(n_runs: int) -> list[Case]:
    """A rise, then a plateau at its top with one optimisation upset: the accuracy falls 4-10
    noise sds for 3-10 evaluations, then comes back. No overfit (DESIGN.md: an overfit is a
    *sustained* decline), so any stop is a false one; 150-300 evaluations, white noise."""
    cases = []
    for seed in range(n_runs):
        steps, curve, y, sd = upset_run(7000 + seed)
        records = [(int(st), {"eval/accuracy": float(v)}) for st, v in zip(steps, y)]
        cases.append(Case(f"upset/{seed}", "upset", records, "eval/accuracy", "max", steps, curve,
                          None, sd))
    return cases


def ar_flat_cases(n_runs: int, phi: float) -> list[Case]:
    """Long flat runs (300-800 evaluations) whose noise is strongly autocorrelated: the slow
    wander of AR(1) noise is what a trend detector most easily mistakes for a decline."""
    cases = []
    for seed in range(n_runs):
        rng = np.random.default_rng(5000 + seed + int(100 * phi))
        n = int(rng.integers(300, 800))
        steps = np.arange(n) * 10
        y = 0.5 + _ar1(rng, n, phi, rng.uniform(0.01, 0.03))
        records = [(int(st), {"eval/accuracy": float(v)}) for st, v in zip(steps, y)]
        cases.append(Case(f"ar_flat:{phi}/{seed}", "flat", records, "eval/accuracy", "max",
                          steps, np.full(n, 0.5), None))
    return cases


def synth_cases(n_runs: int, first_seed: int = 0) -> list[Case] | None:
    """phasewatch.synth runs, every kind, fed as logged (all metrics, step order); seeds
    first_seed .. first_seed + n_runs - 1 (the report uses 0 ..; tune on others)."""
    try:
        from phasewatch import synth
    except ImportError:
        return None
    cases = []
    for kind in synth.KINDS:
        for seed in range(first_seed, first_seed + n_runs):
            s = synth.generate(kind, seed)
            wide = s.run.wide()
            names = list(wide.columns)
            records = [
                (int(step), {n: float(v) for n, v in zip(names, row) if not math.isnan(v)})
                for step, row in zip(wide.index.to_numpy(), wide.to_numpy(dtype=float))
            ]
            t = s.truth
            cases.append(Case(f"synth:{kind}/{seed}", kind, records, s.metric, s.direction,
                              np.asarray(t["curve_steps"]), np.asarray(t["curve"]),
                              t["overfit_onset_step"], t["noise_sd"], s.run))
    return cases


def case_of(s, onset) -> Case:
    """A generated run as the records a live monitor sees (all metrics, step order)."""
    wide = s.run.wide()
    names = list(wide.columns)
    records = [(int(step), {n: float(v) for n, v in zip(names, row) if not math.isnan(v)})
               for step, row in zip(wide.index.to_numpy(), wide.to_numpy(dtype=float))]
    t = s.truth
    return Case(f"{t.get('family')}:{t['kind']}/{s.run.name}", t["kind"], records, s.metric,
                s.direction, np.asarray(t["curve_steps"]), np.asarray(t["curve"]), onset,
                t["noise_sd"], s.run)
