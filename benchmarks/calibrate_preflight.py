"""Build the calibration table `phasewatch preflight` rests on: step-0 expert NLL vs dip depth.

Runs the reference trainer exactly as `benchmarks/divergence_vs_dip.py` does (SFT arm, short
runs without LR warm-up, held-out accuracy every 5 steps; its `one_run` is reused), on expert
data of different divergence from policy A: the mix of divergent expert (format B) and the
"close to A" control (`--mixes`), A's pre-training share of B text (`--b-fractions`), and seeds.
For every run it records the step-0 divergence of the expert train probe (mean NLL, divergent
share, divergent NLL mass) and the dip: raw (accuracy at step 0 minus the run's minimum) and as
the phase detector measures it (depth of the disruption phase, 0 when none is found).

Writes `phasewatch/capture/calibration.json` (the rows, the grid, the Spearman rank correlations
and how the table was produced) and prints the table. Results are whatever they are.

Usage: python benchmarks/calibrate_preflight.py [--seeds 1 2] [--b-fractions 0.005 0.02]
       [--mixes 0 0.25 0.5 0.75 1] [--steps 80] [--jobs 2] [--out DIR] [--table PATH]
(each run ~40-60 s on a loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from divergence_vs_dip import MIXES, one_run

TABLE = ROOT / "phasewatch" / "capture" / "calibration.json"


def spearman(rows: list[dict], x: str, y: str) -> dict:
    from scipy.stats import spearmanr

    pairs = [(r[x], r[y]) for r in rows if r.get(y) is not None]
    rho, p = spearmanr([a for a, _ in pairs], [b for _, b in pairs])
    return {"predictor": x, "target": y, "rho": round(float(rho), 4), "p": float(p), "n": len(pairs)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--b-fractions", type=float, nargs="+", default=[0.005, 0.02])
    parser.add_argument("--mixes", type=float, nargs="+", default=list(MIXES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="keep runs here (default: a temp dir)")
    parser.add_argument("--table", type=Path, default=TABLE)
    args = parser.parse_args()
    base = args.out or Path(tempfile.mkdtemp(prefix="phasewatch-calib-"))
    base.mkdir(parents=True, exist_ok=True)
    jobs = [
        {"mix": mix, "b_fraction": bf, "seed": seed, "steps": args.steps, "cache": str(base / "cache"),
         "out": str(base / f"mix{mix}_b{bf}_s{seed}")}
        for seed in args.seeds for bf in args.b_fractions for mix in args.mixes
    ]
    first = [j for j in jobs if j["mix"] == args.mixes[0]]  # one pre-training per (b_frac, seed)
    rest = [j for j in jobs if j["mix"] != args.mixes[0]]
    t0 = time.time()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one_run, first)) + list(pool.map(one_run, rest))
    rows.sort(key=lambda r: r["mean_nll"])
    correlations = [spearman(rows, x, y) for x in ("mean_nll", "divergent_share", "score")
                    for y in ("dip_analyze", "dip")]
    table = {
        "schema_version": 1,
        "produced_by": (f"benchmarks/calibrate_preflight.py --seeds {' '.join(map(str, args.seeds))} "
                        f"--b-fractions {' '.join(map(str, args.b_fractions))} "
                        f"--mixes {' '.join(f'{m:g}' for m in args.mixes)} --steps {args.steps}"),
        "what": (f"reference trainer (phasewatch train), SFT arm, {args.steps} steps without LR warm-up, "
                 "held-out accuracy on 400 prompts every 5 steps; expert data mixing format B "
                 "(divergent) with the close-to-A control; predictor: mean NLL of the expert train "
                 "probe at step 0; target: depth of the disruption phase analyze_run finds "
                 "(held-out accuracy lost, 0-1; 0 when none)"),
        "grid": {"seeds": args.seeds, "b_fractions": args.b_fractions, "mixes": args.mixes,
                 "steps": args.steps},
        "correlations": correlations,
        "rows": [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
    }
    args.table.write_text(json.dumps(table, indent=1) + "\n")
    print(f"{len(rows)} SFT runs ({args.steps} steps), {time.time() - t0:.0f} s; runs in {base}; "
          f"table written to {args.table}")
    print(f"{'mix_B':>5} {'b_frac':>6} {'seed':>4} {'NLL':>6} {'div%':>6} {'score':>6} "
          f"{'acc0':>6} {'dip':>6} {'dip_an':>6}")
    for r in rows:
        dip_an = "-" if r["dip_analyze"] is None else f"{r['dip_analyze']:.3f}"
        print(f"{r['mix']:>5.2f} {r['b_fraction']:>6.3f} {r['seed']:>4} {r['mean_nll']:>6.3f} "
              f"{100 * r['divergent_share']:>6.1f} {r['score']:>6.3f} {r['acc0']:>6.3f} "
              f"{r['dip']:>6.3f} {dip_an:>6}")
    print("\nSpearman rank correlation:")
    for c in correlations:
        print(f"  {c['predictor']:>16} vs {c['target']:<11} rho = {c['rho']:+.3f}  "
              f"p = {c['p']:.2g}  n = {c['n']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
