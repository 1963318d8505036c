"""The live monitor's stop alerts on the real-log corpus, scored against its labels.

`bench_early_stop.py` scores the monitor on synthetic runs, where the truth is known; this
script asks the same questions of the real runs of benchmarks/real_corpus, labelled by eye
before any detector ran on them. Each labelled series is replayed as a user watches it
(`watch LOG --metric M --format jsonl`, with the planned length the log states, if any) and
its first `overfit` alert (what `--stop-on overfit` stops on) is compared with the label:
- an overfit series (every labelled sequence, the accepted alternatives too, has an overfit):
  detected if the alert comes, early if it comes before the labelled best step, and its delay
  is (alert step - best step) / (last step - first step);
- a series with no overfit in any accepted sequence: an alert is a false stop;
- a series whose accepted sequences disagree on an overfit is not scored.
Printed per series (alerted ones and misses), then the totals per run length (3-12, 13-40, 41+
evaluations), as bench_early_stop's tables name them, beside patience-based early stopping on
the same values (HF `EarlyStoppingCallback(early_stopping_patience=N)`, threshold 0: a stop
after N evaluations without a new best).

Usage: python benchmarks/bench_live_alerts.py [--all]   (--all: print every series)
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_live_offline import cli
from real_corpus.build_corpus import labelled_logs

from phasewatch.io import read_run

LENGTHS = (("3-12", 3, 12), ("13-40", 13, 40), ("41+", 41, 10**9))
PATIENCE = (3, 10)


@dataclass
class Scored:
    label: str
    kind: str  # "overfit" or "none"
    evaluations: int
    alert_step: int | None
    best_step: int | None
    first: int
    last: int
    message: str
    patience: dict[int, int | None]  # patience N -> its stop step

    def delay(self, stop: int | None) -> float | None:
        """(stop - labelled best) / the run's span in steps, for a stop on an overfit series."""
        if stop is None or self.kind != "overfit" or self.best_step is None or self.last <= self.first:
            return None
        return (stop - self.best_step) / (self.last - self.first)


def overfit_kind(lab: dict) -> str | None:
    has = ["overfit" in seq for seq in [lab["expected"], *lab.get("alternatives", [])]]
    return "overfit" if all(has) else "none" if not any(has) else None


def patience_stop(steps, values, sign: float, patience: int) -> int | None:
    """The step HF's EarlyStoppingCallback stops at: the first evaluation `patience`
    evaluations after the last new best (strictly better, threshold 0)."""
    best, since = None, 0
    for step, value in zip(steps, values):
        if best is None or sign * value > sign * best:
            best, since = value, 0
        else:
            since += 1
            if since >= patience:
                return int(step)
    return None


def score(lab: dict, path: Path) -> Scored | None:
    kind = overfit_kind(lab)
    if kind is None:
        return None
    code, out = cli("watch", path, "--metric", lab["metric"], "--format", "jsonl")
    lines = [json.loads(line) for line in out.strip().splitlines() if line.startswith("{")]
    if code != 0 or not lines:
        return Scored(f"{lab['id']} {lab['metric']}", kind, 0, None, None, 0, 0, f"exit {code}", {})
    summary = lines[-1]
    alert = next((a for a in lines[:-1] if a.get("event") == "overfit"), None)
    column = read_run(path).column(summary.get("metric") or lab["metric"])
    steps, values = column.steps, column.values
    sign = -1.0 if lab["direction"] == "min" else 1.0
    return Scored(f"{lab['id']} {lab['metric']}", kind, int(steps.size),
                  None if alert is None else alert["step"], lab.get("best_step"),
                  int(steps[0]), int(steps[-1]), "" if alert is None else alert["message"],
                  {n: patience_stop(steps, values, sign, n) for n in PATIENCE})


def totals(rows: list[Scored], name: str, stop) -> str:
    """One table row: `stop(row)` is a method's stop step on that series (None: no stop)."""
    over = [r for r in rows if r.kind == "overfit"]
    clean = [r for r in rows if r.kind == "none"]
    alerted = [r for r in over if stop(r) is not None]
    early = [r for r in alerted if r.best_step is not None and stop(r) < r.best_step]
    delays = [r.delay(stop(r)) for r in alerted if r not in early and r.delay(stop(r)) is not None]
    false = [r for r in clean if stop(r) is not None]
    median = f"{statistics.median(delays):.3f}" if delays else "-"
    return (f"| {name} | {len(over)} | {len(alerted) - len(early)} | {len(early)} | {median} | "
            f"{len(clean)} | {len(false)} |")


def main(argv: list[str] | None = None) -> int:
    every = "--all" in (sys.argv[1:] if argv is None else argv)
    rows = [r for lab, path in labelled_logs() if (r := score(lab, path)) is not None]
    print("| series | label | evaluations | labelled best | overfit alert at | delay | alert |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if every or r.alert_step is not None or r.kind == "overfit":
            delay = r.delay(r.alert_step)
            print(f"| {r.label} | {r.kind} | {r.evaluations} | {r.best_step} | {r.alert_step} | "
                  f"{'-' if delay is None else f'{delay:.2f}'} | {r.message[:160]} |")
    methods = {"phasewatch": lambda r: r.alert_step,
               **{f"patience {n}": (lambda r, n=n: r.patience.get(n)) for n in PATIENCE}}
    print("\n| method, evaluations | overfit series | stopped after the best | stopped before it | "
          "median delay (of the run) | series without overfit | false stops |")
    print("|---|---|---|---|---|---|---|")
    for method, stop in methods.items():
        for name, low, high in LENGTHS:
            print(totals([r for r in rows if low <= r.evaluations <= high], f"{method}, {name}", stop))
        print(totals(rows, f"{method}, all", stop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
