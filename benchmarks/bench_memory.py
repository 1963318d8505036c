"""Peak memory of reading a big JSONL log: `phasewatch inspect` and `analyze` on a generated
metrics.jsonl, peak RSS of the child process (os.wait4) against the file's size.

A realistic log: one train record per step (loss, lr, grad_norm, a few more) and an eval record
every 50 steps, written as JSON lines. The default run writes ~200 MB (issue 18 measured a
2 GB log at 6.3x its size in RSS); `--mb 2000` reproduces the full case. The baseline row is the
same command on a 100-line log: the interpreter and imports, which every run pays.

    .venv/bin/python benchmarks/bench_memory.py [--mb 200] [--command inspect analyze] [--against REV]
                                                [--keep DIR | --log FILE]

`--against REV` adds the same rows for phasewatch at git revision REV (a temporary worktree),
so before and after sit in one table.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_log(path: Path, megabytes: float, seed: int = 0) -> int:
    """Write records until the file holds `megabytes` MB; returns the number of lines."""
    rng = random.Random(seed)
    target = int(megabytes * 1e6)
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        step = 0
        written = 0
        block: list[str] = []
        while written < target:
            loss = 2.0 * 0.9995**step + rng.gauss(0, 0.02)
            block.append(f'{{"step": {step}, "train/loss": {loss:.6f}, "train/lr": 1e-05, '
                         f'"train/grad_norm": {abs(rng.gauss(1, 0.3)):.5f}, '
                         f'"train/epoch": {step / 5000:.5f}, "train/tokens": {step * 4096}, '
                         f'"train/reward": {rng.random():.5f}}}')
            if step % 50 == 0:
                acc = 0.5 + 0.2 * (1 - 0.999**step) + rng.gauss(0, 0.005)
                block.append(f'{{"step": {step}, "eval/accuracy": {acc:.5f}, '
                             f'"eval/loss": {1 - acc:.5f}}}')
            step += 1
            if len(block) >= 10000:
                text = "\n".join(block) + "\n"
                fh.write(text)
                written += len(text)
                n += len(block)
                block = []
        if block:
            fh.write("\n".join(block) + "\n")
            n += len(block)
    return n


def peak_rss(args: list[str], tree: Path = REPO) -> tuple[int, float, int]:
    """(exit code, seconds, peak RSS in bytes) of `python -m phasewatch ARGS` run from `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    # run from `tree`: `python -m` puts the working directory first on sys.path, so run from
    # elsewhere it would import that directory's phasewatch, not `tree`'s
    proc = subprocess.Popen([sys.executable, "-m", "phasewatch", *args], env=env, cwd=tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    return proc.returncode, elapsed, usage.ru_maxrss * 1024  # Linux: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of the generated log")
    parser.add_argument("--command", nargs="+", default=["inspect", "analyze"],
                        choices=["inspect", "analyze"])
    parser.add_argument("--keep", metavar="DIR", help="write the log here and keep it")
    parser.add_argument("--log", metavar="FILE",
                        help="measure this existing log (e.g. one kept with --keep) instead of writing one")
    parser.add_argument("--against", metavar="REV", help="also measure phasewatch at this git revision")
    opts = parser.parse_args()
    trees = [("this tree", REPO)]
    if opts.against:
        other = Path(tempfile.mkdtemp(prefix="pw-bench-mem-rev-")) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(other),
                        opts.against], check=True)
        trees.append((opts.against[:10], other))
    folder = Path(opts.keep or tempfile.mkdtemp(prefix="pw-bench-mem-"))
    folder.mkdir(parents=True, exist_ok=True)
    big, small = folder / "metrics.jsonl", folder / "small.jsonl"
    t0 = time.perf_counter()
    if opts.log:
        big = Path(opts.log).resolve()
        with open(big, "rb") as fh:
            n = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 24), b""))
        how = "given"
    else:
        n = write_log(big, opts.mb)
        how = f"written in {time.perf_counter() - t0:.0f} s"
    write_log(small, 0.01)
    size = big.stat().st_size
    print(f"log: {n:,} lines, {size / 1e6:.0f} MB ({how})", flush=True)
    print(f"{'phasewatch':<12} {'command':<10} {'log':>8} {'peak RSS':>10} {'RSS/size':>9} "
          f"{'above baseline':>15} {'seconds':>8}")
    try:
        for label, tree in trees:
            for command in opts.command:
                extra = ["--format", "json"] if command == "inspect" else ["--metric", "eval/accuracy"]
                code0, t_small, base = peak_rss([command, str(small), *extra], tree)
                code, t_big, peak = peak_rss([command, str(big), *extra], tree)
                if code or code0:
                    print(f"{command}: exit {code} / {code0}")
                print(f"{label:<12} {command:<10} {'100 ln':>8} {base / 1e6:>8.0f}MB {'':>9} "
                      f"{'':>15} {t_small:>8.1f}")
                print(f"{label:<12} {command:<10} {size / 1e6:>6.0f}MB {peak / 1e6:>8.0f}MB "
                      f"{peak / size:>9.2f} {(peak - base) / size:>14.2f}x {t_big:>8.1f}", flush=True)
    finally:
        for _, tree in trees[1:]:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                           check=False)
            tree.parent.rmdir()
        if not opts.keep:
            if not opts.log:
                big.unlink()
            small.unlink()
            folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
