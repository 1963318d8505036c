"""Does the expert data's divergence at the start predict the depth of the disruption dip?

Runs the reference trainer (SFT arm, short runs without LR warm-up: the trough comes within ~60
steps) on expert data
of different divergence from the established policy A, and relates, across runs:
- the divergence at step 0 (`phasewatch.tokens.divergence_score` on the stored log-probs of the
  expert train probe: combined score, divergent share, mean NLL), to
- the dip depth: held-out accuracy at step 0 minus its minimum over the run (raw), and the
  `depth` of the disruption phase that `phasewatch.analysis.analyze_run` finds (0 when it finds
  no disruption).
The expert data varies along two knobs:
- `expert_mix`: share of expert examples in the expert format B (marker + scratchpad); the rest
  are correct answers in A's own format (the TRAINER.md "close to A" control). 1 = the usual
  divergent expert, 0 = the close control. Implemented by wrapping the trainer's ExpertSet.make.
- `pretrain_b_fraction` (a trainer option): how much B-format text policy A saw in pre-training,
  i.e. how unlikely B's marker is to A.
Prints the table and Spearman rank correlations (scipy) with p-values. Results are whatever they
are; docs/tokens.md quotes a run of this script.

Usage: python benchmarks/divergence_vs_dip.py [--steps 80] [--seeds 1] [--jobs 2] [--out DIR]
(each run ~40-60 s on a loaded 2-core machine; pre-training of A is cached per setting in DIR).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIXES = (0.0, 0.25, 0.5, 0.75, 1.0)
B_FRACTIONS = (0.005, 0.02, 0.08)


@contextlib.contextmanager
def expert_mix(share_b: float, seed: int):
    """Make the trainer's expert sets a mix: `share_b` of examples in format B, the rest close."""
    from phasewatch.trainer import loop

    original = loop.ExpertSet.make.__func__

    def make(cls, index, style, n_quirks, rng):
        divergent = original(cls, index, "divergent", n_quirks, rng)
        close = original(cls, index, "close", n_quirks, rng)
        use_b = np.random.default_rng([seed, 77, len(index)]).random(len(index)) < share_b
        responses = [d if b else c for d, c, b in zip(divergent.responses, close.responses, use_b)]
        return cls(index, responses)

    loop.ExpertSet.make = classmethod(make)
    try:
        yield
    finally:
        loop.ExpertSet.make = classmethod(original)


def one_run(job: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    from phasewatch.trainer import preset, train

    cfg = preset(
        "sft", steps=job["steps"], eval_every=5, eval_prompts=400, nll_examples=64,
        probe_train=48, probe_heldout=8, threads=1, seed=job["seed"],
        pretrain_b_fraction=job["b_fraction"], lr_warmup_steps=0,  # the dip completes in ~60 steps
    )
    out = Path(job["out"])
    if not (out / "metrics.jsonl").is_file():
        with expert_mix(job["mix"], job["seed"]):
            train(cfg, out, progress=False, cache_dir=Path(job["cache"]))
    return measure(out, job)


def measure(folder: Path, job: dict) -> dict:
    from phasewatch.io import read_run
    from phasewatch.tokens import divergence_score, open_store

    run = read_run(folder)
    accuracy = run.series("eval/accuracy")
    score = divergence_score(open_store(folder))
    row = {
        **{k: job[k] for k in ("mix", "b_fraction", "seed")},
        "score": score.score, "divergent_share": score.divergent_share, "mean_nll": score.mean_nll,
        "acc0": float(accuracy.iloc[0]), "trough": float(accuracy.min()),
        "dip": float(accuracy.iloc[0] - accuracy.min()),
        "trough_step": int(accuracy.idxmin()),
    }
    try:
        from phasewatch.analysis import analyze_run
    except ImportError:
        row["dip_analyze"] = None
        return row
    analysis = analyze_run(run, "eval/accuracy", "max")
    depths = [p.stats.get("depth", 0.0) for p in analysis.phases if p.name == "disruption"]
    row["dip_analyze"] = float(max(depths)) if depths else 0.0
    return row


def spearman_table(rows: list[dict]) -> list[tuple[str, str, float, float]]:
    from scipy.stats import spearmanr

    out = []
    for predictor in ("score", "divergent_share", "mean_nll"):
        for target in ("dip", "dip_analyze"):
            x = [r[predictor] for r in rows if r.get(target) is not None]
            y = [r[target] for r in rows if r.get(target) is not None]
            if len(x) >= 3:
                rho, p = spearmanr(x, y)
                out.append((predictor, target, float(rho), float(p)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--b-fractions", type=float, nargs="+", default=list(B_FRACTIONS))
    parser.add_argument("--mixes", type=float, nargs="+", default=list(MIXES))
    parser.add_argument("--out", type=Path, default=None, help="keep runs here (default: a temp dir)")
    args = parser.parse_args()
    base = args.out or Path(tempfile.mkdtemp(prefix="phasewatch-divdip-"))
    base.mkdir(parents=True, exist_ok=True)
    jobs = [
        {"mix": mix, "b_fraction": bf, "seed": seed, "steps": args.steps, "cache": str(base / "cache"),
         "out": str(base / f"mix{mix}_b{bf}_s{seed}")}
        for seed in args.seeds for bf in args.b_fractions for mix in args.mixes
    ]
    # One pre-training per (b_fraction, seed) first, so parallel jobs do not repeat it.
    first = [j for j in jobs if j["mix"] == args.mixes[0]]
    rest = [j for j in jobs if j["mix"] != args.mixes[0]]
    t0 = time.time()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one_run, first)) + list(pool.map(one_run, rest))
    (base / "divergence_vs_dip.json").write_text(json.dumps(rows, indent=1))
    rows.sort(key=lambda r: r["score"])
    print(f"{len(rows)} SFT runs ({args.steps} steps, eval every 5 on 400 held-out prompts), "
          f"{time.time() - t0:.0f} s; runs in {base}")
    print(f"{'mix_B':>5} {'b_frac':>6} {'seed':>4} {'score':>7} {'div%':>6} {'NLL':>6} "
          f"{'acc0':>6} {'trough':>6} {'@step':>5} {'dip':>6} {'dip_an':>6}")
    for r in rows:
        dip_an = "-" if r["dip_analyze"] is None else f"{r['dip_analyze']:.3f}"
        print(f"{r['mix']:>5.2f} {r['b_fraction']:>6.3f} {r['seed']:>4} {r['score']:>7.3f} "
              f"{100 * r['divergent_share']:>6.1f} {r['mean_nll']:>6.3f} {r['acc0']:>6.3f} "
              f"{r['trough']:>6.3f} {r['trough_step']:>5} {r['dip']:>6.3f} {dip_an:>6}")
    print("\nSpearman rank correlation (n runs):")
    for predictor, target, rho, p in spearman_table(rows):
        print(f"  {predictor:>16} vs {target:<11} rho = {rho:+.3f}  p = {p:.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
