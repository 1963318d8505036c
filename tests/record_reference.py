"""The plain-Python reference of how one metric's records resolve (`resumes.surviving`), for
the property tests of every path a record can take."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from phasewatch.resumes import MAX_RESUMES


def resolved(records: Iterable[tuple[int, str, float]]) -> dict[str, dict[int, float]]:
    """{metric: {step: value}} of (step, metric, value) in file order: a record at step s
    drops its metric's earlier records from s on (a resumed run's abandoned branch), unless
    the metric's counter went back more than MAX_RESUMES times (several writers interleaved:
    the later record per step is kept)."""
    per_metric: dict[str, list[tuple[int, float]]] = {}
    for step, name, value in records:
        per_metric.setdefault(name, []).append((step, value))
    out = {}
    for name, rows in per_metric.items():
        back = sum(b[0] < a[0] for a, b in pairwise(rows))
        kept: dict[int, float] = {}
        for step, value in rows:
            if back <= MAX_RESUMES:
                kept = {s: v for s, v in kept.items() if s < step}
            kept[step] = value
        out[name] = dict(sorted(kept.items()))
    return out
