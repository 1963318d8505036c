"""`analyze --pool-noise` on groups of sparse runs that share one noise sd.

Several runs of one metric evaluated on the same set (seeds or arms of one sweep) share the
noise of one evaluation, which each run of 3-12 evaluations estimates badly on its own. Groups
of `--group` runs of the sparse regime (random kinds, controls included) are drawn from each
generator family; the generators draw a noise sd per run, so each run's noise (observed minus
the noiseless curve) is rescaled to one sd per group, drawn as the families draw theirs
(0.008-0.02). Every run is then analysed three ways: the noise estimated from the run alone
(the default), pooled over its group (`known_noise.pooled_sd`, as `--pool-noise`), and told the
true sd (`--noise-sd`); scored as `bench_phase_accuracy.py` scores (worst presence, boundary
hit, false claims on the controls).

Seeds: `--first-seed` 100 (tuning) by default; the report seeds are 5000+.
Usage: python benchmarks/bench_pooled_noise.py [--groups N] [--group K] [--first-seed S]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_phase_accuracy import FAMILIES, TUNING_FAMILIES, Tally

from phasewatch.analysis import analyze_run
from phasewatch.known_noise import pooled_sd
from phasewatch.results import PHASE_NAMES
from phasewatch.run import RecordCollector
from phasewatch.signals import prepare
from phasewatch.synth_regimes import REGIMES, SyntheticRun

METHODS = ("estimated", "pooled", "told")


def with_noise_sd(s: SyntheticRun, sd: float) -> SyntheticRun:
    """`s` with its noise (observed minus the noiseless curve) rescaled to sd `sd`."""
    series = s.run.series(s.metric).dropna()
    steps = series.index.to_numpy(np.int64)
    curve = np.interp(steps, s.truth["curve_steps"], s.truth["curve"])
    factor = sd / s.truth["noise_sd"]
    values = curve + (series.to_numpy(float) - curve) * factor
    collector = RecordCollector(s.run.source, "synthetic")
    for i, (step, value) in enumerate(zip(steps, values)):
        collector.add(int(step), {s.metric: float(value)}, line=i + 1)
    truth = dict(s.truth, noise_sd=sd, start_sd=s.truth["start_sd"] * factor)
    return replace(s, run=collector.build(events=[]), truth=truth)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=150, help="groups per family")
    parser.add_argument("--group", type=int, default=4, help="runs per group")
    parser.add_argument("--first-seed", type=int, default=100)
    args = parser.parse_args(argv)
    kinds = REGIMES["sparse"].kinds()
    print(f"groups of {args.group} sparse runs sharing one noise sd, {args.groups} groups per "
          f"family, seeds from {args.first_seed}\n")
    print("| family | noise | worst presence | boundary hit | false claims | sd / truth: median "
          "(p10-p90) |")
    print("|---|---|---|---|---|---|")
    for family in TUNING_FAMILIES:
        generate = FAMILIES[family]
        rng = np.random.default_rng([args.first_seed, len(family)])
        tallies = {m: Tally() for m in METHODS}
        ratios = {m: [] for m in METHODS}
        for g in range(args.groups):
            sd = float(rng.uniform(0.008, 0.02))
            group = [with_noise_sd(generate(kinds[int(rng.integers(len(kinds)))], "sparse",
                                            args.first_seed + g * args.group + k), sd)
                     for k in range(args.group)]
            pooled, _ = pooled_sd([prepare(s.run, s.metric, s.direction).values for s in group])
            for s in group:
                for method, opts in (("estimated", {}), ("pooled", {"noise_sd": pooled}),
                                     ("told", {"noise_sd": sd})):
                    a = analyze_run(s.run, metric=s.metric, direction=s.direction, **opts)
                    tallies[method].add(s, a)
                    if a.extra.get("noise_sd"):
                        ratios[method].append(a.extra["noise_sd"] / sd)
        for method in METHODS:
            row, r = tallies[method].row(), np.array(ratios[method])
            worst = min(row[name] for name in PHASE_NAMES)
            print(f"| {family} | {method} | {worst:.2f} | {row['hit']:.2f} | {row['false']:.2f} | "
                  f"{np.median(r):.2f} ({np.percentile(r, 10):.2f}-{np.percentile(r, 90):.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
