"""Speed of `analyze` and `changepoints`, against ruptures measured in the same run.

- `analyze` end to end (read the log file, pick the metric, segment, name phases, JSON out) on
  a native run of 100,000 logged steps x 10 metrics (9 train metrics every step, held-out
  accuracy every 10 steps: 10,000 eval points). Target <= 2 s and >= 10x faster than ruptures
  `Pelt(model="l2", jump=5)` on the eval series alone (with a BIC penalty on its variance).
- `changepoints` on a 100,000-point series (end to end, and the segmentation alone): <= 1 s.
Also the subprocess wall time of the `phasewatch` command (adds interpreter start and imports).

Timings on a shared 2-core machine are noisy: each figure is the best of `--repeat` runs.
Usage: python benchmarks/bench_analyze.py [--repeat 3] [--skip-ruptures]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from phasewatch.changepoint import Segmenter
from phasewatch.cli import main as cli_main

N_STEPS, EVAL_EVERY = 100_000, 10
TRAIN_METRICS = ("train/loss", "train/reward", "train/entropy", "train/grad_norm", "train/lr",
                 "train/kl", "train/sft_loss", "train/rl_loss", "train/mu")


def three_phase_curve(t: np.ndarray) -> np.ndarray:
    dip = -0.12 * np.exp(-0.5 * ((t - 0.1) / 0.04) ** 2)
    rise = 0.2 / (1 + np.exp(-(t - 0.3) / 0.05))
    fall = -0.1 * np.clip(t - 0.55, 0, None) / 0.45
    return 0.4 + dip + rise + fall


def write_run(folder: Path, rng: np.random.Generator) -> None:
    """A native run folder: metrics.jsonl (100k lines) + run.json."""
    folder.mkdir(parents=True, exist_ok=True)
    steps = np.arange(N_STEPS)
    t = steps / N_STEPS
    train = {name: np.round(three_phase_curve(t) * (k + 1) + rng.standard_normal(N_STEPS) * 0.05, 5)
             for k, name in enumerate(TRAIN_METRICS)}
    acc = np.round(three_phase_curve(t) + rng.standard_normal(N_STEPS) * 0.01, 5)
    lines = []
    for i in range(N_STEPS):
        fields = ", ".join(f'"{name}": {train[name][i]}' for name in TRAIN_METRICS)
        if i % EVAL_EVERY == 0:
            fields += f', "eval/accuracy": {acc[i]}'
        lines.append(f'{{"step": {i}, {fields}}}')
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "run.json").write_text(
        '{"schema_version": 1, "name": "bench", "algorithm": "sft", '
        '"performance_metric": "eval/accuracy", "direction": "max", "events": [], "config": {}}',
        encoding="utf-8")


def write_series(folder: Path, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    y = np.round(three_phase_curve(np.arange(N_STEPS) / N_STEPS) + rng.standard_normal(N_STEPS)
                 * 0.01, 5)
    (folder / "metrics.jsonl").write_text(
        "".join(f'{{"step": {i}, "eval/accuracy": {v}}}\n' for i, v in enumerate(y)),
        encoding="utf-8")
    (folder / "run.json").write_text('{"schema_version": 1, "events": [], "config": {}}',
                                     encoding="utf-8")


def best_of(repeat: int, fn) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def in_process(*argv) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli_main([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"phasewatch {' '.join(map(str, argv))} exited {code}")
    return buffer.getvalue()


def subprocess_time(*argv) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "phasewatch", *map(str, argv)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def python_time(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def ruptures_pelt(y: np.ndarray) -> list[int]:
    import ruptures as rpt

    pen = 2 * float(np.var(y)) * math.log(y.size)
    return rpt.Pelt(model="l2", jump=5).fit(y).predict(pen=pen)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-ruptures", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        run_dir, series_dir = Path(tmp) / "run", Path(tmp) / "series"
        write_run(run_dir, rng)
        write_series(series_dir, rng)

        t_analyze, out = best_of(args.repeat, lambda: in_process("analyze", run_dir, "--format",
                                                                 "json"))
        t_analyze_sub = min(subprocess_time("analyze", run_dir, "--format", "json")
                            for _ in range(args.repeat))
        t_version = min(subprocess_time("--version") for _ in range(args.repeat))
        t_pandas = min(python_time("import numpy, pandas") for _ in range(args.repeat))
        from phasewatch.io import read_run

        run = read_run(run_dir)
        y = run.series("eval/accuracy").to_numpy()
        rows.append(("analyze, 100k steps x 10 metrics (in process, incl. reading)",
                     t_analyze, "<= 2 s"))
        rows.append(("analyze, same (subprocess: + interpreter start, imports)",
                     t_analyze_sub, "<= 0.7 s"))
        rows.append(("`phasewatch --version` (subprocess: start-up alone)", t_version,
                     "<= 0.15 s"))
        rows.append(("`python -c 'import numpy, pandas'` (the floor analyze stands on)",
                     t_pandas, ""))
        if not args.skip_ruptures:
            t_rpt, _ = best_of(1, lambda: ruptures_pelt(y))
            rows.append((f"ruptures Pelt(l2, jump=5) on the {y.size} eval points alone",
                         t_rpt, ""))
        t_cp, _ = best_of(args.repeat, lambda: in_process("changepoints", series_dir,
                                                          "--metric", "eval/accuracy",
                                                          "--format", "json"))
        series = read_run(series_dir).series("eval/accuracy")
        steps, values = series.index.to_numpy(), series.to_numpy()
        t_seg, seg = best_of(args.repeat, lambda: Segmenter().fit(steps, values))
        rows.append(("changepoints, 100k-point series (in process, incl. reading)", t_cp,
                     "<= 1 s"))
        rows.append(("changepoints, segmentation alone (100k points)", t_seg, ""))

    print(f"\n## Speed (best of {args.repeat}; shared 2-core machine, noisy)\n")
    print("| task | seconds | target |")
    print("|---|---|---|")
    for name, seconds, target in rows:
        print(f"| {name} | {seconds:.3f} | {target} |")
    if not args.skip_ruptures:
        print(f"\nanalyze end to end vs ruptures Pelt on the eval series alone: "
              f"{t_rpt / t_analyze:.1f}x faster (target >= 10x)")
    phases = [p["name"] for p in __import__("json").loads(out)["runs"][0]["phases"]]
    print(f"analyze found: {' > '.join(phases)}; changepoints found {len(seg.changepoints)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
