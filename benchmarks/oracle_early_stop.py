"""How early any live overfit test could stop on the regime runs of `bench_early_stop.py`.

An oracle, not a method: it is told each run's true overfit onset, the noiseless curve's value
there (the true peak level) and the generator's noise sd, does not search for the onset and needs
no confirmation. After the onset it stops at the first evaluation where a known-level test reaches
z: the larger of the matched filter for a linear decline, sum_t t (peak - y_t) / (sd sqrt(sum t^2)),
and the step test, sum_t (peak - y_t) / (sd sqrt(m)). A live method knows none of these, so its
delay is at best this one's. Printed per family and regime: median delay (runs never reaching z
count as never), the share of runs stopped within 0.20 of the run, and the share stopped at all
(an upper bound on a live method's detection at that z).
Run: .venv/bin/python benchmarks/oracle_early_stop.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from early_stop_baselines import regime_runs


def oracle_delays(s, onset: int, zs=(4.0, 3.0)) -> dict[float, float]:
    sign = 1.0 if s.direction == "max" else -1.0
    series = s.run.series(s.metric).dropna()
    steps, y = series.index.to_numpy(), sign * series.to_numpy(dtype=float)
    curve_steps = np.asarray(s.truth["curve_steps"])
    top = sign * float(np.asarray(s.truth["curve"])[int(np.searchsorted(curve_steps, onset))])
    sd = float(s.truth["noise_sd"])
    c = int(np.searchsorted(steps, onset))
    fall = top - y[c + 1:]
    t = np.arange(1, fall.size + 1, dtype=np.float64)
    ramp = np.cumsum(t * fall) / (sd * np.sqrt(t * (t + 1) * (2 * t + 1) / 6))
    step = np.cumsum(fall) / (sd * np.sqrt(t))
    best = np.maximum(ramp, step)
    span = float(steps[-1] - steps[0])
    out = {}
    for z in zs:
        hit = np.flatnonzero(best >= z)
        out[z] = (steps[c + 1 + hit[0]] - onset) / span if hit.size else np.inf
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="seeds per kind")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds first-seed .. first-seed + runs - 1 (0: the benchmark's report seeds)")
    args = parser.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.runs)
    print(f"{'family':<10} {'regime':<7} {'runs':>5} {'z=4 median':>10} {'<=0.20':>7} {'ever':>5} "
          f"{'z=3 median':>10} {'<=0.20':>7} {'ever':>5}")
    per_kind = {}
    for regime in ("dense", "medium"):
        for family in ("synth", "logistic"):
            runs = [(s.truth["kind"], oracle_delays(s, onset))
                    for s, onset in regime_runs(family, regime, seeds) if onset is not None]
            d = [x for _, x in runs]
            cells = []
            for z in (4.0, 3.0):
                v = np.array([x[z] for x in d])
                cells.append(f"{np.median(v):>10.3f} {np.mean(v <= 0.20):>7.2f} "
                             f"{np.mean(np.isfinite(v)):>5.2f}")
            print(f"{family:<10} {regime:<7} {len(d):>5} " + " ".join(cells))
            for kind, x in runs:
                per_kind.setdefault((family, regime), {}).setdefault(kind, []).append(x[4.0])
    print("\nmedian delay at z = 4 per kind")
    for (family, regime), kinds in per_kind.items():
        print(f"{family:<10} {regime:<7} " + "  ".join(
            f"{kind} {np.median(v):.3f}" for kind, v in kinds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
