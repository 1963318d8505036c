"""Where `phasewatch tokens STORE --format json` spends its time, end to end, phase by phase.

Builds the interleaved store of bench_tokens.py (every fifth sequence held out; default 60 steps
x 4,000,000 float16 tokens, 480 MB) in a temporary folder, warms the page cache, then runs the
command's own steps in a fresh interpreter, with the clock (wall and CPU of the process) read
between them: interpreter start (everything before the first line of the child: the runtime,
`site`, the editable-install finder), the imports of the command's path, opening the store,
the pass, building the report (with the divergence score), formatting and writing the JSON.
Also whether numpy was imported, and the parent's wall time of the whole child. Fastest of
--repeats runs per phase; the load average beside it. As bench_tokens.py, the child has a bytecode
cache (PYTHONPYCACHEPREFIX in the temporary folder, filled by a warm-up run), as an installed
package has its .pyc files, even where the environment sets PYTHONDONTWRITEBYTECODE.

Usage: python benchmarks/profile_tokens.py [--steps 60] [--tokens-per-step 4000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_tokens import timed_command
from tokens_bench_children import child_build

CHILD = r"""
import os, sys, time
marks = [("start", time.perf_counter(), time.process_time())]
def mark(name):
    marks.append((name, time.perf_counter(), time.process_time()))
from phasewatch.cli import build_parser
from phasewatch.commands import tokens as command
from phasewatch.output import SCHEMA_VERSION, jsonable
from phasewatch.tokens import divergence_score, open_store, summarize_store
import json
args = build_parser(["tokens", sys.argv[1], "--format", "json"]).parse_args(["tokens", sys.argv[1], "--format", "json"])
mark("imports and argument parsing")
store = open_store(args.path)
mark("open the store")
summary = summarize_store(store)
mark("the pass")
divergence = divergence_score(summary, "train") or divergence_score(summary, "heldout")
doc = {"schema_version": SCHEMA_VERSION, **command.report(summary, divergence)}
mark("report and divergence")
with open(os.devnull, "w") as out:
    out.write(json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")
mark("JSON formatting and writing")
sys.stderr.write(json.dumps({"marks": marks, "numpy": "numpy" in sys.modules}))
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--tokens-per-step", type=int, default=4_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="phasewatch-profile-tokens-"))
    try:
        folder = tmp / "interleaved"
        child_build(str(folder), args.tokens_per_step, args.steps, True)
        n_bytes = 0
        for path in (folder / "expert_logprobs").glob("step_*.npy"):  # warm the page cache
            n_bytes += path.stat().st_size
            path.read_bytes()
        walls: dict[str, list[float]] = {}
        cpus: dict[str, list[float]] = {}
        numpy_loaded = set()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "bytecode")
        subprocess.run([sys.executable, "-c", CHILD, str(folder)], env=env, cwd=ROOT, check=True,
                       capture_output=True)  # warm-up: fills the bytecode cache
        load = os.getloadavg()
        for _ in range(args.repeats):
            proc = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, cwd=ROOT, env=env)
            t0 = time.perf_counter()
            _, status, usage = os.wait4(proc.pid, 0)
            total = time.perf_counter() - t0
            report = json.loads(proc.stderr.read())
            proc.stderr.close()
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError("the child failed")
            marks = report["marks"]
            numpy_loaded.add(report["numpy"])
            rows = [(b[0], b[1] - a[1], b[2] - a[2]) for a, b in itertools.pairwise(marks)]
            inside = marks[-1][1] - marks[0][1]
            cpu_total = usage.ru_utime + usage.ru_stime
            rows.insert(0, ("interpreter start and exit (the rest)", total - inside,
                            cpu_total - (marks[-1][2] - marks[0][2])))
            rows.append(("whole command", total, cpu_total))
            for name, wall, cpu in rows:
                walls.setdefault(name, []).append(wall)
                cpus.setdefault(name, []).append(cpu)
        print(f"`phasewatch tokens STORE --format json` phase by phase: {args.steps} steps x "
              f"{args.tokens_per_step:,} float16 tokens ({n_bytes / 1e6:.0f} MB), interleaved splits, page cache "
              f"warm; fastest of {args.repeats}; load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} "
              f"after, {os.cpu_count()} CPUs; numpy imported: {sorted(numpy_loaded)}")
        print(f"  {'phase':<42} {'wall s':>8} {'CPU s':>8}")
        for name, times in walls.items():
            print(f"  {name:<42} {min(times):>8.3f} {min(cpus[name]):>8.3f}")
        best = min(walls["whole command"])
        print(f"  end to end {n_bytes / best / 1e9:.2f} GB/s (fastest run); 1.5 GB/s allows "
              f"{n_bytes / 1.5e9:.3f} s")
        floor = min(timed_command([sys.executable, "-c", "pass"], env=env)[0] for _ in range(args.repeats))
        print(f"  floor: `python -c pass` {floor:.3f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
