"""Wide logs (issue 18): a verl step line of millions of `key:value` items, and a JSONL log with
a new metric name on every line. Each read in a fresh subprocess by this tree and, with
`--against REV`, by phasewatch at git revision REV (a temporary worktree), so before and after
are measured in one run: wall time, CPU time (user + system: what an idle machine's wall time
would be for this single-threaded work) and peak RSS (os.wait4).

    .venv/bin/python benchmarks/bench_wide.py [--items 5000000] [--names 1000000]
        [--against REV] [--against-scale 0.1] [--limit 300] [--steps read inspect] [--format text|json]

Steps: `read` is `read_run` (for the verl line with the reader's 64 MB line cap lifted, so the
issue's line of 5M `kN:0.5` items, 74 MB, is read rather than skipped); `inspect` is
`phasewatch inspect PATH [--format F]` end to end (a table of every metric), on a line of the same number of shorter
items (`m<hex>:1`, under the cap). REV is measured at `--against-scale` of the sizes (the old
code needs minutes and GBs at full size; an address-space limit of `--memory-gb` and the time
limit stop a run that would take the machine down), and this tree at both sizes, so the
ratio is taken at the same size.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

READ = """
import sys
from phasewatch.io import read_run
path = sys.argv[1]
if path.endswith('.log'):  # verl console: lift the line cap so the whole line is read
    from phasewatch.io import verl_console
    from phasewatch.io.source import collect
    src = verl_console.source(path)
    src.tail.max_line = 1 << 34
    run = collect(src)
else:
    run = read_run(path)
print(len(run.columns()), run.n_steps)
"""


def write_verl(path: Path, items: int, short: bool) -> None:
    """The audit's line (`step:1 - k0:0.5 - k1:0.5 ...`) or one of short items, then 18 steps."""
    item = "m{:x}:1" if short else "k{}:0.5"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("step:1 - ")
        chunk = 100_000
        for lo in range(0, items, chunk):
            fh.write(" - ".join(item.format(i) for i in range(lo, min(items, lo + chunk))))
            if lo + chunk < items:
                fh.write(" - ")
        fh.write("\n" + "".join(f"step:{i} - acc:0.5\n" for i in range(2, 20)))


def write_names(path: Path, names: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines("".join(f'{{"step": {i}, "metric_{i}": 0.5}}\n'
                             for i in range(lo, min(names, lo + 100_000))) for lo in range(0, names, 100_000))


def measure(argv: list[str], tree: Path, limit: float, memory_gb: float) -> tuple[str, float, float, float]:
    """(status, wall s, cpu s, peak RSS MB) of `python ARGV` with `tree` first on the path."""
    def limits() -> None:
        cap = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    status = None
    with tempfile.TemporaryFile() as errors:  # a pipe could fill up and stall the child
        proc = subprocess.Popen([sys.executable, *argv], env=env, cwd=tree, stdout=subprocess.DEVNULL,
                                stderr=errors, preexec_fn=limits)  # noqa: PLW1509 - no threads here
        while True:
            pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > limit:
                proc.kill()
                _, code, usage = os.wait4(proc.pid, 0)
                status = f"over {limit:.0f} s"
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        errors.seek(0)
        err = errors.read().decode(errors="replace")
    exit_code = os.waitstatus_to_exitcode(code)
    if status is None:
        status = "ok" if exit_code == 0 else f"exit {exit_code}" + (" (MemoryError)" if "MemoryError" in err else "")
    return status, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=5_000_000, help="key:value items in the verl line")
    parser.add_argument("--names", type=int, default=1_000_000, help="metric names, one a line")
    parser.add_argument("--against", metavar="REV", help="also measure phasewatch at this git revision")
    parser.add_argument("--against-scale", type=float, default=0.1,
                        help="REV (and this tree, for the ratio) measured at this fraction of the sizes")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds before a run is stopped")
    parser.add_argument("--memory-gb", type=float, default=12.0, help="address-space limit of a run")
    parser.add_argument("--steps", nargs="+", default=["read", "inspect"], choices=["read", "inspect"])
    parser.add_argument("--format", choices=["text", "json"], default="text",
                        help="inspect's output (text: what the issue-18 audit runs)")
    opts = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pw-bench-wide-"))
    trees = [("this tree", REPO)]
    if opts.against:
        other = folder / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(other),
                        opts.against], check=True)
        trees.append((opts.against[:10], other))
    scales = [1.0] + ([opts.against_scale] if opts.against else [])
    rows = []
    try:
        print(f"{'case':<28} {'size':>10} {'phasewatch':<12} {'step':<8} {'wall s':>8} {'cpu s':>8} "
              f"{'peak MB':>8}  status", flush=True)
        for scale in scales:
            items, names = int(opts.items * scale), int(opts.names * scale)
            files = {}
            for step in opts.steps:
                files[("verl line", step)] = (folder / f"verl_{items}_{step}.log", items)
            files[("names one a line", None)] = (folder / f"names_{names}.jsonl", names)
            for (case, step), (path, size) in files.items():
                if not path.exists():
                    if case == "verl line":
                        write_verl(path, size, short=step == "inspect")
                    else:
                        write_names(path, size)
            for label, tree in trees:
                if label != "this tree" and scale == 1.0:
                    continue  # REV only at the reduced size
                for step in opts.steps:
                    for case in ("verl line", "names one a line"):
                        path, size = files[(case, step if case == "verl line" else None)]
                        argv = (["-c", READ, str(path)] if step == "read"
                                else ["-m", "phasewatch", "inspect", str(path), "--format", opts.format])
                        status, wall, cpu, peak = measure(argv, tree, opts.limit, opts.memory_gb)
                        rows.append((case, size, label, step, wall, cpu, peak, status))
                        print(f"{case:<28} {size:>10,} {label:<12} {step:<8} {wall:>8.1f} {cpu:>8.1f} "
                              f"{peak:>8.0f}  {status}", flush=True)
            for path, _ in files.values():
                path.unlink(missing_ok=True)
        if opts.against:
            print("\nratios at the same size (REV / this tree):")
            for case, size, label, step, wall, cpu, peak, status in rows:
                if label == "this tree":
                    continue
                mine = next(r for r in rows if r[0] == case and r[1] == size and r[2] == "this tree"
                            and r[3] == step)
                note = "" if status == "ok" else f"  (REV {status}: a lower bound)"
                print(f"  {case:<20} {size:>10,} {step:<8} cpu {cpu / mine[5]:>6.1f}x  "
                      f"peak RSS {peak / mine[6]:>5.1f}x{note}")
    finally:
        for _, tree in trees[1:]:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
