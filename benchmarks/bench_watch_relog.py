"""`watch` against `analyze` on logs that print their followed metric many times at one step.

GRPO console scripts print a progress row per prompt group (`loss=..., mean_r=..., skip=...`),
so the train loss is re-logged 3-40 times at each step, with other rows of that step (a
sample's scores) between the re-logs; offline the step's last value is kept. Live, each
re-logged value used to make the monitor rewind and replay: `watch` took several times as
long as `analyze` on such a log.

Cases: a synthetic GRPO console log written here (`--steps` steps, 3-40 re-logs of the loss
per step, a scored-sample row after each); the same log with only each step's summary row (one
row a step: what watch costs without re-logs, the same values offline); and, when present, the
real AxiomForgeAI GRPO console log (1,298 records over 32 steps) from the sweep folder. For each, as a user runs them
(`python -m phasewatch`, a fresh process each time, best of `--repeat`): `analyze FILE` and
`watch FILE --format jsonl`, their seconds and the ratio, and watch's checkpoint against
analyze's. `--tree PATH` runs another checkout's phasewatch/ instead (a `git worktree` of an
older revision, to measure before a change).

Usage: python benchmarks/bench_watch_relog.py [--steps 150] [--repeat 3] [--tree PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AXIOMFORGE = Path("/tmp/sweep/Prem01-cyber+AxiomForgeAI/logs/grpo/grpo_20260426_032827.log")
MIN_RELOGS, MAX_RELOGS = 3, 40


def grpo_console_lines(steps: int, seed: int = 0) -> list[str]:
    """A GRPO console log's lines: per step, 3-40 progress rows re-logging the loss (a falling
    then rising curve plus noise), each followed by a scored-sample row of the same step, then
    the step's summary row (its final loss, the value analyze keeps)."""
    rng = np.random.default_rng(seed)
    lines = ["GRPO run: synthetic (phasewatch benchmark)"]
    for it in range(1, steps + 1):
        level = 0.5 - 0.3 * min(it, steps / 2) / (steps / 2) + 0.2 * max(it - 0.7 * steps, 0) / steps
        groups = int(rng.integers(MIN_RELOGS, MAX_RELOGS + 1))
        for k in range(groups):
            loss = level + rng.normal(0, 0.05)
            lines.append(f"Iter {it} GRPO groups: {k + 1}/{groups} [loss={loss:.4f}, "
                         f"mean_r={rng.uniform(0.5, 1):.3f}, skip={k // 4}]")
            lines.append(f"  Iter {it} sample: combined={rng.uniform():.3f}, "
                         f"fin={rng.uniform():.2f}, pred='{k}'")
        lines.append(f"Iter {it} | loss={level + rng.normal(0, 0.01):.4f} | "
                     f"reward mean={rng.uniform(0.5, 1):.3f} std={rng.uniform(0.1, 0.3):.3f}")
    return lines


def timed(tree: Path, *argv: str) -> tuple[float, str]:
    """Seconds and stdout of `python -m phasewatch ARGV` with `tree`'s phasewatch first on
    the path (run from a folder of its own, so the current one is not imported instead)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryDirectory() as cwd:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "phasewatch", *argv], cwd=cwd, env=env,
                              check=False, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"phasewatch {' '.join(argv)} exited {done.returncode}: {done.stderr}")
    return seconds, done.stdout


def measure(tree: Path, log: Path, repeat: int) -> dict:
    """Best-of-`repeat` seconds of analyze and watch on `log`, alternating, and their answers."""
    analyze_s, watch_s = [], []
    for _ in range(repeat):
        seconds, out = timed(tree, "analyze", str(log), "--format", "json")
        analyze_s.append(seconds)
        offline = json.loads(out)["runs"][0]
        seconds, out = timed(tree, "watch", str(log), "--format", "jsonl")
        watch_s.append(seconds)
        summary = json.loads(out.strip().splitlines()[-1])
    return {"analyze": min(analyze_s), "watch": min(watch_s),
            "analyze_best": offline["recommended_stop_step"], "watch_best": summary["best_step"],
            "live_best": summary["live_best_step"], "metric": summary["metric"],
            "alerts": len(out.strip().splitlines()) - 1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="the checkout whose phasewatch/ to run (default: this one)")
    args = parser.parse_args(argv)
    tree = args.tree.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = Path(tmp) / "grpo_console.log"
        lines = grpo_console_lines(args.steps)
        synthetic.write_text("\n".join(lines) + "\n")
        n = len(lines) - 1  # every line but the header is a record
        one_row = Path(tmp) / "grpo_console_summaries.log"
        one_row.write_text("\n".join(line for line in lines if " | loss=" in line) + "\n")
        cases = [(f"synthetic GRPO console ({n} records, {args.steps} steps)", synthetic),
                 (f"the same, summary rows only ({args.steps} records)", one_row)]
        if AXIOMFORGE.is_file():
            cases.append(("AxiomForgeAI grpo_20260426_032827.log (1,298 records, 32 steps)",
                          AXIOMFORGE))
        else:
            print(f"({AXIOMFORGE} not found: extract it with `git --git-dir=/work/.mirror/"
                  "Prem01-cyber+AxiomForgeAI/repo show HEAD:logs/grpo/grpo_20260426_032827.log`)")
        print(f"phasewatch from {tree}; best of {args.repeat}, fresh processes\n")
        print("| log | metric | analyze s | watch s | watch / analyze | analyze checkpoint | "
              "watch checkpoint | live best | alerts |")
        print("|---|---|---|---|---|---|---|---|---|")
        for label, log in cases:
            m = measure(tree, log, args.repeat)
            print(f"| {label} | {m['metric']} | {m['analyze']:.2f} | {m['watch']:.2f} | "
                  f"{m['watch'] / m['analyze']:.1f}x | {m['analyze_best']} | {m['watch_best']} | "
                  f"{m['live_best']} | {m['alerts']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
