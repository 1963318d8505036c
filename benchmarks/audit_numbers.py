"""Issue 12 on real data: every number `analyze` prints agrees with the data it summarises,
in the metric's own direction and words.

For every labelled (log, metric) series of the real corpus (each set of
`real_corpus/build_corpus.py`), every run in sample_logs/ and every log in ../shared/real_logs
(skipped when absent), runs the real command (`phasewatch analyze PATH [--metric M]`, as json,
text and csv, in process through `phasewatch.cli.main`), reads the raw values with
`read_run(path).series(metric)` and checks invariants derived from docs/detection.md (quoted
beside each check). Prints one row per violation (set, id, metric, invariant, printed, data)
and the totals per invariant. The JSON's numbers are checked against the values in
`audit_levels.py`; the text, the CSV, the words and the signals here.

    .venv/bin/python benchmarks/audit_numbers.py [--only ID ...] [--sets main,heldout,...]
Exit code: 0 no violation, 1 violations, 2 usage.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from audit_levels import check_run, close
from real_corpus.build_corpus import SETS, load_manifest

from phasewatch.cli import main as cli_main
from phasewatch.io import read_run
from phasewatch.output import digits_apart

CORPUS = ROOT / "benchmarks" / "real_corpus"
REAL_LOGS = ROOT.parent / "shared" / "real_logs"
STEP_COLUMNS = ("recommended_stop_step", "start_step", "end_step", "trough_step",
                "time_to_recover", "peak_step")


def series_list(sets, only=None) -> list[tuple]:
    """(set, id, path, metric[, direction]) of every series to audit: metric None = analyze's
    own choice; a corpus series has its labelled direction."""
    out = []
    for name in sets:
        entries = {e.id: e for e in load_manifest(CORPUS / SETS[name][0])}
        for label in json.loads((CORPUS / SETS[name][1]).read_text())["labels"]:
            entry = entries[label["id"]]  # its source: the file, or one run of a store
            if entry.dest.exists():
                out.append((name, label["id"], str(entry.source), label["metric"],
                            label["direction"]))
    for run in sorted(p.parent for p in (ROOT / "sample_logs").rglob("metrics.jsonl")):
        out.append(("sample_logs", str(run.relative_to(ROOT / "sample_logs")), str(run), None))
    if REAL_LOGS.is_dir():
        for path in sorted(p for p in REAL_LOGS.rglob("*") if p.is_file() and p.suffix != ".md"):
            out.append(("real_logs", str(path.relative_to(REAL_LOGS)), str(path), None))
    return [s for s in out if not only or s[1] in only]


def run_cli(argv: list[str]) -> tuple[int, str]:
    """`phasewatch argv` as a user runs it: its stdout (stderr dropped) and exit code."""
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = cli_main(argv)
    return code, out.getvalue()


PHASE = re.compile(r"^  (\w+)\s+(\S+) -> (\S+)\s+(\S+) -> (\S+)\s+change (\S+)"
                   r"(?: \((\S+) sd\))?(?:  \(ends: means of \d+ (?:evaluations|readings) each\))?"
                   r"(?:  (.*))?$")


def check_text(r: dict, text: str):
    """"Every value printed is read off the data, in the metric's own units and direction ...
    for a higher-is-better metric a trough is *below* the start and an overfit *below* its best;
    for a loss, *above*": the text's numbers are the JSON's rounded as printed (4 digits, more
    where start and end differ by far less; sds to 0.1), each effect's word the one its sign
    and the direction call for."""
    worse, better = ("below", "above") if r["direction"] == "max" else ("above", "below")
    head, x = text.splitlines()[0], r.get("x")
    word, _, scale = r.get("step_unit", "step").partition("/")

    def at(step, key=None):  # "step 900", "epoch 1.35" (step_units.at), or the --x unit's value
        if x:
            return f"{x['unit']} {key:.4g}"
        return f"{word} {step if not scale else format(step / int(scale), '.4g')}"
    se, sd = r.get("baseline_se"), r.get("noise_sd")
    want = (f"({r['direction']}), baseline {r['baseline']:.4g}" + (f" ± {se:.2g}" if se else "")
            + (f", noise sd {sd:.4g}" if sd is not None else ", noise sd -"))
    if want not in head:
        yield "text header baseline, ± and noise sd", head, want
    if ("confidence" in r) != (f"confidence {r.get('confidence')}" in head):
        yield "text confidence", head, r.get("confidence")
    lines = [m for m in map(PHASE.match, text.splitlines()[1:]) if m]
    # a series of one or two readings keeps its plateau in the JSON and prints no phase row
    # (results.too_few_to_name: "one evaluation: no phases")
    few = sum(p.get("n_points") or 0 for p in r["phases"]) <= 2
    if len(lines) != (0 if few else len(r["phases"])):
        yield "text phase lines", len(lines), len(r["phases"])
    for m, p in zip(lines, r["phases"]):
        tag, tail = f"{p['name']}@{p['start_step']}", m[8] or ""
        # as many digits as print them apart (`output.digits_apart`)
        digits = f".{digits_apart(p.get('start_value'), p.get('end_value'))}g"
        for got, key, fmt in ((m[4], "start_value", digits), (m[5], "end_value", digits),
                              (m[6], "change", "+.4g"), (m[7], "change_sd", "+.1f")):
            if got != (None if p.get(key) is None else format(p[key], fmt)):
                yield f"text {key} ({tag})", got, p.get(key)
        effect = {"disruption": ("depth", worse, better), "overfit": ("decline_since_peak", worse, better),
                  "readaptation": ("gain_over_baseline", better, worse),
                  "improvement": ("gain_over_baseline", better, worse)}.get(p["name"])
        if effect and p.get(effect[0]) is not None:
            size = p[effect[0]]
            want = f"{abs(size):.4g} {effect[1] if size >= 0 else effect[2]}"
            if want not in tail:
                yield f"text {effect[0]} and its word ({tag})", tail, want
        edges = (p["start_step"], p["end_step"]) if not x else (p["start_x"], p["end_x"])
        if (m[2], m[3]) != tuple(at(e, e).split()[1] if x or scale else str(e) for e in edges):
            yield f"text start and end steps ({tag})", (m[2], m[3]), edges
        where = at(p["peak_step"], p.get("peak_x")) if "peak_step" in p else ""
        # a rise's best quoted as the level it ends on (several evaluations read there), at
        # its last step: "the best ... is the level it ends on" says so
        gain, read = p.get("gain_over_baseline"), {"ends_averaged", "end_averaged", "end_held",
                                                    "end_held_mean"} & set(p)
        end_level = (gain is not None and r["baseline"] is not None and bool(read)
                     and p.get("peak_step") == p["end_step"] and "peak_averaged" not in p
                     and close(r["baseline"] + (gain if r["direction"] == "max" else -gain),
                               p.get("end_value")))
        # a series scored on the training batches counts readings, not evaluations
        values_word = "readings" if r.get("train_metric") else "evaluations"
        # an overfit holding a better evaluation than the peak it is measured from names that
        # peak by its value ("step 130's 0.901, where it is measured from; its best, ...")
        said = (f"(around {where}: a mean of {p['peak_averaged']} {values_word})"
                if "peak_averaged" in p else
                f"(the level it ends on, at {where})" if end_level else
                f"{where}'s {p['peak_value']:.4g}, where it is measured from" if "better_step" in p
                else f"({where})")
        if "peak_step" in p and p["name"] != "plateau" and said not in tail:
            yield f"text peak step ({tag})", tail, p["peak_step"]
        if p["name"] == "disruption":
            ttr, first = p.get("time_to_recover"), p["start_step"] == r["phases"][0]["start_step"]
            within = ttr is None and abs(p.get("end_short_sd") or 2.0) <= 1.0
            said = ("back within the noise of" if within else "not recovered") if ttr is None \
                else "recovered after " + (at(ttr).split(" ", 1)[1] if not x else "")
            ref = "the start" if first else f"where it began ({at(p['start_step'], p.get('start_x'))})"
            if said not in tail or f"{ref}," not in tail and not x:
                yield f"text depth's reference and recovery ({tag})", tail, f"{ref}, {said}"
        if p["name"] == "plateau" and "level" in p and f"level {p['level']:{digits}}" not in tail:
            yield f"text plateau level ({tag})", tail, p["level"]
        # "A plateau of a short series is printed with 'not established': the data moved"
        if p["name"] == "plateau" and "trend_test" in r and ("not established" in tail) != bool(p["change"]):
            yield f"text 'not established' iff a short plateau moved ({tag})", tail, p["change"]
    cps = x["changepoints"] if x else [{**c, "at": c["step"]} for c in r["changepoints"]]
    want = ", ".join(f"{c['at']:.4g} [{c['low']:.4g}, {c['high']:.4g}]" if x else
                     f"{c['at']} [{c['low']}, {c['high']}]" for c in cps)
    if cps and f"boundaries: {want}" not in text:
        yield "text boundaries", "-", want
    stop = r["recommended_stop_step"]
    if stop is not None and f"recommended stop: {at(stop, x and x['recommended_stop'])}" not in text:
        yield "text recommended stop", "-", stop
    # `stop_beats_last` false: "its luckiest reading, which the text says ("no better than the
    # last, step 1000, beyond the noise")"
    # (or "... beyond the noise: inside the plateau from step 90 it is ranked at ...")
    if bool(re.search(r"beyond the noise[):]", text)) != (r.get("stop_beats_last") is False):
        yield "text 'no better than the last' iff stop_beats_last false", "-", r.get("stop_beats_last")
    yield from check_words(r, text)
    yield from check_phase_signs(r)


def check_phase_signs(r: dict):
    """"A disruption ends at the trough; an overfit phase starts at the peak" (DESIGN.md): a
    fall's change is worse and a rise's better, in the metric's direction (before 3c76ec9 a
    grokking val loss printed "overfit 800 -> 32400 ... change -0.01612", a loss that fell, "0.01612
    below its best")."""
    sign = 1.0 if r["direction"] == "max" else -1.0
    for p in r["phases"]:
        change = p.get("change")
        if change is None or change == 0:
            continue
        falls, rises = p["name"] in ("disruption", "overfit"), p["name"] in ("improvement",
                                                                             "readaptation")
        if falls and sign * change > 0 or rises and sign * change < 0:
            yield f"phase name vs its change's sign ({p['name']}@{p['start_step']})", change, "-"


