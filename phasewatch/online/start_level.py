"""A live run's starting level, read from its first few values: the level the monitor measures
a disruption's fall and a rise's gain from, as `analyze` measures them from the first
evaluation."""

from __future__ import annotations

from itertools import pairwise, takewhile

# The gap between two groups of a run's first values, in multiples of the largest gap within
# them, that splits the start (`_first_group_run`): five values of white noise split so 8 times
# in 100,000 (groups of two or more), and at 10, 35 times as often
START_GROUPS_GAP = 30.0


def observed_start(first: list[float], white: float) -> tuple[float, int]:
    """The live starting level: the first value (the observed start, what `analyze` reads),
    averaged with the values right after it that stay within two noise sds of it, for a steadier
    reference (a run that moves from its first update keeps its first value alone; alerts say
    when it is a mean, `wording.starting_level`). Returns (level, values used).

    A value is no part of the start when every value after it lies further out on its side: it
    is on the way out of the start. The noise of a run's first few values is read from the same
    few, whose climb inflates it (0.013, 0.176, 0.458, 0.463, 0.480 read a noise sd that puts
    0.176 "within noise" of 0.013, and the starting level would be their mean)."""
    if _moved_after_first(first, white):
        return first[0], 1
    k, end = 1, _first_group_run(first)
    while (k < end and abs(first[k] - first[0]) <= 2.0 * white
           and not _on_the_way_out(first, k)):
        k += 1
    return sum(first[:k]) / k, k


def _first_group_run(first: list[float]) -> int:
    """How many values, from the first, stand in the first value's group when the first few
    values form two groups of two or more, each far tighter than the gap between them (the
    largest gap between the sorted values `START_GROUPS_GAP` times the largest other, which is
    not zero); else all of them.

    A dip of two evaluations among a run's first five inflates the noise read from those five
    (its two crossings are two of four differences), and its values passed as "within two noise
    sds" of the first: -0.480, then -1.363, -1.370, back to -0.464, -0.471 would have the
    starting level -0.8296, their mean, a level no evaluation showed, where `analyze` measures
    the dip from -0.480. A single odd value is no group (a quantised accuracy's one-item
    step, an outlier), nor are groups of tied values (their ties say nothing of the noise)."""
    order = sorted(range(len(first)), key=first.__getitem__)
    gaps = [first[b] - first[a] for a, b in pairwise(order)]
    if len(gaps) < 3:
        return len(first)
    cut = max(range(len(gaps)), key=gaps.__getitem__)
    others = max(g for i, g in enumerate(gaps) if i != cut)
    if not (2 <= cut + 1 <= len(first) - 2) or others <= 0.0 \
            or gaps[cut] < START_GROUPS_GAP * others:
        return len(first)
    group = set(order[:cut + 1]) if order.index(0) <= cut else set(order[cut + 1:])
    return next((k for k in range(len(first)) if k not in group), len(first))


def _moved_after_first(first: list[float], white: float) -> bool:
    """Whether the level moved between the first two evaluations and stayed moved: each value
    after the second, of those within two noise sds of the first (the values the start would
    average), is nearer the second than the first. The noise is read from these few values,
    the move included, so a move of one noise sd or two passes as scatter and its later level
    would be averaged into the start: a held-out reward of 193.4, then 203.4, 203.3, 203.4
    would have the starting level 200.8, where `analyze` reads 193.4, and a later fall to 176
    would be a disruption of a run `analyze` calls a plateau. The start is then the first
    value alone, `analyze`'s. On white noise the test holds for 12% of runs' first five values
    (17% with AR(1) noise at 0.5-0.8), whose start is then also the first value, with its wider
    standard error."""
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


def held_until_cliff(values: list[float], floor: float, min_values: int) -> int | None:
    """The index of the last value before a cliff, when the start held until it: the fall to
    the lowest of `values` (oriented higher-is-better, from the run's first) is mostly one fall
    between neighbouring values of `GROSS_SD` noise sds or more (`dip_checks.cliff_sds`), and
    the `min_values` or more values before that fall (a level's window at least) all stand at
    or above `floor` (not significantly below the starting level). Else None.

    A disruption's onset is where its level last stood at the starting level, a mean of the
    first values; the level, a window's median, can stand just below that mean from the first
    window on a flat start, so a run flat at 32.41, 32.33, 32.80, 32.27 (start 32.51) that then
    collapses to 3.67 would be dated from its first evaluation and told it may be an overfit
    from the start. Counting a level within the start's noise as at the start would instead
    date a steady decline's onset later and change the monitor's decisions on it: only the
    cliff, which no decline and no wander makes, moves the onset the alert says, and only to
    the evaluation before it; the decisions keep the level's onset."""
    import numpy as np

    from phasewatch.noise import GROSS_SD
    from phasewatch.online.dip_checks import cliff_sds

    y = np.asarray(values, dtype=np.float64)
    trough = int(np.argmin(y))
    if trough < min_values or cliff_sds(y, trough) < GROSS_SD:
        return None
    falls = np.diff(y[:trough + 1])
    at = int(np.argmin(falls))  # the cliff: from `at` to `at + 1`
    if falls[at] > (y[trough] - y[0]) / 2 or at + 1 < min_values or (y[:at + 1] < floor).any():
        return None  # (the cliff is not most of the fall; the start did not hold to it)
    return at


def held_until_fast_fall(values: list[float], floor: float, min_values: int) -> int | None:
    """The index of the last value at the start before the fall to the lowest of `values`
    (oriented higher-is-better), when the start held until it: a cliff (`held_until_cliff`),
    or else a descent of `min_values` falls between neighbouring values at most (a level's
    window: the level lags by as much) that ends at the lowest, after `min_values` or more
    values that held: each within two sds of a difference of their median (the noise read
    from the first differences outside the descent, `noise.differences_noise`) and at or
    above `floor` (not significantly below the starting level). The descent is most of the
    fall from the first value and `GROSS_SD` such sds or more deep below that median. Else
    None.

    Without it, a fall over two or three evaluations after a held start (0.501, 0.509, 0.506,
    0.491, then 0.415, 0.334, 0.313) is dated from the first evaluation, where `analyze` begins
    the disruption at the last value that held. A decline from the start has no start that
    held, and a steady one no window that is most of its fall: either keeps the onset the
    decisions measured."""
    import numpy as np

    from phasewatch.noise import GROSS_SD, differences_noise

    at = held_until_cliff(values, floor, min_values)
    if at is not None:
        return at
    y = np.asarray(values, dtype=np.float64)
    trough = at = int(np.argmin(y))
    while at > max(0, trough - min_values) and y[at - 1] > y[at]:
        at -= 1  # back to the top of the descent, a window at most
    rest = np.delete(np.diff(y), np.arange(at, trough))
    if at + 1 < min_values or rest.size < 2 or y[at] - y[trough] < (y[0] - y[trough]) / 2:
        return None
    sd = np.sqrt(2.0) * differences_noise(rest, float(np.ptp(y)))  # of a difference
    start = y[:at + 1]
    held = float(np.median(start))
    if sd <= 0.0 or (held - y[trough]) / sd < GROSS_SD or (np.abs(start - held) > 2.0 * sd).any() \
            or (start < floor).any():
        return None
    return at
