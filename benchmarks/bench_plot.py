"""Time to build and save the paper figures, and their file sizes.

Wall time of building each figure and saving it (best / median of --repeat), inputs already
read and analysed (reading and analysing are `analyze`'s cost), on the committed sample runs.
The machine is shared (2 cores, other jobs running): timings vary by tens of percent.
Usage: python benchmarks/bench_plot.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import phasewatch
from phasewatch.plot import compare_figure, phase_figure, save_figure, token_figure

ARMS = ("sft_then_rl", "chord_mu", "chord_phi", "rl", "sft")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [phasewatch.read_run(ROOT / "sample_logs" / arm) for arm in ARMS]
    analyses = [phasewatch.analyze(run) for run in runs]
    three = ["eval/accuracy", "expert/nll_heldout", "train/entropy"]
    cases = {
        "phase figure, single column, 4 panels -> PDF": (lambda: phase_figure(runs[0], analyses[0]), "pdf"),
        "phase figure, single column, 4 panels -> PNG 300 dpi": (lambda: phase_figure(runs[0], analyses[0]), "png"),
        "comparison overlay, 5 arms x 3 metrics, full width -> PDF": (
            lambda: compare_figure(runs, three, analyses=analyses, size="full"), "pdf"),
        "comparison grid, 5 arms, full width -> PDF": (
            lambda: compare_figure(runs, analyses=analyses, layout="grid", size="full"), "pdf"),
        "seed groups (4 runs as 2 labelled groups), single -> PDF": (
            lambda: compare_figure(runs[:4], analyses=analyses[:4], labels=["A", "A", "B", "B"]), "pdf"),
        "token heatmap, 201 steps x 2 splits, full width -> PDF": (
            lambda: token_figure(runs[0], size="full"), "pdf"),
    }
    print(f"{'figure':<60} {'best (s)':>9} {'median (s)':>11} {'size':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (build, fmt) in cases.items():
            times = []
            path = Path(tmp) / f"f.{fmt}"
            for _ in range(args.repeat):
                start = time.perf_counter()
                save_figure(build(), path)
                times.append(time.perf_counter() - start)
            print(f"{name:<60} {min(times):>9.2f} {statistics.median(times):>11.2f} "
                  f"{path.stat().st_size / 1024:>6.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
