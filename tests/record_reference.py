"""The plain-Python reference of how one metric's records resolve (`resumes.surviving`), for
the property tests of every path a record can take."""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import pairwise

from phasewatch.resumes import MAX_RESUMES
from phasewatch.step_rows import SUMMARY_MIN_READINGS, SUMMARY_TOLERANCE


def resolved(records: Iterable[tuple[int, str, float]]) -> dict[str, dict[int, float]]:
    """{metric: {step: value}} of (step, metric, value) in file order: a record at step s
    drops its metric's earlier records from s on (a resumed run's abandoned branch), unless
    the metric's counter went back more than MAX_RESUMES times (several writers interleaved:
    the later record per step is kept). A metric whose steps repeat but never go back reads
    `_several_rows`."""
    per_metric: dict[str, list[tuple[int, float]]] = {}
    for step, name, value in records:
        per_metric.setdefault(name, []).append((step, value))
    out = {}
    for name, rows in per_metric.items():
        back = sum(b[0] < a[0] for a, b in pairwise(rows))
        if back == 0 and len({s for s, _ in rows}) < len(rows):
            out[name] = _several_rows(rows)
            continue
        kept: dict[int, float] = {}
        for step, value in rows:
            if back <= MAX_RESUMES:
                kept = {s: v for s, v in kept.items() if s < step}
            kept[step] = value
        out[name] = dict(sorted(kept.items()))
    return out


def collected(records: list[tuple[int, dict[str, float]]]) -> dict[str, dict[int, float]]:
    """{metric: {step: value}} of records (step, {metric: value}) in file order, as a log's
    records are collected: where the log's step counter went back to s at record r (the first
    record of a run of steps below the running maximum, or one below the record before it
    within such a run) and some metric's own counter went back to s, a resumed run, every
    metric's records before r from s on are dropped (unless there are more than MAX_RESUMES
    such points: several writers interleaved); then each metric resolves as `resolved` says."""
    steps = [step for step, _ in records]
    own_backs: set[tuple[int, int]] = set()
    last: dict[str, int] = {}
    for step, values in records:
        for name in values:
            if name in last and step < last[name]:
                own_backs.add((step, last[name]))
            last[name] = step
    found = []  # (step, went back from, record index)
    for r in range(1, len(steps)):
        top = max(steps[:r])
        was_back = steps[r - 1] < top
        if steps[r] < top and not was_back:
            found.append((steps[r], top, r))
        elif steps[r] < top and steps[r] < steps[r - 1]:  # back again within a backwards run
            found.append((steps[r], steps[r - 1], r))
    to = {step for step, _ in own_backs}
    kept = [f for f in found if f[0] in to]
    extra = [b for b in sorted(own_backs) if not any(lo <= b[0] <= hi for lo, hi, _ in kept)]
    cuts = [] if len(kept) + len(extra) > MAX_RESUMES else [(s, r) for s, _, r in kept]
    triplets = [(step, name, value) for r, (step, values) in enumerate(records)
                for name, value in values.items()
                if not any(r < at and step >= s for s, at in cuts)]
    return resolved(triplets)


def _several_rows(rows: list[tuple[int, float]]) -> dict[int, float]:
    """A metric's rows (file order, steps never going back, some repeated): a second row at
    the first step with several, where each step before had one, that is the mean of the
    finite readings before it (5 at least, within 1/1000 of their range) is left out; then
    the mean of each step's rows where every step of two or more has k >= 2 (the last at most
    k), else the later row."""
    by_step: dict[int, list[float]] = {}
    for step, value in rows:
        by_step.setdefault(step, []).append(value)
    steps = list(by_step)
    if len(by_step[steps[0]]) == 1:
        first_multi = next((s for s in steps if len(by_step[s]) > 1), None)
        if first_multi is not None:
            before = [v for s in steps[:steps.index(first_multi)] for v in by_step[s]]
            before.append(by_step[first_multi][0])
            before = [v for v in before if math.isfinite(v)]
            second = by_step[first_multi][1]
            if len(before) >= SUMMARY_MIN_READINGS and math.isfinite(second) \
                    and max(before) > min(before) and abs(second - sum(before) / len(before)) \
                    <= SUMMARY_TOLERANCE * (max(before) - min(before)):
                del by_step[first_multi][1]
    counts = [len(by_step[s]) for s in steps]
    k = counts[0]
    if len(steps) >= 2 and k >= 2 and all(c == k for c in counts[:-1]) and counts[-1] <= k:
        return {s: _mean(by_step[s]) for s in sorted(steps)}
    return {s: by_step[s][-1] for s in sorted(steps)}


def _mean(rows: list[float]) -> float:
    """The rows' mean, summed exactly (any order gives the same); +-inf beyond float range."""
    try:
        return math.fsum(rows) / len(rows)
    except OverflowError:
        return sum(rows) / len(rows)
