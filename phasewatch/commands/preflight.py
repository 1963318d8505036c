"""`phasewatch preflight --model PATH --data expert.jsonl`: how far expert data is from a model.

Before training: mean NLL of the expert completions under the model, divergent-token share
(p < 0.05), phi mass, the most divergent sequences and tokens, and the disruption that NLL
anticipates on the reference trainer's calibration (printed with its rank correlation and size).
Needs torch + transformers (`pip install 'phasewatch[capture]'`). See docs/tokens.md.
"""

from __future__ import annotations

import argparse

HELP = "before training: how far expert data is from a local causal LM (NLL, divergent tokens, expected dip)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="PATH",
                        help="a local Hugging Face causal LM folder (config, weights, tokenizer)")
    parser.add_argument("--data", required=True, metavar="FILE",
                        help="expert examples, JSONL: {prompt, completion} or {messages} per line")
    parser.add_argument("--heldout", metavar="FILE", help="held-out expert examples (same format)")
    parser.add_argument("--format", choices=("text", "json"), default="text", dest="output")
    parser.add_argument("--top", type=int, default=10, metavar="N",
                        help="most divergent sequences and tokens to list (default 10)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="N")
    parser.add_argument("--max-length", type=int, metavar="N",
                        help="truncate longer sequences (default: the model's context)")


def run(args: argparse.Namespace) -> int:
    from phasewatch.errors import UsageError

    if args.top < 0 or args.batch_size < 1 or (args.max_length is not None and args.max_length < 2):
        raise UsageError("--top must be >= 0, --batch-size >= 1 and --max-length >= 2")
    from phasewatch.capture.encode import context_length
    from phasewatch.capture.examples import read_examples  # needs torch: the hint comes from here
    from phasewatch.capture.preflight import PreflightConfig, load_local_model, preflight
    from phasewatch.output import emit_json, warn

    examples = read_examples(args.data, "train")
    if args.heldout:
        examples += read_examples(args.heldout, "heldout")
    model, tokenizer = load_local_model(args.model)
    context = context_length(model, tokenizer)
    if args.max_length is not None and context is not None and args.max_length > context:
        # the model has no positions past its context: scoring there fails inside torch
        raise UsageError(f"--max-length {args.max_length}: the model {args.model} has a context "
                         f"of {context} tokens; give at most {context}, or leave it out (the "
                         "model's context)")
    report = preflight(model, tokenizer, examples,
                       PreflightConfig(batch_size=args.batch_size, top=args.top, max_length=args.max_length))
    report = {"model": str(args.model), "data": str(args.data), "heldout": args.heldout, **report}
    for message in report["warnings"]:
        warn(message)
    if args.output == "json":
        emit_json(report)
    else:
        print_text(report)
    return 0


def _short(text: str, width: int = 48) -> str:
    text = repr(text)[1:-1]
    return text if len(text) <= width else text[: width - 3] + "..."


def print_text(r: dict) -> None:
    print(f"{r['model']} on {r['data']}" + (f" + {r['heldout']}" if r["heldout"] else ""))
    print(f"{r['n_sequences']} expert sequences, {r['n_tokens']} completion tokens scored "
          f"(context {r['context_length']})")
    print(f"\n{'split':<8} {'seqs':>6} {'tokens':>8} {'NLL':>7} {'div%':>6} {'phi':>6} {'p50':>6}")
    rows = [*r["splits"].items()] + ([("all", r["overall"])] if len(r["splits"]) > 1 else [])
    for name, s in rows:
        print(f"{name:<8} {s['n_sequences']:>6} {s['n_tokens']:>8} {s['nll']:>7.3f} "
              f"{100 * s['divergent_share']:>6.1f} {s['phi_mass']:>6.3f} {s['p_median']:>6.3f}")
    print("NLL = mean -log p (nats/token); div% = share with p < 0.05; phi = mean p(1-p)")
    if r["top_sequences"]:
        print("\nmost divergent sequences (by mean NLL):")
        for s in r["top_sequences"]:
            where = s["source"] or s["id"]
            print(f"  {s['nll']:7.3f}  {100 * s['divergent_share']:5.1f}%  {where}  {_short(s['completion'])}")
    if r["top_tokens"]:
        print("\nmost divergent tokens (by total NLL carried):")
        for t in r["top_tokens"]:
            print(f"  {_short(t['token'], 16):<16} x{t['count']:<6} mean NLL {t['mean_nll']:6.3f}  "
                  f"div {100 * t['divergent_share']:5.1f}%  {100 * t['nll_share']:5.1f}% of the NLL")
    e = r["expected_disruption"]
    if e is None:
        print("\nexpected disruption: no calibration table available")
        return
    print(f"\nexpected disruption (from the {e['from_split']} NLL): depth {e['depth']:.3f} "
          f"[{e['low']:.3f}, {e['high']:.3f}] (held-out accuracy lost, 0-1, on the reference task; "
          f"median and range of the {e['neighbours']} calibration runs nearest in NLL)")
    print(f"calibration: Spearman rho = {e['rho']:+.2f} between step-0 expert NLL and disruption "
          f"depth, n = {e['n']} reference-trainer runs; their NLLs span "
          f"{e['nll_range'][0]:.2f}..{e['nll_range'][1]:.2f} "
          f"({'inside' if e['inside'] else 'OUTSIDE: the nearest runs stand in for'} this NLL)")
    print(f"  ({e['produced_by']})")
    print(f"  caveat: {e['caveat']}")
