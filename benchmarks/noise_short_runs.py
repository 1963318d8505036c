"""How well the live monitor's noise estimates match the true noise, by regime.

Prints, per generator family and regime (seeds 20,000+, the tuning seeds, not the report seeds
of `bench_early_stop.py`), the ratio estimate / true noise sd at the middle and at the end of each
run (median, 10th and 90th percentile) of:
- white: the white-noise sd (`effective_noise`'s first value: MAD of differences, second
  differences from 10 values, the small-sample bound);
- sigma: the long-run sd the monitor judges levels by (white x the AR(1) inflation, phi from
  block-centred differences);
- rise: the noise a short series' rise and the decline after it are judged by (white x the
  inflation with phi from `local_ar`: residuals about a 5-point mean), the same as sigma after
  64 values.
On white-noise runs (medium: 13-40 evaluations, dense: 41-300) the ideal ratio is 1; on the
`ar1` regime the long-run sd is sqrt((1 + phi) / (1 - phi)) times the marginal sd the generator
reports, so sigma should read above 1 there.
Run: .venv/bin/python benchmarks/noise_short_runs.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from early_stop_baselines import regime_runs

from phasewatch.online.series_noise import effective_noise, rise_scale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="seeds per kind")
    parser.add_argument("--regimes", default="medium,dense,ar1")
    args = parser.parse_args(argv)
    print(f"{'family':<9} {'regime':<7} {'estimate':<6} {'median':>7} {'p10':>6} {'p90':>6}")
    for regime in args.regimes.split(","):
        for family in ("synth", "logistic"):
            ratios: dict[str, list[float]] = {"white": [], "sigma": [], "rise": []}
            for s, _ in regime_runs(family, regime, range(20_000, 20_000 + args.runs)):
                y = s.run.series(s.metric).dropna().to_numpy(dtype=float)
                sd = float(s.truth["noise_sd"])
                for k in {max(6, y.size // 2), y.size}:
                    values = deque(y[:k])
                    white, sigma, _ = effective_noise(values, 15)
                    ratios["white"].append(white / sd)
                    ratios["sigma"].append(sigma / sd)
                    ratios["rise"].append(sigma * rise_scale(values, white, sigma) / sd)
            for name, r in ratios.items():
                r = np.asarray(r)
                print(f"{family:<9} {regime:<7} {name:<6} {np.median(r):>7.2f} "
                      f"{np.percentile(r, 10):>6.2f} {np.percentile(r, 90):>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
