"""`phasewatch tokens RUN_DIR`: how the policy's probabilities of the expert tokens move.

Per step and split (train / heldout): mean NLL, quantiles of p, divergent (p < 0.05) and mastered
(p > 0.95) shares, mean phi = p(1-p), mean binary entropy; when tokens are learned (first step with
p > 0.5); the divergence score at the start. See docs/tokens.md.
"""

from __future__ import annotations

import argparse
import sys

HELP = "summarise the expert log-prob store of a run: NLL, p quantiles, divergent/mastered shares"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="RUN_DIR", help="a run folder (or its expert_logprobs/ folder)")
    parser.add_argument("--format", choices=("text", "json"), default="text", dest="output")
    parser.add_argument(
        "--max-rows", type=int, default=30, metavar="N",
        help="text: show at most N evenly spaced steps per split (0 = all); JSON has every step",
    )
    parser.add_argument(
        "--top", type=int, default=0, metavar="N",
        help="also list the N tokens and sequences whose NLL rose / fell most (first -> last step), "
             "the squeezing share and the per-position breakdown (JSON: \"analytics\")",
    )
    parser.add_argument(
        "--sequences", metavar="FILE.csv",
        help="also write every sequence's mean NLL at every step to FILE.csv (step, split, "
             "sequence, nll), to see which sequences get worse",
    )
    parser.add_argument(
        "--strict", action="store_true",
        help="fail on a damaged step file instead of skipping it with a warning",
    )


def report(summary, divergence) -> dict:
    """The `tokens` JSON document (without schema_version)."""
    return {
        "source": summary.source,
        "dtype": summary.dtype,
        "precision": summary.precision,
        "n_tokens": summary.n_tokens,
        "n_steps": len(summary.steps),
        "splits": summary.splits,
        "thresholds": {
            "divergent_p": summary.config.divergent_p,
            "mastered_p": summary.config.mastered_p,
            "learned_p": summary.config.learned_p,
        },
        "steps": {split: [row.to_dict() for row in rows] for split, rows in summary.rows.items()},
        "learned_at": {split: la.to_dict() for split, la in summary.learned_at.items()},
        "divergence": None if divergence is None else divergence.to_dict(),
        "warnings": list(summary.warnings),
    }


def run(args: argparse.Namespace) -> int:
    from phasewatch.errors import UsageError
    from phasewatch.output import emit_json
    from phasewatch.tokens import divergence_score, open_store, summarize_store

    if args.max_rows < 0 or args.top < 0:
        raise UsageError("--max-rows and --top must be >= 0")
    store = open_store(args.path, strict=args.strict)
    summary = summarize_store(store)
    divergence = divergence_score(summary, "train") or divergence_score(summary, "heldout")
    extra = None
    if args.top:
        from phasewatch.tokens.analytics_report import analytics, print_analytics

        extra = analytics(store, args.top)
    if args.sequences:
        from phasewatch.tokens.analytics_report import write_trajectories

        try:
            rows = write_trajectories(store, args.sequences)
        except OSError as exc:
            raise UsageError(f"cannot write {args.sequences}: {exc.strerror or exc}") from None
        print(f"phasewatch: wrote {args.sequences} ({rows} rows: step, split, sequence, nll)", file=sys.stderr)
    if args.output == "json":
        emit_json({**report(summary, divergence), **({"analytics": extra} if extra else {})})
    else:
        print_text(summary, divergence, args.max_rows)
        if extra:
            print_analytics(extra)
    return 0


def _shown_rows(n: int, limit: int) -> list[int]:
    if limit == 0 or n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)}) if limit > 1 else [0]


def print_text(summary, divergence, max_rows: int) -> None:
    steps = summary.steps
    splits = ", ".join(
        f"{name} {info['n_tokens']} tokens in {info['n_sequences']} sequences"
        for name, info in summary.splits.items()
    )
    print(f"{summary.source}  [{summary.dtype}, {summary.precision}]")
    span = f"{steps[0]}..{steps[-1]}" if steps else "-"
    print(f"{summary.n_tokens} expert tokens per step ({splits}); {len(steps)} steps {span}")
    cfg = summary.config
    for split, rows in summary.rows.items():
        shown = _shown_rows(len(rows), max_rows)
        note = f" (showing {len(shown)} of {len(rows)} steps)" if len(shown) < len(rows) else ""
        print(f"\n{split}{note}: p = policy probability of each expert token")
        labels = list(rows[0].p_quantiles) if rows else []
        header = f"{'step':>8} {'NLL':>7} " + " ".join(f"{lab:>6}" for lab in labels)
        header += f" {'div%':>6} {'mast%':>6} {'phi':>6} {'H':>6}"
        print(header)
        for i in shown:
            row = rows[i]
            line = f"{row.step:>8} {row.nll:>7.3f} " + " ".join(f"{v:>6.3f}" for v in row.p_quantiles.values())
            line += (f" {100 * row.divergent_share:>6.1f} {100 * row.mastered_share:>6.1f}"
                     f" {row.mean_phi:>6.3f} {row.mean_binary_entropy:>6.3f}")
            print(line)
        learned = summary.learned_at.get(split)
        if learned is not None and learned.n_tokens:
            when = ", ".join(f"{k} {v}" for k, v in learned.step_quantiles.items() if v is not None)
            print(
                f"learned (first step with p > {cfg.learned_p:g}): known at start "
                f"{100 * learned.known_at_start_share:.1f}%, during training "
                f"{100 * learned.learned_during_share:.1f}%" + (f" (at steps {when})" if when else "")
                + f", never {100 * learned.never_learned_share:.1f}%"
            )
    print(f"\ndiv% = share with p < {cfg.divergent_p:g}, mast% = share with p > {cfg.mastered_p:g}, "
          "phi = mean p(1-p), H = mean binary entropy of p (nats)")
    if divergence is not None:
        # Mean NLL first: it is what predicted the dip depth in our measurements (docs/tokens.md).
        print(
            f"divergence at start (step {divergence.step}, {divergence.split}): mean NLL "
            f"{divergence.mean_nll:.3f}, divergent share {100 * divergence.divergent_share:.1f}%, "
            f"divergent NLL mass (score) {divergence.score:.4f} nats/token"
        )
    for warning in summary.warnings:
        print(f"warning: {warning}")
