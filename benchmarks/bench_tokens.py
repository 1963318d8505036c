"""Throughput and peak memory of `phasewatch tokens` against a plain numpy baseline, same run.

Builds two float16 stores in a temporary folder (deleted afterwards), by default 60 steps x
4,000,000 tokens (480 MB each) of sequences of 200-1800 tokens: one whose train and held-out
sequences interleave (every fifth sequence held out), one with the train sequences first. Reads
them once to warm the page cache, then for each layout:
- end to end: `phasewatch tokens STORE --format json` as a user runs it (a fresh process:
  interpreter start, imports, opening the store, the pass, the output), wall time and the
  process's peak RSS (ru_maxrss);
- pass only: `summarize_store` in a child process, timed around the pass alone (the compiled
  pass; and once the numpy twin that runs where no C compiler was at install time);
- numpy baseline, the same two ways: per step `np.load` the file, `.astype(np.float64)`, and per
  split (boolean mask) `np.quantile` of p, mean and std of log p, the divergent and mastered
  shares and mean phi;
- a check that the command's JSON has the baseline's numbers: n, mean log p, the quantiles of p
  and the shares bit for bit (float16 values are exact), std and phi to float64 rounding.
The machine is shared (2 cores): phasewatch rows are the fastest and the median of --repeats
runs; the load average is printed before and after. Floors, measured in the same run: `cat` of
the store's files to /dev/null (reading the data once, nothing else), `python -c pass`,
`python -c 'import numpy'`, `phasewatch --version` and `phasewatch tokens` on a 2,000-token
store of 2 steps (the command's fixed costs: start, imports, opening, output).

Bytecode: every child runs with a bytecode cache in the temporary folder (PYTHONPYCACHEPREFIX,
filled by a warm-up run), as an installed package has its .pyc files; when this environment
sets PYTHONDONTWRITEBYTECODE (every import compiled from source), one more end-to-end row shows
the command as it runs here without a cache.

Usage: python benchmarks/bench_tokens.py [--steps 60] [--tokens-per-step 4000000] [--repeats 5]
       [--baseline-steps N] [--numba] [--against REV]
--against REV also runs `python -m phasewatch tokens` of git revision REV (a temporary worktree,
its C extension built in place) end to end on the same stores, alternating with this tree's, so
both meet the same load.
--numba also times numba (when importable) for the histogram: its import, the first call of a
cached @njit kernel with an empty cache (cold) and a filled one (warm), and its throughput.
The child processes' jobs (building the stores, the pass alone, the baseline, numba) are in
`tokens_bench_children.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tokens_bench_children import child_result

ROOT = Path(__file__).resolve().parents[1]
#: The children's environment: `main` gives them a bytecode cache (see the module docstring).
CHILD_ENV: dict[str, str] | None = None


# ------------------------------------------------------------------ the parent
def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True, env=CHILD_ENV)
    return json.loads(out.stdout)


def timed_command(argv: list[str], env: dict | None = None,
                  cwd: Path | None = None) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS (MB, ru_maxrss of that process), stdout and CPU seconds (user +
    system, all its threads) of a command.

    The parent stays small (no store data in it), since Linux carries the forking parent's
    high-water RSS into the child's ru_maxrss."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, env=env or CHILD_ENV, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode()
        proc.stderr.close()
        if proc.returncode != 0:
            raise RuntimeError(f"{argv} exited {proc.returncode}: {err}")
        out.seek(0)
        return seconds, usage.ru_maxrss / 1024, out.read().decode(), usage.ru_utime + usage.ru_stime


def phasewatch_command() -> list[str]:
    """The console script beside this interpreter, as a user runs it; else `python -m`."""
    script = Path(sys.executable).with_name("phasewatch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "phasewatch"]


def compare(doc: dict, baseline: dict) -> tuple[int, int, int, float]:
    """(values equal bit for bit, values compared exactly (n, mean, shares, quantiles), the
    largest quantile difference in units in the last place, the worst relative difference of
    std/phi). Quantiles are exp of float16 values: the C library's exp and numpy's SIMD exp
    differ in the last bit for some arguments on some CPUs (AVX-512), hence the ulps."""
    equal = total = ulps = 0
    worst = 0.0
    for split, rows in baseline["rows"].items():
        for ours, ref in zip(doc["steps"][split], rows):
            pairs = [(ours["n_tokens"], ref["n_tokens"]), (ours["mean_logprob"], ref["mean_logprob"]),
                     (ours["divergent_share"], ref["divergent_share"]),
                     (ours["mastered_share"], ref["mastered_share"])]
            quantiles = list(zip(ours["p_quantiles"].values(), ref["p_quantiles"]))
            equal += sum(a == b for a, b in pairs + quantiles)
            total += len(pairs) + len(quantiles)
            for a, b in quantiles:
                ulps = max(ulps, abs(struct.unpack("<q", struct.pack("<d", a))[0]
                                     - struct.unpack("<q", struct.pack("<d", b))[0]))
            for key in ("logprob_std", "mean_phi"):
                worst = max(worst, abs(ours[key] - ref[key]) / abs(ref[key]))
    return equal, total, ulps, worst


def summarize(times: list[float]) -> tuple[float, float]:
    return min(times), statistics.median(times)


def bench_layout(folder: Path, args: argparse.Namespace) -> dict:
    """Every measurement of one store layout."""
    command = [*phasewatch_command(), "tokens", str(folder), "--format", "json"]
    e2e, rss, cpu, doc = [], [], [], None
    for _ in range(args.repeats):
        seconds, peak, out, cpu_seconds = timed_command(command)
        e2e.append(seconds)
        rss.append(peak)
        cpu.append(cpu_seconds)
        doc = json.loads(out)
    no_cache = ([timed_command(command, env=dict(os.environ))[0] for _ in range(args.repeats)]
                if os.environ.get("PYTHONDONTWRITEBYTECODE") else None)
    passes = [run_child("pass", str(folder)) for _ in range(args.repeats)]
    twin = run_child("pass", str(folder), "numpy")
    base_wall, base_rss, base_out, _ = timed_command(
        [sys.executable, __file__, "--child", "baseline", str(folder), str(args.baseline_steps)])
    base = json.loads(base_out)
    cat = [timed_command(["sh", "-c", 'cat "$0"/expert_logprobs/step_*.npy > /dev/null', str(folder)])[0]
           for _ in range(args.repeats)]
    return {"e2e": e2e, "no_cache": no_cache, "rss": max(rss), "cpu": min(cpu), "passes": passes, "twin": twin,
            "doc": doc,
            "base": base, "base_wall": base_wall, "base_rss": base_rss, "cat": cat}


def print_layout(name: str, r: dict) -> None:
    n_bytes = r["passes"][0]["bytes"]
    base = r["base"]
    base_e2e = base["bytes"] / r["base_wall"] / 1e9
    base_pass = base["bytes"] / base["seconds"] / 1e9
    cpu = min(p["cpu_seconds"] for p in r["passes"])
    rows = [
        ("phasewatch tokens, end to end", summarize(r["e2e"]), base_e2e, r["rss"],
         (f"{n_bytes / r['cpu'] / 1e9:.2f} GB per CPU-second ({r['cpu']:.3f} CPU-s); kernel "
          f"{r['passes'][0]['kernel']}")),
        ("phasewatch pass only", summarize([p["seconds"] for p in r["passes"]]), base_pass, None,
         f"{n_bytes / cpu / 1e9:.2f} GB per CPU-second"),
    ]
    print(f"\n{name} ({n_bytes / 1e6:.0f} MB)")
    for what, (best, median), reference, rss, note in rows:
        rate, median_rate = n_bytes / best / 1e9, n_bytes / median / 1e9
        print(f"  {what:<34} {best:>7.3f} s {median:>7.3f} s {rate:>6.2f} GB/s {median_rate:>6.2f} GB/s "
              f"{rate / reference:>6.1f}x {'' if rss is None else f'{rss:.0f} MB':>7}  {note}")
    if r["no_cache"]:
        best, median = summarize(r["no_cache"])
        print(f"  {'end to end, no bytecode cache':<34} {best:>7.3f} s {median:>7.3f} s {n_bytes / best / 1e9:>6.2f} GB/s "
              f"{n_bytes / median / 1e9:>6.2f} GB/s   (PYTHONDONTWRITEBYTECODE=1, as this environment sets)")
    twin = r["twin"]
    print(f"  {'numpy twin pass (no compiler)':<34} {twin['seconds']:>7.3f} s {'':>9} "
          f"{n_bytes / twin['seconds'] / 1e9:>6.2f} GB/s {'':>11} "
          f"{n_bytes / twin['seconds'] / 1e9 / base_pass:>6.1f}x {'':>7}  {n_bytes / twin['cpu_seconds'] / 1e9:.2f} "
          "GB per CPU-second, one run")
    best_cat, median_cat = summarize(r["cat"])
    print(f"  {'floor: cat STORE > /dev/null':<34} {best_cat:>7.3f} s {median_cat:>7.3f} s "
          f"{n_bytes / best_cat / 1e9:>6.2f} GB/s {n_bytes / median_cat / 1e9:>6.2f} GB/s")
    print(f"  {'numpy baseline, end to end':<34} {r['base_wall']:>7.3f} s {'':>9} {base_e2e:>6.2f} GB/s "
          f"{'':>11} {'1.0x':>7} {r['base_rss']:>4.0f} MB  {base['steps']} steps")
    print(f"  {'numpy baseline, pass only':<34} {base['seconds']:>7.3f} s {'':>9} {base_pass:>6.2f} GB/s "
          f"{'':>11} {'1.0x':>7}")
    equal, total, ulps, worst = compare(r["doc"], base)
    print(f"  check: the command's JSON vs the baseline over {base['steps']} steps: {equal}/{total} values "
          f"bit-identical (n, mean, quantiles, shares), quantiles within {ulps} ulp (exp: C library "
          f"vs numpy); std and phi within {worst:.1e} relative")


def against_rows(rev: str, layouts: dict[str, Path], repeats: int) -> list[str]:
    """End to end, `python -m phasewatch tokens` of this tree and of REV, runs alternating."""
    other = Path(tempfile.mkdtemp(prefix="phasewatch-bench-tokens-rev-")) / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(other), rev], check=True)
    if (other / "setup.py").exists():  # its compiled kernel, as `pip install` would build it
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=other, check=True,
                       capture_output=True)
    lines = []
    try:
        for name, folder in layouts.items():
            times: dict[str, list[float]] = {"this tree": [], rev: []}
            cpu: dict[str, list[float]] = {"this tree": [], rev: []}
            for warm_up in [True] + [False] * repeats:  # the first run of each fills its bytecode cache
                for label, tree in (("this tree", ROOT), (rev, other)):
                    # run from the tree: `python -m` puts the working directory first on sys.path
                    seconds, _, _, cpu_seconds = timed_command(
                        [sys.executable, "-m", "phasewatch", "tokens", str(folder), "--format", "json"],
                        env={**CHILD_ENV, "PYTHONPATH": str(tree)}, cwd=tree)
                    if not warm_up:
                        times[label].append(seconds)
                        cpu[label].append(cpu_seconds)  # its worker processes included (waited for)
            n_bytes = sum(p.stat().st_size for p in (folder / "expert_logprobs").glob("step_*.npy"))
            ours, theirs = min(times["this tree"]), min(times[rev])
            lines.append(f"  {name:<12} this tree {ours:.3f} s ({n_bytes / ours / 1e9:.2f} GB/s, "
                         f"{min(cpu['this tree']):.3f} CPU-s), {rev} {theirs:.3f} s ({n_bytes / theirs / 1e9:.2f} "
                         f"GB/s, {min(cpu[rev]):.3f} CPU-s): wall {theirs / ours:.2f}x, CPU "
                         f"{min(cpu[rev]) / min(cpu['this tree']):.2f}x less (median wall "
                         f"{statistics.median(times['this tree']):.3f} / {statistics.median(times[rev]):.3f} s)")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], check=False)
        shutil.rmtree(other.parent, ignore_errors=True)
    return lines


def numba_rows(tokens: int) -> list[str]:
    """numba's costs for the same histogram, each in a fresh process (cold, then warm cache)."""
    lines = []
    cache = Path(tempfile.mkdtemp(prefix="phasewatch-bench-numba-"))
    try:
        for label in ("cold cache", "warm cache"):
            env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
            out = subprocess.run([sys.executable, __file__, "--child", "numba", str(tokens)],
                                 check=False, capture_output=True, text=True, env=env)
            if out.returncode != 0:
                return [f"numba: not measured ({out.stderr.strip().splitlines()[-1]})"]
            r = json.loads(out.stdout)
            lines.append(f"numba ({label}): import numpy {r['numpy']:.3f} s, import numba {r['numba']:.3f} s, "
                         f"first call (compile or cache load) {r['first_call']:.3f} s, then "
                         f"{r['ns_per_token']:.2f} ns/token ({2 / r['ns_per_token']:.2f} GB/s of float16 "
                         "per thread)")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--tokens-per-step", type=int, default=4_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-steps", type=int, default=0, help="0 = every step")
    parser.add_argument("--numba", action="store_true")
    parser.add_argument("--against", metavar="REV", help="also time phasewatch at this git revision")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_result(args.child)))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="phasewatch-bench-tokens-"))
    global CHILD_ENV
    CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(tmp / "bytecode")
    layouts = {"interleaved": tmp / "interleaved", "contiguous": tmp / "contiguous"}
    try:
        t0 = time.perf_counter()
        for name, folder in layouts.items():
            run_child("build", str(folder), str(args.tokens_per_step), str(args.steps),
                      "1" if name == "interleaved" else "0")
            for path in (folder / "expert_logprobs").glob("step_*.npy"):  # warm the page cache
                with open(path, "rb") as fh:
                    while fh.read(1 << 24):
                        pass
        print(f"stores: {args.steps} steps x {args.tokens_per_step:,} float16 tokens each, in {tmp} "
              f"(built in {time.perf_counter() - t0:.0f} s); page cache warm")
        tiny = tmp / "tiny"
        run_child("build", str(tiny), "2000", "2", "1")
        floors = {
            "`python -c pass`": [sys.executable, "-c", "pass"],
            "`python -c 'import numpy'`": [sys.executable, "-c", "import numpy"],
            "`phasewatch --version`": [*phasewatch_command(), "--version"],
            "`phasewatch tokens` on 2 steps x 2,000 tokens": [*phasewatch_command(), "tokens", str(tiny), "--format",
                                                             "json"],
        }
        for argv in floors.values():  # warm-up: fills the bytecode cache
            timed_command(argv)
        floor_runs = {what: [timed_command(argv) for _ in range(args.repeats)] for what, argv in floors.items()}
        load_before = os.getloadavg()
        results = {name: bench_layout(folder, args) for name, folder in layouts.items()}
        load_after = os.getloadavg()
        print(f"load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}, after "
              f"{', '.join(f'{x:.2f}' for x in load_after)}, on {os.cpu_count()} CPUs")
        for what, runs in floor_runs.items():
            walls = [r[0] for r in runs]
            print(f"floor: {what} {min(walls):.3f} s (median {statistics.median(walls):.3f}), "
                  f"{min(r[3] for r in runs):.3f} CPU-s")
        n_bytes = results["interleaved"]["passes"][0]["bytes"]
        print(f"budget at 1.5 GB/s for {n_bytes / 1e6:.0f} MB: {n_bytes / 1.5e9:.3f} s for the whole command")
        print(f"columns: fastest of {args.repeats} runs, median, GB/s of both, x the numpy baseline "
              "(fastest run vs its one run), peak RSS; GB per CPU-second: bytes per second of CPU time "
              "(user + system, all threads), what undisturbed cores deliver between them")
        for name, result in results.items():
            print_layout(name, result)
        print(f"\none step of the interleaved store, ns per token (fastest of 5, wall; load now "
              f"{os.getloadavg()[0]:.2f}):")
        for name, times in run_child("primitives", str(layouts["interleaved"])).items():
            line = f"  {name:<26} 1 thread {times[0]:.2f}"
            if len(times) > 1:
                line += (f", 2 threads {times[1]:.2f}: {times[0] / times[1]:.2f}x (2.0: the threads ran "
                         "in parallel; 1.0: one at a time, or no free core)")
            print(line)
        if args.against:
            print(f"\nend to end against {args.against}, `python -m phasewatch tokens` of each tree, "
                  f"fastest of {args.repeats} alternating runs (load now {os.getloadavg()[0]:.2f}):")
            for line in against_rows(args.against, layouts, args.repeats):
                print(line)
        if args.numba:
            print()
            for line in numba_rows(args.tokens_per_step):
                print(line)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
