"""False claims on short runs with sticky (AR(1)) noise: a limit the regime tables do not show.

The phase-accuracy benchmark's `ar1` regime has 40-200 evaluations; up to 40, the offline
detector takes the noise as white around a broken line (`phasewatch.hinge`), and the live
monitor on a run planned to be that short refits it. This script measures what that costs on
flat runs (no phase to find) of 15 and 30 evaluations, noise sd 0.01, AR(1) coefficient 0, 0.3
and 0.6, 40 seeds each: how many `analyze_run` gives any phase but a plateau, how many an
overfit, and how many the live monitor stops when told the planned length (the run's last step).

Usage: python benchmarks/bench_short_sticky.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from phasewatch.analysis import analyze_run
from phasewatch.online import PhaseMonitor
from phasewatch.run import Run


def sticky_flat(seed: int, n: int, phi: float, sd: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of a flat accuracy at 0.5 under stationary AR(1) noise of sd `sd`."""
    rng = np.random.default_rng(seed)
    noise = np.empty(n)
    noise[0] = rng.normal(0, sd)
    for i in range(1, n):
        noise[i] = phi * noise[i - 1] + rng.normal(0, sd * np.sqrt(1 - phi**2))
    return np.arange(n) * 10, 0.5 + noise


def live_stops(steps: np.ndarray, values: np.ndarray) -> bool:
    monitor = PhaseMonitor(metric="eval/accuracy", planned_steps=int(steps[-1]))
    for step, value in zip(steps, values):
        monitor.update(int(step), {"eval/accuracy": float(value)})
        if monitor.should_stop:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args(argv)
    print("| evaluations | phi | runs | analyze: any phase | analyze: an overfit | "
          "live, told the plan: stopped |")
    print("|---|---|---|---|---|---|")
    for n in (15, 30):
        for phi in (0.0, 0.3, 0.6):
            claims = overfits = stops = 0
            for seed in range(args.runs):
                steps, values = sticky_flat(seed, n, phi)
                run = Run.from_columns({"eval/accuracy": (steps, values)}, "sticky", "synthetic")
                names = [p.name for p in analyze_run(run, "eval/accuracy", "max").phases]
                claims += names != ["plateau"]
                overfits += "overfit" in names
                stops += live_stops(steps, values)
            print(f"| {n} | {phi} | {args.runs} | {claims} | {overfits} | {stops} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
