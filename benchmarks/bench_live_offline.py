"""`watch` against `analyze` on every real and sample log: one answer per run?

For each run folder in ../shared/real_logs (when present) and sample_logs/, as a user runs them:
`analyze RUN --format json` and `watch RUN --format jsonl` (a replay). Printed per run: the
metric each names, the checkpoint each recommends (watch: its closing summary's `best_step`) and
how many evaluations apart they are, and the live monitor's own best at the end
(`live_best_step`, what it would have said without the whole-run pass) with its distance to
the offline checkpoint; then what a user reads of the phases at the end of each side: `analyze`'s
phase names in order and `watch`'s alerts (the events it raised) with its live phase at the end
(the summary's `phase`; none: "no significant change yet"). The two agree (`verdicts`):
- on an overfit when analyze names one and watch raised an overfit alert, or neither did;
- on a disruption likewise (a fall below the start: analyze's disruption, watch's alert);
- on the verdict when they agree on both (what a user acts on: stop, or wait for recovery);
- on the last phase when watch's live phase is analyze's last phase name, or watch has none
  and analyze names only a plateau (no significant change).
Runs with no default metric are run with the `--metric` a user would
pass (`tests/test_live_offline_logs.py` asserts the same agreement). `--corpus` runs every
labelled series of the real-log corpus instead (benchmarks/real_corpus, both sets, with the
labelled metric; built with `real_corpus/build_corpus.py`) and prints the totals.

Usage: python benchmarks/bench_live_offline.py [--corpus]
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from real_corpus.build_corpus import labelled_logs

from phasewatch.cli import main as cli_main
from phasewatch.io import read_run

REAL_LOGS = ROOT.parent / "shared" / "real_logs"
METRIC_FOR = {"llamafactory_grpo": "accuracy", "hf_tensorboard": "train/loss"}


def runs() -> list[tuple[str, Path]]:
    out = []
    for label, folder in (("real", REAL_LOGS), ("sample", ROOT / "sample_logs")):
        if folder.is_dir():
            out += [(f"{label}/{p.name}", p) for p in sorted(folder.iterdir())
                    if p.is_dir() and any(f.is_file() and f.name != "README.md"
                                          for f in p.iterdir())]
    return out


def cli(*argv) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main([str(a) for a in argv])
    return code, out.getvalue()


def apart(steps: np.ndarray, a, b) -> str:
    if a is None or b is None:
        return "-"
    return str(abs(int(np.searchsorted(steps, a)) - int(np.searchsorted(steps, b))))


NAMED = ("overfit", "disruption")  # the phases a user acts on, whichever side names them


def verdicts(phases: list[str], alerts: list[str], live_phase: str | None) -> dict[str, bool]:
    """Where analyze (its `phases`, in order) and watch (the `alerts` it raised, its
    `live_phase` at the end) agree: on each of NAMED (named by both or by neither), on both
    ('verdict'), and on the last phase ('last'; no live phase agrees with a plateau alone)."""
    out = {name: (name in phases) == (name in alerts) for name in NAMED}
    out["verdict"] = all(out[name] for name in NAMED)
    last = phases[-1] if phases else None
    out["last"] = live_phase == last or (live_phase is None and set(phases) <= {"plateau"})
    return out


def named_by(phases: list[str], alerts: list[str], name: str) -> str:
    """'both', 'neither', 'analyze' or 'watch': which side names the phase `name`."""
    return {(True, True): "both", (False, False): "neither", (True, False): "analyze",
            (False, True): "watch"}[(name in phases, name in alerts)]


def corpus_series() -> list[tuple[str, Path, str]]:
    """(label, log file, labelled metric) of every built series of the real-log corpus."""
    return [(f"{lab['id']} {lab['metric']}", path, lab["metric"]) for lab, path in labelled_logs()]


def main(argv: list[str] | None = None) -> int:
    corpus = "--corpus" in (sys.argv[1:] if argv is None else argv)
    print("| run | metric (analyze) | metric (watch) | evaluations | analyze checkpoint | "
          "watch checkpoint | apart (evals) | monitor's own best | apart (evals) | "
          "analyze phases | watch alerts | live phase | agree |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    cases = corpus_series() if corpus else [(label, path, None) for label, path in runs()]
    same = same_live = compared = 0
    agreed = {"overfit": 0, "disruption": 0, "verdict": 0, "last": 0}
    sides = {name: {"both": 0, "neither": 0, "analyze": 0, "watch": 0} for name in NAMED}
    for label, path, labelled in cases:
        options: tuple[str, ...] = ("--metric", labelled) if labelled else ()
        code, out = cli("analyze", path, "--format", "json", *options)
        if code == 2 and path.name in METRIC_FOR:
            options = ("--metric", METRIC_FOR[path.name])
            code, out = cli("analyze", path, "--format", "json", *options)
        if code != 0:
            print(f"| {label} | analyze exit {code} | | | | | | | | | | | |")
            continue
        offline = json.loads(out)["runs"][0]
        code_w, out_w = cli("watch", path, "--format", "jsonl", *options)
        objects = [json.loads(line) for line in out_w.splitlines() if line.strip()]
        summary = objects[-1] if objects and objects[-1]["event"] == "summary" else {}
        alerts = [o["event"] for o in objects if o["event"] != "summary"]
        phases = [p["name"] for p in offline["phases"]]
        agree = verdicts(phases, alerts, summary.get("phase"))
        steps = read_run(path).series(offline["metric"]).index.to_numpy()
        want = offline["recommended_stop_step"]
        got, live = summary.get("best_step"), summary.get("live_best_step")
        metric = offline["metric"] + (" (--metric)" if options else "")
        compared += 1
        same += apart(steps, got, want) in ("0", "1")
        same_live += apart(steps, live, want) in ("0", "1")
        for key, ok in agree.items():
            agreed[key] += ok
        for name in NAMED:
            sides[name][named_by(phases, alerts, name)] += 1
        differ = ", ".join(key for key, ok in agree.items() if not ok) or "yes"
        print(f"| {label} | {metric} | {summary.get('metric')} (exit {code_w}) | {steps.size} | "
              f"{want} | {got} | {apart(steps, got, want)} | {live} | {apart(steps, live, want)} | "
              f"{' > '.join(phases)} | {' > '.join(alerts) or '-'} | "
              f"{summary.get('phase') or '-'} | {'yes' if differ == 'yes' else 'no: ' + differ} |")
    print(f"\nwatch's checkpoint within one evaluation of analyze's: {same} of {compared} series")
    print(f"the monitor's own best (before the closing whole-run pass) within one evaluation of "
          f"analyze's checkpoint: {same_live} of {compared} series")
    for name in NAMED:
        n = sides[name]
        print(f"{name}: named by both {n['both']}, by neither {n['neither']}, by analyze only "
              f"{n['analyze']}, by watch only {n['watch']} (agree on {agreed[name]} of {compared})")
    print(f"the verdict (overfit and disruption) agrees on {agreed['verdict']} of {compared} "
          f"series; watch's live phase at the end is analyze's last phase on {agreed['last']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
