"""Issue 12 on real data: every number `analyze` prints agrees with the data it summarises,
in the metric's own direction and words.

For every labelled (log, metric) series of the real corpus (each set of
`real_corpus/build_corpus.py`), every run in sample_logs/ and every log in ../shared/real_logs
(skipped when absent), runs the real command (`phasewatch analyze PATH [--metric M]`, as json,
text and csv, in process through `phasewatch.cli.main`), reads the raw values with
`read_run(path).series(metric)` and checks invariants derived from docs/detection.md (quoted
beside each check). Prints one row per violation (set, id, metric, invariant, printed, data)
and the totals per invariant.

    .venv/bin/python benchmarks/audit_numbers.py [--only ID ...] [--sets main,heldout,...]
Exit code: 0 no violation, 1 violations, 2 usage.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
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
from real_corpus.build_corpus import SETS

from phasewatch.cli import main as cli_main
from phasewatch.io import read_run

CORPUS = ROOT / "benchmarks" / "real_corpus"
REAL_LOGS = ROOT.parent / "shared" / "real_logs"
UP, DOWN = ("readaptation", "improvement"), ("disruption", "overfit")
SPARSE, FEW = 40, 12  # "on a run of more than 40 evaluations"; "a run of at most 12 evaluations"
STEP_COLUMNS = ("recommended_stop_step", "start_step", "end_step", "trough_step",
                "time_to_recover", "peak_step")


def series_list(sets, only=None) -> list[tuple]:
    """(set, id, path, metric[, direction]) of every series to audit: metric None = analyze's
    own choice; a corpus series has its labelled direction."""
    out = []
    for name in sets:
        manifest = {e["id"]: e for e in json.loads((CORPUS / SETS[name][0]).read_text())["logs"]}
        for label in json.loads((CORPUS / SETS[name][1]).read_text())["labels"]:
            path = CORPUS / "data" / label["id"] / Path(manifest[label["id"]]["path"]).name
            if path.exists():
                out.append((name, label["id"], str(path), label["metric"], label["direction"]))
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


def close(a, b, rel=1e-9) -> bool:
    """Equal to float rounding (`rel`); None equals only None."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


def levels(hb: np.ndarray) -> np.ndarray:
    """The data at each evaluation as decisions read them: "on dense runs, levels are 3-point
    medians throughout" (the mean of the two at each end), the values themselves up to 40."""
    if hb.size <= SPARSE:
        return hb
    med = np.array([np.median(hb[max(i - 1, 0):i + 2]) for i in range(hb.size)])
    med[0], med[-1] = hb[:2].mean(), hb[-2:].mean()
    return med


def best_at(hb: np.ndarray, lo: int, hi: int, k: int) -> bool:
    """Whether k is where "a trough or a peak sits on the lowest (highest) evaluation"; "on runs
    of more than 40 evaluations the turn is located on the median of each evaluation and its two
    neighbours ... and then put on the lowest (highest) of that evaluation and its two
    neighbours: the step printed holds the value printed" (rule 5), within hb[lo..hi]."""
    if hb.size <= SPARSE:
        return hb[k] >= hb[lo:hi + 1].max()
    med = levels(hb)[lo:hi + 1]
    return any(abs(k - t) <= 1 and hb[k] >= hb[max(lo, t - 1):min(hi, t + 1) + 1].max()
               for t in np.flatnonzero(med == med.max()) + lo)


def rule_best(hb: np.ndarray, lo: int, hi: int) -> int:
    """The index of hb[lo..hi]'s best evaluation by the rule of `best_at`."""
    if hb.size <= SPARSE:
        return lo + int(np.argmax(hb[lo:hi + 1]))
    t = lo + int(np.argmax(levels(hb)[lo:hi + 1]))
    return max(lo, t - 1) + int(np.argmax(hb[max(lo, t - 1):min(hi, t + 1) + 1]))


