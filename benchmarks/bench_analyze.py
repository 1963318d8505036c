"""Speed of `analyze` and `changepoints`, against ruptures measured in the same run.

- `analyze` end to end (read the log file, pick the metric, segment, name phases, JSON out) on
  a native run of 100,000 logged steps x 10 metrics (9 train metrics every step, held-out
  accuracy every 10 steps: 10,000 eval points). Target <= 2 s and >= 10x faster than ruptures
  `Pelt(model="l2", jump=5)` on the eval series alone (with a BIC penalty on its variance).
- `changepoints` on a 100,000-point series (end to end, and the segmentation alone): <= 1 s.
- start-up: `phasewatch --version` (target <= 0.15 s) and `analyze` of the same run as a
  subprocess (interpreter start, imports, reading, analysis, JSON out; target <= 0.7 s), beside
  the floors they stand on (`python -c pass`; `import numpy`) and `import numpy, pandas`, which
  analyze no longer pays (pandas is imported only for a DataFrame: `Run.table`, `Run.series`).
Each row prints its ratio to the target; `--against REV` also times the subprocess rows with the
phasewatch/ tree of git revision REV, alternating with this tree's, and prints this / REV.

Subprocesses run with Python's bytecode cache on (in a temporary PYTHONPYCACHEPREFIX, warmed by a
first run), as an installed package runs; `--cold` keeps the caller's environment (with
PYTHONDONTWRITEBYTECODE=1 every phasewatch module is compiled at each start).

Timings on a shared 2-core machine are noisy: each figure is the best of `--repeat` runs.
`--breakdown` adds where analyze's start-up goes, stage by stage (interpreter, numpy,
phasewatch's modules, reading, analysis), each stage a subprocess of everything before it.
Usage: python benchmarks/bench_analyze.py [--repeat 3] [--skip-ruptures] [--startup-only]
                                          [--against REV] [--cold] [--breakdown]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from revisions import checkout

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


class Launcher:
    """Times `python -m phasewatch ...` of one phasewatch/ tree (the tree is the working
    directory, so `-m` imports its package ahead of the installed one).

    Each run gives (wall seconds, CPU seconds of the child: user + system). On a shared
    machine the wall time grows with the other processes' load; the child's CPU time hardly
    does, and for this single-threaded work it is what the wall time is on an idle machine."""

    def __init__(self, tree: Path, env: dict[str, str]):
        self.tree, self.env = tree, env

    def _timed(self, command: list[str]) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=self.tree,
                       env=self.env)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu

    def time(self, *argv) -> tuple[float, float]:
        return self._timed([sys.executable, "-m", "phasewatch", *map(str, argv)])

    def python(self, code: str) -> tuple[float, float]:
        return self._timed([sys.executable, "-c", code])


def subprocess_env(tmp: Path, cold: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not cold:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def startup_rows(run_dir: Path, tmp: Path, args) -> list[tuple]:
    """(task, wall, cpu, target, wall at --against, cpu at --against) of the subprocess rows
    (each the best of `args.repeat`)."""
    env = subprocess_env(tmp, args.cold)
    trees = {"this": Launcher(ROOT, env)}
    if args.against:
        trees["old"] = Launcher(checkout(args.against, tmp / "old"), env)
    tasks = {"version": ("--version",), "analyze": ("analyze", run_dir, "--format", "json")}
    for launcher in trees.values():  # warm the bytecode cache and the file cache
        for argv in tasks.values():
            launcher.time(*argv)
    inf = (math.inf, math.inf)
    best = {(tree, task): inf for tree in trees for task in tasks}
    floors = {"pass": inf, "numpy": inf, "numpy+pandas": inf}

    def keep(key, table, got):
        table[key] = tuple(map(min, table[key], got))

    for _ in range(args.repeat):  # alternate, so both trees see the same machine load
        for tree, launcher in trees.items():
            for task, argv in tasks.items():
                keep((tree, task), best, launcher.time(*argv))
        keep("pass", floors, trees["this"].python("pass"))
        keep("numpy", floors, trees["this"].python("import numpy"))
        keep("numpy+pandas", floors, trees["this"].python("import numpy, pandas"))
    old = (lambda task: best["old", task]) if args.against else (lambda task: (None, None))
    return [
        ("`phasewatch --version` (subprocess: start-up alone)", *best["this", "version"], 0.15,
         *old("version")),
        ("analyze, 100k steps x 10 metrics (subprocess: + interpreter start, imports)",
         *best["this", "analyze"], 0.7, *old("analyze")),
        ("`python -c pass` (interpreter start, the floor of --version)", *floors["pass"], None,
         None, None),
        ("`python -c 'import numpy'` (the floor analyze stands on)", *floors["numpy"], None,
         None, None),
        ("`python -c 'import numpy, pandas'` (not imported by analyze any more)",
         *floors["numpy+pandas"], None, None, None),
    ]


# Where `analyze`'s start-up goes: each stage is a subprocess doing all the stages before it and
# one more, so the differences are the stages' own costs (imports shared by two stages count once).
ANALYZE_IMPORTS = ("import phasewatch.cli, phasewatch.commands.analyze, phasewatch.analysis, "
                   "phasewatch.io, phasewatch.io.native, phasewatch.io.source, "
                   "phasewatch.metric_sets, phasewatch.xaxis, phasewatch.output, phasewatch.folders")


def breakdown_stages(run_dir: Path) -> list[tuple[str, str]]:
    read = f"{ANALYZE_IMPORTS}; from phasewatch.io import read_run; read_run({str(run_dir)!r})"
    return [
        ("interpreter start", "pass"),
        ("+ import numpy", "import numpy"),
        ("+ the phasewatch modules analyze imports", ANALYZE_IMPORTS),
        ("+ reading the log into a Run (read_run)", read),
        ("+ metric choice, analysis, JSON out (the whole command)",
         ("import sys, os; from phasewatch.cli import main; sys.stdout = open(os.devnull, 'w'); "
          f"main(['analyze', {str(run_dir)!r}, '--format', 'json'])")),
    ]


def breakdown_rows(run_dir: Path, tmp: Path, args) -> list[tuple[str, float, float]]:
    """(stage, wall, CPU) cumulative, each the best of `args.repeat` subprocess runs."""
    launcher = Launcher(ROOT, subprocess_env(tmp, args.cold))
    stages = breakdown_stages(run_dir)
    for _, code in stages:  # warm the caches
        launcher.python(code)
    best = {name: (math.inf, math.inf) for name, _ in stages}
    for _ in range(args.repeat):
        for name, code in stages:
            best[name] = tuple(map(min, best[name], launcher.python(code)))
    return [(name, *best[name]) for name, _ in stages]


def print_breakdown(rows: list[tuple[str, float, float]]) -> None:
    print("\n## Where `analyze` (100k steps x 10 metrics, end to end) spends its time\n")
    print("Each row runs everything above it plus its own stage (subprocess, best of the repeats);")
    print("the stage's own cost is the difference to the row above.\n")
    print("| stage | wall s (cumulative) | CPU s (cumulative) | CPU s of the stage |")
    print("|---|---|---|---|")
    previous = 0.0
    for name, wall, cpu in rows:
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {cpu - previous:+.3f} |")
        previous = cpu


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ruptures_pelt(y: np.ndarray) -> list[int]:
    import ruptures as rpt

    pen = 2 * float(np.var(y)) * math.log(y.size)
    return rpt.Pelt(model="l2", jump=5).fit(y).predict(pen=pen)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-ruptures", action="store_true")
    parser.add_argument("--startup-only", action="store_true",
                        help="only the subprocess rows (start-up and analyze end to end)")
    parser.add_argument("--against", metavar="REV",
                        help="also time the subprocess rows at this git revision")
    parser.add_argument("--cold", action="store_true",
                        help="no bytecode cache for the subprocesses (the caller's environment)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time analyze's start-up stage by stage (imports, read, analysis)")
    args = parser.parse_args(argv)
    load_before = load_average()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        run_dir, series_dir = Path(tmp) / "run", Path(tmp) / "series"
        write_run(run_dir, rng)
        rows += startup_rows(run_dir, Path(tmp), args)
        stages = breakdown_rows(run_dir, Path(tmp), args) if args.breakdown else None
        if not args.startup_only:
            write_series(series_dir, rng)
            t_analyze, out = best_of(args.repeat, lambda: in_process(
                "analyze", run_dir, "--format", "json"))
            rows.append(("analyze, same (in process, incl. reading)", t_analyze, None, 2.0,
                         None, None))
            from phasewatch.io import read_run

            y = read_run(run_dir).series("eval/accuracy").to_numpy()
            if not args.skip_ruptures:
                t_rpt, _ = best_of(1, lambda: ruptures_pelt(y))
                rows.append((f"ruptures Pelt(l2, jump=5) on the {y.size} eval points alone",
                             t_rpt, None, None, None, None))
            t_cp, _ = best_of(args.repeat, lambda: in_process(
                "changepoints", series_dir, "--metric", "eval/accuracy", "--format", "json"))
            series = read_run(series_dir).series("eval/accuracy")
            steps, values = series.index.to_numpy(), series.to_numpy()
            t_seg, seg = best_of(args.repeat, lambda: Segmenter().fit(steps, values))
            rows.append(("changepoints, 100k-point series (in process, incl. reading)", t_cp,
                         None, 1.0, None, None))
            rows.append(("changepoints, segmentation alone (100k points)", t_seg, None, None,
                         None, None))

    cache = "no bytecode cache" if args.cold else "bytecode cache warm"
    print(f"\n## Speed (best of {args.repeat}; subprocesses: {cache}; shared 2-core machine)\n")
    print("Wall time grows with the machine's load; CPU time (user + system of the subprocess)")
    print("is close to the wall time of the same command on an idle machine. Load average (1, 5,")
    print(f"15 min) at the start: {load_before}; at the end: {load_average()}.\n")
    rev = args.against
    print("| task | wall s | CPU s | target | wall / target | CPU / target |"
          + (f" wall at {rev} | CPU at {rev} | CPU this / {rev} |" if rev else ""))
    print("|---|---|---|---|---|---|" + ("---|---|---|" if rev else ""))

    def cell(value, fmt="{:.3f}"):
        return "" if value is None else fmt.format(value)

    for name, wall, cpu, target, old_wall, old_cpu in rows:
        over = [None if v is None or not target else v / target for v in (wall, cpu)]
        line = (f"| {name} | {wall:.3f} | {cell(cpu)} | {cell(target, '<= {:g} s')} | "
                f"{cell(over[0], '{:.2f}x')} | {cell(over[1], '{:.2f}x')} |")
        if rev:
            change = None if old_cpu is None else cpu / old_cpu
            line += f" {cell(old_wall)} | {cell(old_cpu)} | {cell(change, '{:.2f}x')} |"
        print(line)
    if stages is not None:
        print_breakdown(stages)
    if not args.startup_only:
        if not args.skip_ruptures:
            print(f"\nanalyze end to end vs ruptures Pelt on the eval series alone: "
                  f"{t_rpt / t_analyze:.1f}x faster (target >= 10x)")
        phases = [p["name"] for p in __import__("json").loads(out)["runs"][0]["phases"]]
        print(f"analyze found: {' > '.join(phases)}; changepoints found {len(seg.changepoints)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
