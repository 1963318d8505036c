"""A live run's starting level, read from its first few values: the level the monitor measures
a disruption's fall and a rise's gain from, as `analyze` measures them from the first
evaluation."""

from __future__ import annotations

from itertools import takewhile


def observed_start(first: list[float], white: float) -> tuple[float, int]:
    """The live starting level: the first value (the observed start, what `analyze` reads),
    averaged with the values right after it that stay within two noise sds of it, for a steadier
    reference (a run that moves from its first update keeps its first value alone; alerts say
    when it is a mean, `wording.starting_level`). Returns (level, values used).

    A value is no part of the start when every value after it lies further out on its side: it
    is on the way out of the start. The noise of a run's first few values is read from the same
    few, whose climb inflates it (the verl GSM8K log: 0.013, 0.176, 0.458, 0.463, 0.480 read a
    noise sd that put 0.176 "within noise" of 0.013, and the starting level was their mean)."""
    if _moved_after_first(first, white):
        return first[0], 1
    k = 1
    while (k < len(first) and abs(first[k] - first[0]) <= 2.0 * white
           and not _on_the_way_out(first, k)):
        k += 1
    return sum(first[:k]) / k, k


def _moved_after_first(first: list[float], white: float) -> bool:
    """Whether the level moved between the first two evaluations and stayed moved: each value
    after the second, of those within two noise sds of the first (the values the start would
    average), is nearer the second than the first. The noise is read from these few values,
    the move included, so a move of one noise sd or two passed as scatter and its later level
    was averaged into the start: a held-out reward of 193.4, then 203.4, 203.3, 203.4 had the
    starting level 200.8, where `analyze` reads 193.4, and a fall to 176 was a live
    "disruption" (5.2 se below it) on a run `analyze` calls a plateau (tb-sb3-govworkflow-ppo);
    a held-out accuracy of 0.875, 0.898, 0.894, 0.907 had the start 0.887
    (hf-roberta-agnews-12ev). The start is then the first value alone, `analyze`'s. On white
    noise the test holds for 12% of runs' first five values (17% with AR(1) noise at 0.5-0.8),
    whose start is then also the first value, with its wider standard error."""
    if len(first) < 3 or first[1] == first[0]:
        return False
    block = list(takewhile(lambda v: abs(v - first[0]) <= 2.0 * white, first[1:]))
    later = block[1:]
    return bool(later) and all(abs(v - first[1]) < abs(v - first[0]) for v in later)


def _on_the_way_out(first: list[float], k: int) -> bool:
    """Whether `first[k]` moved away from `first[0]` and every later value moved further."""
    away = first[k] - first[0]
    later = first[k + 1:]
    return bool(later) and away != 0 and all((v - first[k]) * away > 0 for v in later)
