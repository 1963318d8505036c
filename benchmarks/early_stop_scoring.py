"""How `bench_early_stop.py` scores a method on a `Case`: where it stopped and the regret of
the checkpoint it recommends (`evaluate`, `from_trace` for a thresholded statistic's trace), the
detection / early / false / delay / regret summary over runs (`score`), and an optimistic bound
on the delay any z-test could reach (`oracle_delay`).
"""

from __future__ import annotations

import math

import numpy as np
from early_stop_baselines import stop_at
from early_stop_cases import Case

from phasewatch.noise import noise_scale


def evaluate(make, case: Case) -> dict:
    method = make(case)
    stop = None
    for step, metrics in case.records:
        method.update(step, metrics)
        if method.should_stop:
            stop = step
            break
    best = method.best_step
    clean = case.curve if case.direction == "max" else -case.curve
    span = float(clean.max() - clean.min()) or 1.0
    if best is None:
        idx = len(clean) - 1
    else:
        idx = min(int(np.searchsorted(case.curve_steps, best)), len(clean) - 1)
    regret = (float(clean.max()) - float(clean[idx])) / span
    return {"stop": stop, "best": best, "regret": regret}


def score(cases: list[Case], results: list[dict]) -> dict:
    over = [(c, r) for c, r in zip(cases, results) if c.onset is not None]
    clean = [(c, r) for c, r in zip(cases, results) if c.onset is None]
    detected = [(c, r) for c, r in over if r["stop"] is not None and r["stop"] >= c.onset]
    early = [(c, r) for c, r in over if r["stop"] is not None and r["stop"] < c.onset]
    false = [(c, r) for c, r in clean if r["stop"] is not None]
    delays = [(r["stop"] - c.onset) / (c.curve_steps[-1] - c.curve_steps[0]) for c, r in detected]
    return {
        "n": f"{len(over)}+{len(clean)}",
        "detection": len(detected) / max(len(over), 1),
        "early": len(early) / max(len(over), 1),
        "false": len(false) / max(len(clean), 1) if clean else float("nan"),
        "delay": float(np.median(delays)) if delays else float("nan"),
        "regret": 100 * float(np.mean([r["regret"] for _, r in over])) if over else float("nan"),
    }


def traced(detector_class, case: Case) -> list[tuple[int, float, int | None]]:
    """(step, statistic, best step) after each evaluation, with no threshold (for calibration)."""
    detector = detector_class(case.metric, case.direction, math.inf)
    out = []
    for step, metrics in case.records:
        n = len(detector.trace)
        detector.update(step, metrics)
        if len(detector.trace) > n:
            out.append((step, detector.trace[-1][1], detector.best_step))
    return out


def from_trace(case: Case, trace, threshold: float) -> dict:
    stop = stop_at([(st, x) for st, x, _ in trace], threshold)
    best = next((b for st, _, b in trace if st == stop), None) if stop is not None else (
        trace[-1][2] if trace else None)
    clean = case.curve if case.direction == "max" else -case.curve
    span = float(clean.max() - clean.min()) or 1.0
    idx = len(clean) - 1 if best is None else min(int(np.searchsorted(case.curve_steps, best)),
                                                   len(clean) - 1)
    return {"stop": stop, "best": best, "regret": (float(clean.max()) - float(clean[idx])) / span}


def oracle_delay(case: Case, reference: int = 45) -> dict[float, float]:
    """How soon a z-test could call a run's decline if it knew the true onset c and the level
    before it (the mean of `reference` evaluations), with white noise (no autocorrelation
    inflation) and no search over c: the first evaluation at which the ramp matched filter, or a
    step test, reaches z. An optimistic bound for any live method at that z."""
    sign = 1.0 if case.direction == "max" else -1.0
    pairs = [(s, sign * r[case.metric]) for s, r in case.records if case.metric in r]
    steps = np.array([s for s, _ in pairs])
    y = np.array([v for _, v in pairs])
    c = int(np.searchsorted(steps, case.onset))
    count = min(reference, c)
    level = y[c - count:c].mean()
    sigma = noise_scale(y)
    fall = level - y[c:]
    length = np.arange(1, fall.size + 1, dtype=np.float64)
    ramp = np.cumsum(length * fall) / (
        sigma * np.sqrt(length * (length + 1) * (2 * length + 1) / 6
                        + (length * (length + 1) / 2) ** 2 / count))
    step = np.cumsum(fall) / length / (sigma * np.sqrt(1 / length + 1 / count))
    best = np.maximum(ramp, step)
    span = steps[-1] - steps[0]
    out = {}
    for z in (4.0, 3.0):
        hit = np.flatnonzero(best >= z)
        out[z] = (steps[c + hit[0]] - case.onset) / span if hit.size else float("nan")
    return out