def check_run(r: dict, steps: np.ndarray, v: np.ndarray):
    """Yield (invariant, printed, data) per disagreement of the JSON run `r` with the analysed
    series (steps, values as logged, without the `outlier_steps`)."""
    hb, n, ph, sd = (1.0 if r["direction"] == "max" else -1.0) * v, v.size, r["phases"], r.get("noise_sd")
    idx = {int(s): i for i, s in enumerate(steps)}
    # "`baseline` is the observed start (the first evaluation ...) `± its uncertainty`, the noise sd"
    if not close(r["baseline"], v[0]):
        yield "baseline=first evaluation", r["baseline"], v[0]
    if not (close(r.get("baseline_se"), sd) or not sd and not r.get("baseline_se")):
        yield "baseline_se=noise sd", r.get("baseline_se"), sd
    # "`best_value` (the best evaluation analysed, as `inspect` gives it)"
    if not close(r.get("best_value"), v[int(np.argmax(hb))]):
        yield "best_value", r.get("best_value"), v[int(np.argmax(hb))]
    # "A run of at most 12 evaluations states how far its phases can be trusted"
    if ("confidence" in r) != (n <= FEW):
        yield "confidence present iff <= 12 evaluations", r.get("confidence"), n
    if not ph:
        return
    # "Phases are contiguous and cover the analysed range" (DESIGN.md)
    if (ph[0]["start_step"], ph[-1]["end_step"]) != (steps[0], steps[-1]):
        yield "tiling: first to last evaluation", (ph[0]["start_step"], ph[-1]["end_step"]), (steps[0], steps[-1])
    for a, b in itertools.pairwise(ph):
        if a["end_step"] != b["start_step"]:
            yield "tiling: contiguous", a["end_step"], b["start_step"]
    missing = [(k, p[k]) for p in ph for k in ("start_step", "end_step", "trough_step", "peak_step")
               if k in p and p[k] not in idx]
    for key, step in missing:
        yield f"{key} is an evaluated step", step, "not evaluated"
    if not missing:
        for check in (check_levels, check_effects, check_boundaries, check_stop, check_tier):
            yield from check(r, steps, v, hb, idx)