def check_words(r: dict, text: str):
    """The warnings' words agree with the numbers beside them: "<metric> rises/falls across its
    N evaluations (Kendall tau +x", "<train metric> fell/rose a -> b", "while <metric> got
    worse" only when it did."""
    for m in re.finditer(r" (rises|falls) across its \d+ evaluations \(Kendall tau ([-+][0-9.]+)", text):
        if (m[1] == "rises") != (float(m[2]) > 0):
            yield "word rises/falls vs tau", m[0], m[2]
    for m in re.finditer(r" (fell|rose) (\S+) -> (\S+) over the same steps", text):
        if (m[1] == "rose") != (float(m[3]) > float(m[2])):
            yield "word fell/rose vs its numbers", m[0], "-"
    ph = r["phases"]
    if ph and "got worse: held-out worse" in text and (ph[-1]["end_value"] - ph[0]["start_value"]) * (
            1 if r["direction"] == "max" else -1) >= 0:
        yield "word 'got worse' vs its data", ph[0]["start_value"], ph[-1]["end_value"]


def check_csv(r: dict, text: str):
    """"csv: one row per phase of each run" holding the JSON's values (`.6g`); "its `step_unit`
    column says what the step columns count: `step`, or `epoch` for Keras' epochs and for an HF
    console log that states no step, whose step columns are then its epochs, 1.35"."""
    unit = r.get("step_unit", "step")
    scale = int(unit.partition("/")[2] or 1)
    rows = list(csv.DictReader(io.StringIO(text)))
    if len(rows) != max(len(r["phases"]), 1):
        yield "csv rows", len(rows), len(r["phases"])
        return
    saved = r.get("saved_checkpoint") or {}  # the CSV's two columns of the JSON's object
    for row, p in zip(rows, r["phases"] or [{}]):
        # "`stage_switch_step`, where a joined SFT-then-RL run's RL stage begins"
        switch = next((e["step"] for e in r.get("events", []) + r.get("stage_only", [])
                       if e["name"] == "sft_to_rl"), None)
        # "`established`: False for a phase the text says is 'not established' (a short
        # series' plateau that moved)"
        moved = p.get("name") == "plateau" and "trend_test" in r and bool(p.get("change"))
        want = {**r, "phase": p.get("name"), **p, "step_unit": unit.partition("/")[0],
                "saved_checkpoint": saved.get("path"), "saved_checkpoint_step": saved.get("step"),
                "stage_switch_step": switch, "established": False if moved else None}
        for key, cell in row.items():
            value = want.get(key)
            value = value / scale if key in STEP_COLUMNS and value is not None else value
            if cell == ("" if value is None else str(value)) or key == "source":
                continue
            try:
                if math.isclose(float(cell), float(value), rel_tol=6e-6, abs_tol=1e-12):
                    continue
            except (TypeError, ValueError):
                pass
            yield f"csv {key} ({p.get('name')}@{p.get('start_step')})", cell, value


