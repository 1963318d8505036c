"""The JSON numbers of `analyze` against the raw values (benchmarks/audit_numbers.py): the
starting level, the phases' tiling, values, changes and effect sizes, troughs and peaks, the
boundaries' intervals, the recommended stop and the confidence tier, each by the rule of
docs/detection.md quoted beside it."""

from __future__ import annotations

import itertools
import math

import numpy as np

UP, DOWN = ("readaptation", "improvement"), ("disruption", "overfit")
SPARSE, FEW = 40, 12  # "on a run of more than 40 evaluations"; "a run of at most 12 evaluations"


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


def averaged_peak(p: dict, idx: dict, n: int) -> tuple[int, int] | None:
    """The first and last index of an overfit's `peak_averaged` evaluations, or None."""
    if p["name"] != "overfit" or "peak_averaged" not in p or p.get("peak_step") not in idx:
        return None
    m = p["peak_averaged"]
    lo = min(max(idx[p["peak_step"]] - m // 2, 0), max(n - m, 0))
    return lo, min(lo + m, n) - 1


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
    # "`stop_value` (the evaluation at the recommended checkpoint: the comparison table's
    # `at stop`)"
    stop = r.get("recommended_stop_step")
    if stop in idx and not close(r.get("stop_value"), v[idx[stop]]):
        yield "stop_value", r.get("stop_value"), v[idx[stop]]
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


def _held(values: np.ndarray, plateau: np.ndarray | None = None) -> float:
    """"the medians ...; on a lattice, where the values take few distinct values (at most a
    quarter as many as there are, from 10 ...), means instead" (the plateau's values decide)."""
    plateau = values if plateau is None else plateau
    lattice = plateau.size >= 10 and np.unique(plateau).size <= plateau.size // 4
    return float(values.mean() if lattice else np.median(values))


def check_levels(r, steps, v, hb, idx):
    """"a phase's start and end values are the data at its boundaries (at the run's end, on a
    run of more than 40 evaluations, the mean of the last two ...), `change` is end minus start
    as logged and `change_sd` the same in noise sds (same sign)"; a plateau's are "the medians of
    its first and last thirds, at least three evaluations each, halves below 6 evaluations",
    its `level` "the median of its evaluations"; `ends_averaged`: "the means of this many
    evaluations at each end" ("first and last quarters (at most 30 evaluations each)"); at a
    stage switch "the new stage starts from the evaluation at the switch step ... or from the
    last record before the switch where none is at it"."""
    stages, sd, ph = {e["step"] for e in r.get("events", [])}, r.get("noise_sd"), r["phases"]

    def at(step):
        if step in idx:
            return v[idx[step]]
        before = [i for s, i in idx.items() if s < step]  # a switch with no record at it
        return v[max(before)] if step in stages and before else v[0]
    for k, p in enumerate(ph):
        tag, i0, i1 = f"{p['name']}@{p['start_step']}", idx[p["start_step"]], idx[p["end_step"]]
        start = v[0] if k == 0 else at(p["start_step"])
        end = at(p["end_step"]) if k < len(ph) - 1 else v[-2:].mean() if v.size > SPARSE else v[-1]
        held = v[i0:i1 + 1]
        if p["name"] == "plateau":
            m = max(held.size // 3, 3) if held.size >= 6 else max(held.size // 2, 1)
            start, end = _held(held[:m], held), _held(held[-m:], held)
            if not close(p.get("level"), _held(held)):
                yield f"plateau level=median (mean on a lattice) ({tag})", p.get("level"), _held(held)
        if "ends_averaged" in p:
            # "a quarter of the run, at most 30 evaluations, or a twentieth of a run of more
            # than 600" (detection.md, the whole-run trend)
            m = min(max(30, v.size // 20), v.size // 4)
            start, end = v[:m].mean(), v[-m:].mean()
            if p["ends_averaged"] != m:
                yield "ends_averaged=quarter (<=30; a twentieth past 600)", p["ends_averaged"], m
        # a trend placed between flat stretches (rule 6): "its edge at the run's start or end
        # is a mean of this many evaluations, its edge beside a plateau the median of this
        # many that the plateau holds there"
        if "start_averaged" in p:
            start = v[:p["start_averaged"]].mean()
        if "end_averaged" in p and p["end_averaged"] != 2:
            end = v[-p["end_averaged"]:].mean()
        if "start_held_mean" in p:
            p = {**p, "start_held": p["start_held_mean"]}
        if "end_held_mean" in p:
            p = {**p, "end_held": p["end_held_mean"]}
        if "start_held" in p:
            before = v[idx[ph[k - 1]["start_step"]]:i0 + 1]
            start = _held(before[-p["start_held"]:], before)
        if "end_held" in p:
            after = v[i1:idx[ph[k + 1]["end_step"]] + 1]
            end = _held(after[:p["end_held"]], after)
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
    overfit's `peak_step` "the best evaluation within its boundary's interval, from its `low`
    to its `high` but not past the overfit's end; for an overfit from the first evaluation
    within the segmentation's shortest segment (3 evaluations up to 40, else max(5, 2%))",
    `decline_since_peak` from that peak."""
    sign, base = (1.0 if r["direction"] == "max" else -1.0), r["baseline"]
    cps = {c["step"]: c for c in r["changepoints"]}
    for k, p in enumerate(r["phases"]):
        tag, i0, i1 = f"{p['name']}@{p['start_step']}", idx[p["start_step"]], idx[p["end_step"]]
        if p["name"] == "disruption":
            ref = base if i0 == 0 else p["start_value"]
            back = np.flatnonzero(levels(hb)[i1 + 1:] >= sign * ref)
            # "its end where a rise follows; a fall into a plateau (or the run's end) ... a lower
            # evaluation before it is the trough, as is an earlier one already at the floor's
            # level" (phase_stats)
            trough, low = p["end_step"], sign * p["end_value"]
            rise_follows = k + 1 < len(r["phases"]) and r["phases"][k + 1]["name"] in UP
            t = idx.get(p.get("trough_step"))
            if not rise_follows and t is not None and i0 < t < i1 and hb[t] <= low:
                trough, low = p["trough_step"], float(hb[t])
            # "to that trough": the trough's own evaluation where it is below the level the
            # phase ends on (a median of the evaluations held after the fall)
            low = min(low, float(hb[idx[trough]]))
            ttr = int(steps[i1 + 1 + back[0]] - trough) if back.size else None  # from the trough
            for key, want in (("trough_step", trough), ("depth", sign * ref - low),
                              ("time_to_recover", ttr)):
                if not close(p.get(key), want):
                    yield f"{key} ({tag})", p.get(key), want
        elif p["name"] in UP and "peak_averaged" in p:
            # "its best is the best mean of this many evaluations in a row, `peak_step` the
            # middle one"
            m = p["peak_averaged"]
            means = np.convolve(hb[i0:i1 + 1], np.ones(m) / m, mode="valid")
            top = int(np.argmax(means))
            if p["peak_step"] != int(steps[i0 + top + m // 2]):
                yield f"averaged best's middle step ({tag})", p["peak_step"], int(steps[i0 + top + m // 2])
            if not close(p.get("gain_over_baseline"), means[top] - sign * base, 1e-6):
                yield f"gain_over_baseline, averaged ({tag})", p.get("gain_over_baseline"), means[top] - sign * base
        elif p["name"] in UP and p.get("peak_step") in idx and {"ends_averaged", "start_averaged"} & set(p):
            # a stretch-decided rise whose best level is where it ends
            if p["peak_step"] != p["end_step"] or not close(
                    p.get("gain_over_baseline"), sign * (p["end_value"] - base), 1e-6):
                yield f"averaged rise best at its end ({tag})", (p["peak_step"], p.get("gain_over_baseline")), (p["end_step"], sign * (p["end_value"] - base))
        elif p["name"] in UP and p.get("peak_step") in idx:
            top = idx[p["peak_step"]]
            # or "a rise's best is never below the evaluation it ends on": where its end, as
            # printed, is above that best, the higher of the evaluations it is read from
            end = sign * p["end_value"]
            at_end = top >= i1 - 1 and hb[top] == hb[i1 - 1:i1 + 1].max() >= end >= hb[rule_best(hb, i0, i1)]
            if not (i0 <= top <= i1 and (best_at(hb, i0, i1, top) or at_end)):
                yield f"rise peak_step=best in phase ({tag})", p["peak_step"], int(steps[rule_best(hb, i0, i1)])
            # (an end that is the level the plateau after it holds may be above every reading)
            if hb[top] < sign * p["end_value"] and not {"end_held", "end_held_mean"} & set(p):
                yield f"rise best >= its end ({tag})", v[top], p["end_value"]
            if not close(p.get("gain_over_baseline"), hb[top] - sign * base):
                yield f"gain_over_baseline ({tag})", p.get("gain_over_baseline"), hb[top] - sign * base
        elif p["name"] == "overfit" and p.get("peak_step") in idx:
            top, cp = idx[p["peak_step"]], cps.get(p["start_step"])
            if k == 0:
                lo, hi = i0, min(i0 + max(3 if hb.size <= SPARSE else 5, int(0.02 * hb.size)), i1)
            elif r["phases"][k - 1]["name"] == "plateau":  # the whole plateau is before it
                lo, hi = idx[r["phases"][k - 1]["start_step"]], i0
            else:  # the start's whole interval, not past the overfit's end
                lo = min(max(idx[r["phases"][k - 1]["start_step"]], idx.get(cp["low"], i0) if cp else i0), i0)
                hi = max(min(int(np.searchsorted(steps, cp["high"])), i1), i0) if cp else i0
            window = averaged_peak(p, idx, hb.size)
            if window is not None:
                # "for an overfit, the mean of this many around the evaluation it declines
                # from, `peak_step` their middle one": that evaluation is its start's best
                top = window[0] + int(np.argmax(hb[window[0]:window[1] + 1]))
            # "... or its start where none is better"
            alone = top == i0 and levels(hb)[rule_best(hb, lo, hi)] <= levels(hb)[i0]
            if not (lo <= top <= hi and (best_at(hb, lo, hi, top) or alone)):
                yield f"overfit peak_step=best in its start's interval ({tag})", p["peak_step"], int(steps[rule_best(hb, lo, hi)])
            decline = sign * ((v[top] if top != i0 else p["start_value"]) - p["end_value"])
            if window is not None:
                decline = float(np.mean(hb[window[0]:window[1] + 1])) - sign * p["end_value"]
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
    evaluation of that rise; otherwise the best evaluation", "on a rise decided from the run's
    stretches the best evaluation of that best stretch"; `stop_beats_last` "absent when the
    recommended checkpoint is the last", true when "the run ends in an overfit or a disruption"."""
    stop, ph = r.get("recommended_stop_step"), r["phases"]
    if stop not in idx:
        yield "recommended stop is an evaluated step", stop, "not evaluated"
        return
    peaks = []
    for p in ph:
        if p["name"] == "overfit" and p.get("peak_step") in idx:
            window = averaged_peak(p, idx, hb.size)  # the best evaluation of the averaged peak
            peaks.append(idx[p["peak_step"]] if window is None
                         else window[0] + int(np.argmax(hb[window[0]:window[1] + 1])))
    lo, hi = 0, hb.size - 1
    for p in ph:
        if p["name"] in UP and "peak_averaged" in p and p.get("peak_step") in idx:
            k = p["peak_averaged"]
            lo = max(0, idx[p["peak_step"]] - k // 2)
            hi = min(hb.size - 1, lo + k - 1)
            break
    want = rule_best(hb, lo, hi)
    if peaks:
        want = max(peaks, key=lambda i: (hb[i], -i))
        last = max(k for k, p in enumerate(ph) if p["name"] == "overfit")
        later = rule_best(hb, idx[ph[last]["end_step"]], hb.size - 1)
        if any(p["name"] in UP for p in ph[last + 1:]) and levels(hb)[later] > levels(hb)[want]:
            want = later
    if stop != steps[want] and (peaks or not best_at(hb, lo, hi, idx[stop])):
        yield "recommended stop = documented best", stop, int(steps[want])
    beats = r.get("stop_beats_last")
    # without a noise sd (3-4 evaluations) only a decline the phases called ranks the stop
    final_decline = ph[-1]["name"] in DOWN and stop != steps[-1]
    if (beats is None) != (stop == steps[-1] or (r.get("noise_sd") is None and not final_decline)):
        yield "stop_beats_last present iff stop is not the last", beats, stop
    if final_decline and beats is not True:
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
    # "Where the noise sd a run of 6-12 evaluations gives is below the step its values move in
    # ... confidence low"
    if any("below the step its values move in" in w for w in r.get("warnings", [])):
        want = "low"
    if r["confidence"] != want:
        yield "confidence tier", r["confidence"], want
