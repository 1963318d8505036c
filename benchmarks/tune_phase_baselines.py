"""Choose the comparators' settings (`phase_baselines.BaselineConfig`) on tuning seeds only.

Every regime of both generator families, seeds 4000+ (below the report seeds 5000+ of
`bench_phase_accuracy.py`, above the test seeds < 100). For each method and setting, the score
of a (family, regime) cell is (worst presence + boundary hit + (1 - false claims)) / 3, scored by
`bench_phase_accuracy.Tally`, and a setting's score is the mean over cells. The grid: the
naming threshold `k_sd` for every method; segmented's `min_gap`; PELT's penalty multiplier.
The oracle variants keep the fit setting chosen for their non-oracle twin and get their own
`k_sd` (they judge against another sd). Prints the table and the best setting per method;
the defaults in `BaselineConfig` are copied from its output.

Usage: python benchmarks/tune_phase_baselines.py [--seeds N] [--first-seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_phase_accuracy import FAMILIES, TUNING_FAMILIES, Tally
from phase_baselines import BaselineConfig, analysis_from_fit, finite_series, fit_series

from phasewatch.results import PHASE_NAMES
from phasewatch.synth_regimes import REGIME_NAMES, REGIMES

K_SD = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
FITS = {  # method -> [(label, config overrides)]
    "segmented": [("min_gap=1", {"min_gap": 1}), ("min_gap=2", {"min_gap": 2})],
    "pelt": [(f"pen={p}", {"pelt_pen": p}) for p in (3.0, 5.0, 8.0, 12.0)],
}


def cell_score(t: Tally) -> float:
    r = t.row()
    return (min(r[n] for n in PHASE_NAMES) + r["hit"] + 1.0 - r["false"]) / 3.0


def tune(seeds: range, fits: dict[str, list[tuple[str, dict]]]) -> dict:
    """Tallies keyed (method, fit label, k_sd, family, regime)."""
    tallies: dict = defaultdict(Tally)
    t0 = time.perf_counter()
    for family, regime in ((f, r) for f in TUNING_FAMILIES for r in REGIME_NAMES):
        for kind in REGIMES[regime].kinds():
            for seed in seeds:
                s = FAMILIES[family](kind, regime, seed)
                steps, y, sign, own, direction = finite_series(s.run, s.metric, s.direction)
                for method, options in fits.items():
                    for label, over in options:
                        cfg = BaselineConfig(**over)
                        fit = fit_series(steps, y, method, cfg, s.truth["noise_sd"])
                        for k in K_SD:
                            a = analysis_from_fit(s.run, method, steps, fit, sign, own,
                                                  direction, k)
                            tallies[method, label, k, family, regime].add(s, a)
        print(f"[{family} {regime}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    return tallies


def report(tallies: dict, fits: dict) -> dict[str, tuple[str, float]]:
    best: dict[str, tuple[str, float]] = {}
    print("| method | fit | " + " | ".join(f"k_sd {k}" for k in K_SD) + " |")
    print("|---|---|" + "---|" * len(K_SD))
    for method, options in fits.items():
        top = (-1.0, "", 0.0)
        for label, _ in options:
            scores = []
            for k in K_SD:
                cells = [cell_score(tallies[method, label, k, f, r])
                         for f in TUNING_FAMILIES for r in REGIME_NAMES]
                scores.append(float(np.mean(cells)))
                top = max(top, (scores[-1], label, k))
            print(f"| {method} | {label} | " + " | ".join(f"{v:.3f}" for v in scores) + " |")
        best[method] = (top[1], top[2])
    print()
    for method, (label, k) in best.items():
        print(f"best {method}: {label}, k_sd {k}")
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="seeds per kind and regime")
    parser.add_argument("--first-seed", type=int, default=4000)
    args = parser.parse_args(argv)
    if args.first_seed + args.seeds > 5000:
        parser.error("tuning seeds must stay below 5000 (the report seeds)")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"tuning seeds {seeds.start}-{seeds.stop - 1}, every regime, both families\n")
    best = report(tune(seeds, FITS), FITS)
    # the oracle twins: their non-oracle twin's fit setting, their own threshold
    oracle_fits = {f"{m}-oracle": [o for o in FITS[m] if o[0] == best[m][0]] for m in FITS}
    print("\noracle variants (fit setting of the non-oracle twin):\n")
    report(tune(seeds, oracle_fits), oracle_fits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
