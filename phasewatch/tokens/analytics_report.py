"""The analytics of `phasewatch tokens`: the `--top N` section (JSON document and text table) and
the `--sequences FILE` table of every sequence's NLL at every step."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from phasewatch.tokens.analytics import nll_trajectories, position_breakdown, squeezing, top_changes
from phasewatch.tokens.store import TokenStore


def analytics(store: TokenStore, top: int) -> dict:
    """Top-N tokens and sequences by NLL change (first -> last stored step), squeezing per step
    pair and split, and the per-position breakdown at the first and the last step."""
    first, last = int(store.steps[0]), int(store.steps[-1])
    squeeze = squeezing(store)
    summary = {}
    for split in store.splits:
        rows = [r for r in squeeze if r["split"] == split]
        fell = [r for r in rows if r["nll_change"] < 0]
        summary[split] = {
            "pairs": len(rows), "pairs_nll_fell": len(fell),
            "mean_squeezed_share": float(np.mean([r["squeezed_share"] for r in fell])) if fell else None,
        }
    return {
        "from_step": first, "to_step": last,
        "tokens": {k: [c.to_dict() for c in v] for k, v in top_changes(store, first, last, top).items()},
        "sequences": {k: [c.to_dict() for c in v]
                      for k, v in top_changes(store, first, last, top, unit="sequence").items()},
        "squeezing": squeeze,
        "squeezing_summary": summary,
        "positions": {split: {"first": position_breakdown(store, first, split),
                              "last": position_breakdown(store, last, split)} for split in store.splits},
    }


def _name(c: dict) -> str:
    if c.get("text") is None:
        return f"{c['sequence']}[{c['position']}]" if c.get("position") is not None else c["sequence"]
    if c.get("position") is None:
        return f"{c['sequence']}  {_short(c['text'], 40)}"
    return f"{_short(c['context'] or '', 20):>20} [{_short(c['text'], 12)}]  ({c['sequence']}[{c['position']}])"


def _short(text: str, width: int) -> str:
    text = repr(text)[1:-1]
    return text if len(text) <= width else text[: width - 3] + "..."


def print_analytics(doc: dict) -> None:
    a, b = doc["from_step"], doc["to_step"]
    for unit in ("tokens", "sequences"):
        for key, title in (("rising", "NLL rose most (p squeezed)"), ("falling", "NLL fell most (learned)")):
            rows = doc[unit][key]
            if not rows:
                continue
            print(f"\n{unit}: {title}, step {a} -> {b}")
            for c in rows:
                print(f"  {c['split']:<7} {c['nll_before']:7.3f} -> {c['nll_after']:7.3f} "
                      f"({c['change']:+.3f})  {_name(c)}")
    print("\nsqueezing: share of tokens whose p fell while the split's mean NLL fell (per pair of stored steps)")
    for split, s in doc["squeezing_summary"].items():
        share = "-" if s["mean_squeezed_share"] is None else f"{100 * s['mean_squeezed_share']:.1f}%"
        print(f"  {split:<7} mean NLL fell on {s['pairs_nll_fell']} of {s['pairs']} step pairs; "
              f"on those, {share} of the tokens lost probability")
    print(f"\nby position in the sequence: mean NLL (divergent %), step {a} -> {b}")
    for split, pos in doc["positions"].items():
        last = {r["positions"]: r for r in pos["last"]}
        cells = []
        for r in pos["first"]:
            e = last.get(r["positions"])
            after = "-" if e is None else f"{e['nll']:.2f} ({100 * e['divergent_share']:.0f}%)"
            cells.append(f"[{r['positions']}] {r['nll']:.2f} ({100 * r['divergent_share']:.0f}%) -> {after}")
        print(f"  {split}:")
        for cell in cells:
            print(f"    {cell}")


def write_trajectories(store: TokenStore, path: str | Path) -> int:
    """Every sequence's mean NLL at every stored step, one row each (step, split, sequence, nll:
    a long table that pandas, R or a spreadsheet pivots or plots as it likes); returns the rows.
    Sequences that get worse while the mean improves are the ones a summary hides."""
    rows = 0
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["step", "split", "sequence", "nll"])
        for split in store.splits:
            steps, ids, matrix = nll_trajectories(store, split)
            for step, nlls in zip(steps.tolist(), matrix.tolist()):
                writer.writerows([step, split, sid, nll] for sid, nll in zip(ids, nlls))
                rows += len(ids)
    return rows
