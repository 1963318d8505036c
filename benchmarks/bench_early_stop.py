"""Early-stop alerts: phasewatch's live monitor against patience-based early stopping.

Printed side by side on the same runs:
- synthetic runs with known truth (`phasewatch.synth` when present, else the small generator
  below) with and without overfit;
- the reference trainer's runs in sample_logs/ (truth = the offline detector's overfit phase).

Columns: detection rate (stopped at or after the true overfit onset, on runs with overfit),
early (stopped before the onset, on runs with overfit), false (stopped at all, on runs without
overfit), median delay (stop - onset) as a fraction of the run's length, and the regret of the
recommended checkpoint: clean(peak) - clean(recommended), as a percentage of the clean curve's
range (the checkpoint a method recommends is its best step at the stop, or at the end of the run
when it never stopped).

Baselines, with the semantics of the frameworks' callbacks:
- patience N: Hugging Face `EarlyStoppingCallback(early_stopping_patience=N)` (threshold 0):
  stop after N evaluations without a new best; recommend the best evaluation (what
  `load_best_model_at_end` loads).
- EMA + patience: Lightning `EarlyStopping(patience=10)` on an exponential moving average of the
  metric (alpha = 0.1, half-life ~6.6 evaluations).
Run: .venv/bin/python benchmarks/bench_early_stop.py [--runs N]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from phasewatch.online import PhaseMonitor

TARGETS = {"detection": ">= 0.90", "early": "<= 0.05", "false": "<= 0.05", "delay": "<= 0.10"}


# ----------------------------------------------------------------------------- test runs
@dataclass
class Case:
    name: str
    kind: str
    steps: np.ndarray
    values: np.ndarray  # observed, NaN where missing
    clean: np.ndarray  # the noiseless curve (for regret)
    onset: int | None  # true overfit onset step (None: no overfit)
    direction: str = "max"


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
    return Case(f"{kind}/{seed}", kind, steps, y, curve, onset)


def synth_cases(n_runs: int) -> tuple[list[Case], str]:
    try:
        from phasewatch import synth
    except ImportError:
        synth = None
    kinds_over = ("three_phase", "overfit_only")
    kinds_clean = ("flat", "monotone", "dip_recover")
    cases = []
    if synth is None:
        for i in range(n_runs):
            for kind in kinds_over + kinds_clean:
                cases.append(own_generator(kind, 1000 + i))
        return cases, "own generator (phasewatch.synth not available)"
    raise NotImplementedError


# ----------------------------------------------------------------------------- methods
class Patience:
    """HF EarlyStoppingCallback: stop after `patience` evaluations without improvement."""

    def __init__(self, patience: int, threshold: float = 0.0, ema: float | None = None):
        self.patience, self.threshold, self.ema = patience, threshold, ema
        self.best = None
        self.best_step = None
        self.bad = 0
        self.smoothed = None
        self.should_stop = False

    def update(self, step: int, value: float) -> None:
        if not math.isfinite(value):
            return
        if self.ema is not None:
            self.smoothed = value if self.smoothed is None else (
                self.ema * value + (1 - self.ema) * self.smoothed)
            value = self.smoothed
        if self.best is None or value > self.best + self.threshold:
            self.best, self.best_step, self.bad = value, step, 0
        else:
            self.bad += 1
            if self.bad >= self.patience:
                self.should_stop = True


class Phasewatch:
    def __init__(self, **options):
        self.monitor = PhaseMonitor(metric="m", direction="max", nll_train=None,
                                    nll_heldout=None, **options)

    def update(self, step, value):
        self.monitor.update(step, {"m": value})

    @property
    def should_stop(self):
        return self.monitor.should_stop

    @property
    def best_step(self):
        return self.monitor.best_step


METHODS = {
    "phasewatch": lambda: Phasewatch(),
    "patience 3": lambda: Patience(3),
    "patience 10": lambda: Patience(10),
    "EMA + patience 10": lambda: Patience(10, ema=0.1),
}


def evaluate(make, case: Case) -> dict:
    method = make()
    sign = 1.0 if case.direction == "max" else -1.0
    stop = None
    for step, value in zip(case.steps, case.values):
        method.update(int(step), float(sign * value) if isinstance(method, Patience)
                      else float(value))
        if method.should_stop:
            stop = int(step)
            break
    best = method.best_step
    clean = sign * case.clean
    span = float(clean.max() - clean.min()) or 1.0
    idx = int(np.searchsorted(case.steps, best)) if best is not None else len(clean) - 1
    idx = min(idx, len(clean) - 1)
    regret = (float(clean.max()) - float(clean[idx])) / span
    return {"stop": stop, "best": best, "regret": regret}


def score(cases: list[Case], results: list[dict]) -> dict:
    over = [(c, r) for c, r in zip(cases, results) if c.onset is not None]
    clean = [(c, r) for c, r in zip(cases, results) if c.onset is None]
    detected = [(c, r) for c, r in over if r["stop"] is not None and r["stop"] >= c.onset]
    early = [(c, r) for c, r in over if r["stop"] is not None and r["stop"] < c.onset]
    false = [(c, r) for c, r in clean if r["stop"] is not None]
    delays = [(r["stop"] - c.onset) / (c.steps[-1] - c.steps[0]) for c, r in detected]
    return {
        "n": f"{len(over)}+{len(clean)}",
        "detection": len(detected) / max(len(over), 1),
        "early": len(early) / max(len(over), 1),
        "false": len(false) / max(len(clean), 1) if clean else float("nan"),
        "delay": float(np.median(delays)) if delays else float("nan"),
        "regret": 100 * float(np.mean([r["regret"] for _, r in over])) if over else float("nan"),
    }


def table(title: str, cases: list[Case]) -> None:
    print(f"\n{title}")
    header = (f"{'method':<20} {'runs(o+c)':>9} {'detection':>9} {'early':>6} {'false':>6} "
              f"{'delay':>6} {'regret%':>8}")
    print(header)
    print("-" * len(header))
    for name, make in METHODS.items():
        s = score(cases, [evaluate(make, c) for c in cases])
        print(f"{name:<20} {s['n']:>9} {s['detection']:>9.2f} {s['early']:>6.2f} "
              f"{s['false']:>6.2f} {s['delay']:>6.3f} {s['regret']:>8.1f}")
    print(f"{'target':<20} {'':>9} {TARGETS['detection']:>9} {TARGETS['early']:>6} "
          f"{TARGETS['false']:>6} {TARGETS['delay']:>6}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="seeds per kind")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    cases, origin = synth_cases(args.runs)
    table(f"Synthetic runs ({origin})", cases)
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
