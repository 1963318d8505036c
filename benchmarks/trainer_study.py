"""Multi-seed study of the reference trainer: every arm and the TRAINER.md controls, 3 seeds.

    .venv/bin/python benchmarks/trainer_study.py --out /tmp/study [--seeds 0 1 2] [--jobs 2]

Trains each (preset, seed) into OUT/PRESET/seedN (skipped if already there), then prints, per run
and as a mean over seeds, what the phases are measured to be on held-out greedy accuracy:
start, the dip (minimum after the start, in points below it), the later peak (points above start),
the decline from the peak to the end, and the held-out / train expert NLL at the peak and the end.
Also checks the dip against TRAINER.md's formula acc ~ (1 - pi_B) acc_A + pi_B q^K at the eval steps
where the expert-format rate pi_B is between 0.05 and 0.95 (the shift).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ARMS = ("sft", "rl", "sft_then_rl", "chord_mu", "chord_phi")
CONTROLS = ("control_close", "control_large", "control_untrained")


def train_one(preset_name: str, seed: int, out: Path) -> float:
    from phasewatch.trainer.config import preset
    from phasewatch.trainer.loop import train

    start = time.perf_counter()
    train(preset(preset_name, seed=seed, threads=1), out, name=f"{preset_name}_seed{seed}", progress=False)
    return time.perf_counter() - start


def pretrain_seed(seed: int) -> None:
    import torch

    from phasewatch.trainer.config import preset
    from phasewatch.trainer.pretrain import established_policy

    torch.set_num_threads(1)
    established_policy(preset("sft", seed=seed, threads=1))


def complete(folder: Path) -> bool:
    """Whether a run folder holds a finished run (its last logged step is the configured last)."""
    try:
        steps = json.loads((folder / "run.json").read_text())["config"]["steps"]
        lines = (folder / "metrics.jsonl").read_text().splitlines()
        return bool(lines) and json.loads(lines[-1])["step"] == steps
    except (OSError, ValueError, KeyError):
        return False


def eval_rows(folder: Path) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("eval/accuracy") is not None]


def phase_stats(rows: list[dict]) -> dict:
    acc = [r["eval/accuracy"] for r in rows]
    start = acc[0]
    trough = min(range(len(acc)), key=acc.__getitem__)
    peak = max(range(trough, len(acc)), key=acc.__getitem__)
    return {
        "start": start,
        "dip": 100 * (start - acc[trough]),
        "trough_step": rows[trough]["step"],
        "peak_gain": 100 * (acc[peak] - start),
        "peak_step": rows[peak]["step"],
        "decline": 100 * (acc[peak] - acc[-1]),
        "end": acc[-1],
        "nll_heldout_peak": rows[peak]["expert/nll_heldout"],
        "nll_heldout_end": rows[-1]["expert/nll_heldout"],
        "nll_heldout_min": min(r["expert/nll_heldout"] for r in rows),
        "nll_train_end": rows[-1]["expert/nll_train"],
        "malformed_end": rows[-1]["eval/malformed_rate"],
        "expert_format_end": rows[-1]["eval/expert_format_rate"],
    }


def formula_check(rows: list[dict], k: int) -> list[tuple[int, float, float, float]]:
    """(step, pi_B, predicted, measured) at the eval steps inside the format shift."""
    acc_a = rows[0]["eval/accuracy"]
    out = []
    for r in rows:
        pi_b = r["eval/expert_format_rate"]
        if 0.05 <= pi_b <= 0.95:
            q = r["expert/content_token_accuracy"]
            out.append((r["step"], pi_b, (1 - pi_b) * acc_a + pi_b * q**k, r["eval/accuracy"]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--presets", nargs="+", default=list(ARMS + CONTROLS))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from phasewatch.trainer.task import B_CONTENT_TOKENS

    # Pre-train (and cache) policy A once per seed before the runs that share it.
    with ProcessPoolExecutor(args.jobs) as pool:
        list(pool.map(pretrain_seed, args.seeds))
    todo = [(p, s, args.out / p / f"seed{s}") for p in args.presets for s in args.seeds
            if not complete(args.out / p / f"seed{s}")]
    with ProcessPoolExecutor(args.jobs) as pool:
        for (p, s, _), seconds in zip(todo, pool.map(train_one, *zip(*todo)) if todo else []):
            print(f"trained {p} seed {s} in {seconds:.0f} s", file=sys.stderr)

    keys = ("start", "dip", "peak_gain", "decline", "end", "nll_heldout_min", "nll_heldout_end",
            "nll_train_end", "malformed_end", "expert_format_end")
    print("| preset | seed | " + " | ".join(keys) + " | trough step | peak step |")
    print("|" + "---|" * (len(keys) + 4))
    means = {}
    for p in args.presets:
        stats = [phase_stats(eval_rows(args.out / p / f"seed{s}")) for s in args.seeds]
        for s, st in zip(args.seeds, stats):
            print(f"| {p} | {s} | " + " | ".join(f"{st[k]:.3f}" if k in ("start", "end") or "nll" in k
                                                 or "_end" in k else f"{st[k]:.1f}" for k in keys)
                  + f" | {st['trough_step']} | {st['peak_step']} |")
        means[p] = {k: statistics.mean(st[k] for st in stats) for k in keys}
    print("\nMean over seeds (accuracy in points):")
    print("| preset | start | dip | peak gain | decline | end | held-out NLL min -> end | train NLL end |")
    print("|---|---|---|---|---|---|---|---|")
    for p, m in means.items():
        print(f"| {p} | {100 * m['start']:.1f} | {m['dip']:.1f} | {m['peak_gain']:.1f} | {m['decline']:.1f} | "
              f"{100 * m['end']:.1f} | {m['nll_heldout_min']:.3f} -> {m['nll_heldout_end']:.3f} | "
              f"{m['nll_train_end']:.3f} |")
    if "sft" in args.presets:
        print(f"\nDip vs formula acc ~ (1 - pi_B) acc_A + pi_B q^K (K = {B_CONTENT_TOKENS}), sft arm:")
        print("| seed | step | pi_B | predicted | measured |")
        print("|---|---|---|---|---|")
        for s in args.seeds:
            for step, pi_b, pred, meas in formula_check(eval_rows(args.out / "sft" / f"seed{s}"), B_CONTENT_TOKENS):
                print(f"| {s} | {step} | {pi_b:.3f} | {pred:.3f} | {meas:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
