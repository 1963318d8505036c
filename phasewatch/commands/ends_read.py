"""How a phase's printed start and end values were read, where they are not the evaluations at
its edges (means, medians of the level a plateau holds), said beside its line in `analyze`'s
text, with the change in standard errors of the difference between those levels."""

from __future__ import annotations

import math


def ends_read(stats: dict, reading: str = "evaluation") -> str:
    """How the start and end values printed were read where they are not the evaluations at
    the phase's edges, so a reader checking them against the log knows what to compare.
    `reading`: what one value is, "evaluation", or "reading" for a series scored on the
    training batches (`train_beside.is_train_metric`)."""
    values = f"{reading}s"
    if "ends_averaged" in stats:
        # the change is between two means: in their standard errors beside the sds of one
        # evaluation (trial 34b: "+1.6 sd" on a rise the whole-run test found significant)
        n = stats["ends_averaged"]
        se = between(stats.get("change_sd"), [("averaged", n), ("averaged", n)],
                     stats.get("window_logs", 1.0))
        return f"  (ends: means of {n} {values} each{_said(se)})"
    if "ends_medians" in stats:
        return f"  (ends: medians of {stats['ends_medians']} {values} each)"
    if "ends_means" in stats:  # a lattice's (`phase_stats.on_lattice`), said by its rule: the
        # distinct values can be many (a judge's reward on a grid of 1/144: 183 in 850 steps)
        return (f"  (ends: means of {stats['ends_means']} {values} each; its values repeat, "
                "a quarter of them or fewer distinct)")
    sides = [text.format(stats[key], values) for key, text in (
        ("start_averaged", "start: mean of the first {} {}"),
        ("start_held", "start: the level held before it, median of {} {}"),
        ("start_held_mean", "start: the level held before it, mean of {} {}"),
        ("end_averaged", "end: mean of the last {} {}"),
        ("end_held", "end: the level held after it, median of {} {}"),
        ("end_held_mean", "end: the level held after it, mean of {} {}")) if key in stats]
    if sides:
        sides[-1] += _said(change_se(stats))
    return f"  ({'; '.join(sides)})" if sides else ""


SE_FROM = 3  # evaluations an edge level is read from, at least on one side, to say the se


def _said(se: float | None) -> str:
    return "" if se is None else f"; the change is {se:+.1f} se"


def change_se(stats: dict) -> float | None:
    """A trend's change in standard errors of the difference between its edge levels, where
    one of them is a mean or median of SE_FROM or more evaluations: its sds of one evaluation
    then overstate how uncertain the change is (a verl batch score's rise from the mean of its
    first 30 steps to the median of the 202 its plateau holds printed "+0.5443 (+2.5 sd)",
    which reads as noise, for a change of 12 se). None otherwise."""
    reads = []
    for side in ("start", "end"):
        how = next((h for h in ("averaged", "held", "held_mean") if f"{side}_{h}" in stats), "")
        reads.append((how, int(stats[f"{side}_{how}"]) if how else 1))
    if max((n for how, n in reads if how), default=0) < SE_FROM:
        return None
    return between(stats.get("change_sd"), reads, stats.get("window_logs", 1.0))


def between(change_sd: float | None, reads: list[tuple[str, int]],
            window: float = 1.0) -> float | None:
    """`change_sd` (the change in sds of one evaluation) in standard errors of the difference
    between two levels read as `reads` says ((how, evaluations) each: `edge_variance`; a running
    mean's values share what they average `window` logs around, its phases' `window_logs`)."""
    from phasewatch.whole_run_trend import edge_variance  # numpy: not on the CLI's start path

    if change_sd is None:
        return None
    return change_sd / math.sqrt(sum(edge_variance(how, n, window) for how, n in reads))