def check_levels(r, steps, v, hb, idx):
    """"a phase's start and end values are the data at its boundaries (at the run's end, on a
    run of more than 40 evaluations, the mean of the last two ...), `change` is end minus start
    as logged and `change_sd` the same in noise sds (same sign)"; a plateau's are "the medians of
    its first and last thirds, at least three evaluations each, halves below 6 evaluations",
    its `level` "the median of its evaluations"; `ends_averaged`: "the means of this many
    evaluations at each end" ("first and last quarters (at most 30 evaluations each)"); at a
    stage switch "the new stage starts from the last record before the switch"."""
    stages, sd, ph = {e["step"] for e in r.get("events", [])}, r.get("noise_sd"), r["phases"]

    def at(step):
        return v[idx[step] - 1] if step in stages and idx[step] else v[idx[step]]
    for k, p in enumerate(ph):
        tag, i0, i1 = f"{p['name']}@{p['start_step']}", idx[p["start_step"]], idx[p["end_step"]]
        start = v[0] if k == 0 else at(p["start_step"])
        end = at(p["end_step"]) if k < len(ph) - 1 else v[-2:].mean() if v.size > SPARSE else v[-1]
        held = v[i0:i1 + 1]
        if p["name"] == "plateau":
            m = max(held.size // 3, 3) if held.size >= 6 else max(held.size // 2, 1)
            start, end = np.median(held[:m]), np.median(held[-m:])
            if not close(p.get("level"), np.median(held)):
                yield f"plateau level=median ({tag})", p.get("level"), np.median(held)
        if "ends_averaged" in p:
            m = min(30, v.size // 4)
            start, end = v[:m].mean(), v[-m:].mean()
            if p["ends_averaged"] != m:
                yield "ends_averaged=quarter (<=30)", p["ends_averaged"], m
        for key, want in (("start_value", start), ("end_value", end),
                          ("change", p["end_value"] - p["start_value"]), ("n_points", i1 - i0 + 1),
                          ("slope_per_1k_steps", p["change"] / max(p["end_step"] - p["start_step"], 1) * 1e3)):
            if not close(p.get(key), want):
                yield f"{key} ({tag})", p.get(key), want
        for size, key in (("change_sd", "change"), ("depth_sd", "depth"), ("decline_sd", "decline_since_peak")):
            if p.get(size) is not None and not (sd and close(p[size] * sd, p.get(key), 1e-6)):
                yield f"{size}={key}/noise sd, same sign ({tag})", p[size], p.get(key)


def check_effects(r, steps, v, hb, idx):
    """Depth, gain and decline are "in higher-is-better terms ... (positive = that much worse /
    better)": a disruption's `depth` "below the baseline for a fall that starts the run, or below
    the level the fall started from", `time_to_recover` "steps until the data regain that
    level"; a rise's `gain_over_baseline` "the phase's best evaluation minus the baseline"; an
    overfit's `peak_step` "the best evaluation between its boundary's `low` and its start, for
    an overfit from the first evaluation within the segmentation's shortest segment (3
    evaluations up to 40, else max(5, 2%))", `decline_since_peak` from that peak."""
    sign, base = (1.0 if r["direction"] == "max" else -1.0), r["baseline"]
    cps = {c["step"]: c for c in r["changepoints"]}
    for k, p in enumerate(r["phases"]):
        tag, i0, i1 = f"{p['name']}@{p['start_step']}", idx[p["start_step"]], idx[p["end_step"]]
        if p["name"] == "disruption":
            ref = base if i0 == 0 else p["start_value"]
            back = np.flatnonzero(levels(hb)[i1 + 1:] >= sign * ref)
            ttr = int(steps[i1 + 1 + back[0]] - steps[i1]) if back.size else None
            for key, want in (("trough_step", p["end_step"]), ("depth", sign * (ref - p["end_value"])),
                              ("time_to_recover", ttr)):
                if not close(p.get(key), want):
                    yield f"{key} ({tag})", p.get(key), want
        elif p["name"] in UP and p.get("peak_step") in idx:
            top = idx[p["peak_step"]]
            # or "a rise's best is never below the evaluation it ends on": where its end, as
            # printed, is above that best, the higher of the evaluations it is read from
            end = sign * p["end_value"]
            at_end = top >= i1 - 1 and hb[top] == hb[i1 - 1:i1 + 1].max() >= end >= hb[rule_best(hb, i0, i1)]
            if not (i0 <= top <= i1 and (best_at(hb, i0, i1, top) or at_end)):
                yield f"rise peak_step=best in phase ({tag})", p["peak_step"], int(steps[rule_best(hb, i0, i1)])
            if hb[top] < sign * p["end_value"]:
                yield f"rise best >= its end ({tag})", v[top], p["end_value"]
            if not close(p.get("gain_over_baseline"), hb[top] - sign * base):
                yield f"gain_over_baseline ({tag})", p.get("gain_over_baseline"), hb[top] - sign * base
        elif p["name"] == "overfit" and p.get("peak_step") in idx:
            top, cp = idx[p["peak_step"]], cps.get(p["start_step"])
            if k == 0:
                lo, hi = i0, min(i0 + max(3 if hb.size <= SPARSE else 5, int(0.02 * hb.size)), i1)
            else:
                lo = min(max(idx[r["phases"][k - 1]["start_step"]], idx.get(cp["low"], i0) if cp else i0), i0)
                hi = i0
            # "... or its start where none is better"
            alone = top == i0 and levels(hb)[rule_best(hb, lo, hi)] <= levels(hb)[i0]
            if not (lo <= top <= hi and (best_at(hb, lo, hi, top) or alone)):
                yield f"overfit peak_step=best before start ({tag})", p["peak_step"], int(steps[rule_best(hb, lo, hi)])
            decline = sign * ((v[top] if top != i0 else p["start_value"]) - p["end_value"])
            if not close(p.get("decline_since_peak"), decline):
                yield f"decline_since_peak ({tag})", p.get("decline_since_peak"), decline


def check_boundaries(r, steps, v, hb, idx):
    """"`changepoints` (one per phase boundary)"; "A turn moves from where the lines put it only
    when the data there are lower (higher) by more than the noise sd; within the noise it stays
    on the lowest (highest) of its own evaluation and the two beside it"; an interval "always
    contains the extreme it brackets" (rules 5, 12)."""
    ph, cps, sd = r["phases"], r["changepoints"], r.get("noise_sd") or 0.0
    if [c["step"] for c in cps] != [p["start_step"] for p in ph[1:]]:
        yield "one change point per boundary", [c["step"] for c in cps], [p["start_step"] for p in ph[1:]]
        return
    for seg in [*cps, *r.get("segments", [])]:
        if not seg["low"] <= seg["step"] <= seg["high"]:
            yield "interval holds its step", seg, "-"
    for left, right, c in zip(ph, ph[1:], cps):
        if c["low"] not in idx or c["high"] not in idx:
            yield f"interval ends are evaluations ({c['step']})", (c["low"], c["high"]), "-"
        kind = "trough" if left["name"] in DOWN and right["name"] in UP else \
            "peak" if left["name"] in UP and right["name"] in DOWN else None
        if kind is None or c["step"] in {e["step"] for e in r.get("events", [])}:
            continue
        b, t = idx[c["step"]], 1.0 if kind == "peak" else -1.0
        near = t * hb[max(b - 1, 0):b + 2]
        if t * hb[b] < near.max() - sd:
            yield f"{kind} on the extreme of its neighbours ({c['step']})", c["step"], int(steps[max(b - 1, 0) + int(np.argmax(near))])
        for p in (left, right):
            s = p.get("peak_step" if kind == "peak" else "trough_step")
            if s is not None and not c["low"] <= s <= c["high"]:
                yield f"interval holds the {kind} ({c['step']})", (c["low"], c["high"]), s


def check_stop(r, steps, v, hb, idx):
    """`recommended_stop_step` (rule 11): "the peak an overfit starts from (the highest of them
    ...) unless the run rises again after its last overfit to above that point: then the best
    evaluation of that rise; otherwise the best evaluation"; `stop_beats_last` "absent when the
    recommended checkpoint is the last", true when "the run ends in an overfit or a disruption"."""
    stop, ph = r.get("recommended_stop_step"), r["phases"]
    if stop not in idx:
        yield "recommended stop is an evaluated step", stop, "not evaluated"
        return
    peaks = [idx[p["peak_step"]] for p in ph if p["name"] == "overfit" and p.get("peak_step") in idx]
    want = rule_best(hb, 0, hb.size - 1)
    if peaks:
        want = max(peaks, key=lambda i: (hb[i], -i))
        last = max(k for k, p in enumerate(ph) if p["name"] == "overfit")
        later = rule_best(hb, idx[ph[last]["end_step"]], hb.size - 1)
        if any(p["name"] in UP for p in ph[last + 1:]) and levels(hb)[later] > levels(hb)[want]:
            want = later
    if stop != steps[want] and (peaks or not best_at(hb, 0, hb.size - 1, idx[stop])):
        yield "recommended stop = documented best", stop, int(steps[want])
    beats = r.get("stop_beats_last")
    if (beats is None) != (stop == steps[-1] or not r.get("noise_sd")):
        yield "stop_beats_last present iff stop is not the last", beats, stop
    if ph[-1]["name"] in DOWN and stop != steps[-1] and beats is not True:
        yield "stop_beats_last after a final decline", beats, True


def check_tier(r, steps, v, hb, idx):
    """The confidence table: 3-5 evaluations "a monotone trend, Kendall p < 0.01" high, "p <
    0.05" moderate, else low; 6-12 "every named change at least 8 noise sds" high, else
    moderate from 9 evaluations, low below. The trend test's `tau` is "the rank correlation of
    the values as logged"."""
    test, n = r.get("trend_test"), v.size
    if test is not None:
        from scipy.stats import kendalltau
        if not close(test["tau"], kendalltau(steps, v).statistic, 1e-6):
            yield "trend_test tau of the values as logged", test["tau"], kendalltau(steps, v).statistic
    if "confidence" not in r or test is None and np.ptp(v) == 0 or n < 3:
        return
    if test is not None:
        want = "high" if test["p_value"] < 0.01 else "moderate" if test["p_value"] < 0.05 else "low"
    else:
        named = [abs(p.get("change_sd") or 0.0) for p in r["phases"] if p["name"] != "plateau"]
        want = "high" if named and min(named) >= 8 else "moderate" if n >= 9 else "low"
    if r["confidence"] != want:
        yield "confidence tier", r["confidence"], want


PHASE = re.compile(r"^  (\w+)\s+(\S+) -> (\S+)\s+(\S+) -> (\S+)\s+change (\S+)"
                   r"(?: \((\S+) sd\))?(?:  \(ends: means of \d+ evaluations each\))?(?:  (.*))?$")


def check_text(r: dict, text: str):
    """"Every value printed is read off the data, in the metric's own units and direction ...
    for a higher-is-better metric a trough is *below* the start and an overfit *below* its best;
    for a loss, *above*": the text's numbers are the JSON's rounded as printed (4 digits, sds to
    0.1), each effect's word the one its sign and the direction call for."""
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
    if len(lines) != len(r["phases"]):
        yield "text phase lines", len(lines), len(r["phases"])
    for m, p in zip(lines, r["phases"]):
        tag, tail = f"{p['name']}@{p['start_step']}", m[8] or ""
        for got, key, fmt in ((m[4], "start_value", ".4g"), (m[5], "end_value", ".4g"),
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
        if "peak_step" in p and p["name"] != "plateau" and f"({at(p['peak_step'], p.get('peak_x'))})" not in tail:
            yield f"text peak step ({tag})", tail, p["peak_step"]
        if p["name"] == "disruption":
            ttr, first = p.get("time_to_recover"), p["start_step"] == r["phases"][0]["start_step"]
            said = "not recovered" if ttr is None else "recovered after " + (
                at(ttr).split(" ", 1)[1] if not x else "")
            ref = "the start" if first else f"where it began ({at(p['start_step'], p.get('start_x'))})"
            if said not in tail or f"{ref}," not in tail and not x:
                yield f"text depth's reference and recovery ({tag})", tail, f"{ref}, {said}"
        if p["name"] == "plateau" and "level" in p and f"level {p['level']:.4g}" not in tail:
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
    # `stop_beats_last` false: "the last checkpoint is as good, and the text says so"
    if ("is as good within the noise" in text) != (r.get("stop_beats_last") is False):
        yield "text 'the last is as good' iff stop_beats_last false", "-", r.get("stop_beats_last")
    yield from check_words(r, text)


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
    for row, p in zip(rows, r["phases"] or [{}]):
        want = {**r, "phase": p.get("name"), **p, "step_unit": unit.partition("/")[0]}
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