def check_signals(r: dict, run):
    """"`signals`: per supporting series ... its `mean`, `start`, `end`, `change` within the
    phase": the mean of its finite values between the phase's steps, change = end - start."""
    for p in r["phases"]:
        for name, stats in p.get("signals", {}).items():
            if not close(stats["change"], stats["end"] - stats["start"]):
                yield f"signal change=end-start ({name})", stats["change"], stats["end"] - stats["start"]
            if run.own_name(name) is None:
                continue  # a token-store signal: not a column of the log
            col = run.column(name)
            inside = col.values[(col.steps >= p["start_step"]) & (col.steps <= p["end_step"])]
            if not close(stats["mean"], inside.mean(), 1e-7):
                yield f"signal mean within the phase ({name}, {p['name']}@{p['start_step']})", stats["mean"], inside.mean()


def audit(entry) -> list[tuple]:
    """All violations of one series (set, id, path, metric): (invariant, printed, data) rows."""
    path, metric = entry[2], entry[3]
    extra = ["--metric", metric] if metric else []
    code, doc = run_cli(["analyze", path, *extra, "--format", "json"])
    if code not in (0, 4):
        return [("analyze ran", code, 0)]
    r = json.loads(doc)["runs"][0]
    run = read_run(path)
    raw = run.series(r["metric"])
    keep = ~raw.index.isin(r.get("outlier_steps", []))
    steps, v = raw.index.to_numpy()[keep], raw.to_numpy(dtype=float)[keep]
    rows = [] if np.unique(steps).size == steps.size else [("distinct steps", steps.size, "-")]
    rows += list(check_run(r, steps, v)) if v.size else []
    rows += list(check_signals(r, run))
    # the labelled direction is the metric's: its words follow it
    if len(entry) > 4 and r["direction"] != entry[4]:
        rows.append(("direction = the label's", r["direction"], entry[4]))
    rows += list(check_text(r, run_cli(["analyze", path, *extra])[1]))
    rows += list(check_csv(r, run_cli(["analyze", path, *extra, "--format", "csv"])[1]))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="these ids only (a corpus log id, a "
                        "sample_logs run such as demo, a real_logs file such as x/y.jsonl)")
    parser.add_argument("--sets", default=",".join([*SETS, "sample_logs", "real_logs"]),
                        help="comma-separated: corpus sets, sample_logs, real_logs (default all)")
    args = parser.parse_args(argv)
    sets = args.sets.split(",")
    entries = [e for e in series_list([s for s in sets if s in SETS], args.only) if e[0] in sets]
    totals: Counter = Counter()
    for entry in entries:
        for invariant, shown, data in audit(entry):
            totals[re.sub(r" \([^()]*\)$", "", invariant)] += 1
            print(f"{entry[0]:<11} {entry[1]:<34} {entry[3] or '-':<26} {invariant}: "
                  f"printed {shown}, data {data}")
    print(f"\n{len(entries)} series checked, {sum(totals.values())} violations")
    for kind, count in totals.most_common():
        print(f"  {count:>5}  {kind}")
    return 1 if totals else 0


if __name__ == "__main__":
    sys.exit(main())
