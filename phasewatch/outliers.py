"""Outliers: evaluations the evaluations around them contradict (a failed eval, a glitch).

Used by `analyze` (left out and reported, `signals.prepare`) and by `changepoints` (replaced
before segmenting, `despiked`). A point is only an outlier when its neighbours say so: on a
sparse run the bottom of a dip sampled once or twice is data, not a glitch.
"""

from __future__ import annotations

import numpy as np

from phasewatch.noise import noise_scale


def spike_mask(values: np.ndarray, scale: float | np.ndarray, k: float = 6.0,
               steps: np.ndarray | None = None) -> np.ndarray:
    """Points that the points around them contradict: a failed evaluation, a logging glitch.

    One point, or two in a row, is flagged only when it has two neighbours on each side and lies
    more than `k` noise sds, and more than three times the four's largest residual, away from
    the least-squares line through those four (their scatter has no bound of its own: four
    neighbours that scatter widely only raise the bar, unlike the edge rules below), beyond both
    of its adjacent neighbours and more than `EDGE_AGREE` noise sds from each (`_stands_off`: a
    neighbour that reads it again confirms it; two in a row: both, on the same side, against
    the readings around the two), and the neighbours do not
    turn toward it by more than `k` noise sds and its gap to them (a fall into it and a rise out of it: the bottom
    of a V sampled at its turn, which a line through four points on its two arms fits loosely
    enough that the bottom lay past 3 times the spread in a quarter of steep dips), nor does the
    run resume past where it left it and go on back (a dip's cliff and its way back: `RAMP_SD`,
    `RAMP_SHARE`). So the
    bottom of a dip sampled once or twice on a sparse run or at its turn on a dense one, a point
    on a steep rise, and the first and last
    points (nothing on one side to contradict them) are data, while one or two absurd readings
    on a plateau or a trend are not; so are two of them one evaluation apart
    (`_pair_contradicted`; next to an end, where four neighbours are left, those must agree
    with one line within `EDGE_AGREE` noise sds). The second-to-last point has one neighbour
    after it: it is flagged (alone) only when that neighbour and the two before it agree with
    one line to within `EDGE_AGREE` noise sds, and it stands farther off the median of the
    three before it than that neighbour does: the last reading is data, and may be the failed
    one. The second point is one when it lies far outside the range of every other reading, or
    fails the same rule, lies outside that range and the run keeps moving its way after it or
    goes straight back to its first reading (`_second_contradicted`): a disruption sampled once
    right after the start is the shape these runs have (the edge rule alone cost a tenth of the
    boundaries on fast-saturating runs), a reading of 0 on a run that moves by a few hundredths
    is a failed evaluation. The one or two readings right after the two that set the start,
    where the new data or a warm-up first hits a run, are judged as the second is, by the range
    of the other readings (`_after_start_contradicted`), not by the rule for points or pairs
    alone.
    `steps` (default: positions) place the points for the line. `scale` is one noise sd for
    the whole run, or one per point (`local_scale`): each point, pair or block is judged
    against the largest of its own.
    """
    y = np.asarray(values, dtype=np.float64)
    mask = np.zeros(y.size, dtype=bool)
    sd = np.broadcast_to(np.asarray(scale, dtype=np.float64), y.shape)
    if y.size < 5 or not sd.min() > 0:
        return mask
    x = np.arange(y.size, dtype=np.float64) if steps is None else np.asarray(steps, dtype=np.float64)
    after_start = []  # widths of the flagged blocks that begin at the third reading
    for width in (1, 2):
        flagged = _contradicted(x, y, width, k * sd, EDGE_AGREE * sd)
        if flagged.size and flagged[0]:
            after_start.append(width)
            flagged[0] = False
        for j in range(width):
            mask[np.flatnonzero(flagged) + 2 + j] = True
    pairs = np.flatnonzero(_pair_contradicted(x, y, k * sd)) + 2
    mask[pairs] = mask[pairs + 2] = True
    if y.size >= 6:  # the same pair at either end: four neighbours, which must agree closely
        n = y.size
        for pair, others in (((1, 3), (0, 2, 4, 5)), ((n - 4, n - 2), (n - 6, n - 5, n - 3, n - 1))):
            here = float(sd[list(pair)].max())
            if _edge_contradicted(x, y, pair, others, k * here, EDGE_AGREE * here):
                mask[list(pair)] = True
    last = y.size - 2  # ... unless the last reading, which may be the failed one, stands
    # farther off the readings before the two than it does (a final empty episode logged 0
    # pulled the line of 0.475, 0.48, 0 down to 0.25 and left out the normal 0.666 before it)
    before = float(np.median(y[max(0, last - 3):last]))
    mask[last] |= abs(y[last] - before) > abs(y[last + 1] - before) and _edge_contradicted(
        x, y, last, (last - 2, last - 1, last + 1), k * sd[last], EDGE_AGREE * sd[last])
    for width in after_start:
        block = slice(2, 2 + width)
        if _after_start_contradicted(y, mask, width, k * float(sd[block].max()),
                                     EDGE_AGREE * float(sd[block].max())):
            mask[block] = True
    mask[1] |= _second_contradicted(x, y, mask, k * sd[1], EDGE_AGREE * sd[1])
    return mask


LOCAL_HALF = 10  # evaluations on each side of a point that its local noise is read from
LOCAL_RATIO = 3.0  # times the run's noise a stretch's own noise must exceed to replace it
REPEAT_SHARE = 0.25  # ... any larger one, from this share of exact repeats among the differences


def local_scale(values: np.ndarray, scale: float, half: int = LOCAL_HALF,
                turn_out: bool = False) -> np.ndarray:
    """Per point, `scale` (the run's noise), or where larger than `LOCAL_RATIO` times it (any
    larger on a run with `REPEAT_SHARE` exact repeats), the `noise.noise_scale` of the
    2 * `half` + 1 evaluations around the point (shifted inward at the ends, so every window is
    as long; the whole run when it is shorter): the noise of the part of the run it lies in.

    A run's noise need not be one size. A greedy accuracy on 500 fixed prompts reads the same
    value while RL has not yet changed the model (paper trial, rl_s2: 0.56 at 58 of its first
    60 evaluations), so 49% of the run's differences are exact zeros and its noise 0.0021,
    while its later readings scatter by 0.01-0.02 (0.712-0.75 around 0.73, local noise
    0.011-0.016): 9 ordinary readings, the best among them, lay over 6 of the run's noise sds
    off the line through their neighbours and were left out. Never below `scale`, so a quiet
    stretch is judged as before. Elsewhere only a stretch far noisier than the run: the noise
    of 20 differences scatters by a quarter of itself, and every local noise above the run's
    (or above twice it) cost boundaries on runs whose noise is one size (tuning seeds, second
    generator family: boundary hits 0.85 -> 0.84 with failed evaluations and 0.89 -> 0.88 with
    AR(1) noise; from 3 times, every regime as before but one disruption presence, 0.99 -> 0.98
    on dense runs). Exact repeats, a quarter of the differences or more, are what pulls the
    run's noise below its noisier part's (60 repeats, then a rise with noise 0.012 on a 0.002
    grid: a run noise of 0.0042 and 5 ordinary readings left out, 2.5-3.7 times below the
    rise's local noise); rates and lengths at a bound, and accuracies on 100-1000 prompts with
    repeats among their readings, read the same or better so (tuning seeds: bounded runs'
    boundary hits 0.88 -> 0.89, binomial runs unchanged).

    `turn_out`: each stretch's noise with its largest difference left out
    (`noise.differences_noise`'s `leave_out`), for a caller that guards against the turn itself
    (the figure's `plot.smoothing.held_to_points`). Where most differences are exact repeats
    the noise is their mean absolute size, which one cliff in the stretch sets: a validation
    accuracy at 32.4 for 4 evaluations and at exactly 3.6657 for the 31 after it (a YOLOv3 run
    that diverged, csv-lightning-yolov3-valacc-35) read a local noise of 1.3, three times the
    run's 0.47, all of it the fall, and the smoothed line drew 28 at the last 32.3 and 8 at
    the first 3.67. Outside that fallback the MAD already passes over one difference."""
    y = np.asarray(values, dtype=np.float64)
    width = 2 * half + 1
    if y.size <= width:
        return np.full(y.size, max(float(scale), noise_scale(y, turn_out=turn_out)))
    first = np.clip(np.arange(y.size) - half, 0, y.size - width)
    local = np.array([noise_scale(y[a:a + width], turn_out=turn_out)
                      for a in range(y.size - width + 1)])[first]
    repeats = float(np.mean(np.diff(y) == 0.0)) >= REPEAT_SHARE
    return np.where(local > (1.0 if repeats else LOCAL_RATIO) * float(scale), local, float(scale))


def _second_contradicted(x: np.ndarray, y: np.ndarray, mask: np.ndarray, floor: float,
                         agree: float) -> bool:
    """Whether y[1], the second point, is a failed evaluation: nothing else in the run comes
    near it, or it fails the edge rule against points 0, 2 and 3, lies beyond every other
    reading, and the run either does not turn at it or goes straight back to where it was.

    Nothing comes near it when it lies farther outside the range of the run's other readings
    (their outliers left out) than that range is wide, and more than `floor`: a disruption
    sampled once right after the start is no deeper below the rest of the run than the run's
    own rise or fall spans (on fast-saturating runs the dip and the recovery are of one size);
    a reading of 0 on a run that moves a few hundredths is not. Points 0, 2 and 3 need not fit
    one line here: before a rise that saturates at the first updates they do not (tuning seeds:
    two failed readings kept that way became disruptions of saturating runs).

    The run does not turn at it when points 0, 2 and 3 move steadily its way (falling, for a
    point below them) and it lies beyond every other reading of the run: the bottom of a dip
    is followed by a recovery, while here the evaluations after it keep falling toward it and
    it sits far past the line they fall along (a failed evaluation inside a disruption that is
    still under way; tuning seeds, runs with failed evaluations: 6 more of 906 failed readings
    left out; in the nine other regimes three readings more, each beyond every other reading
    of a steady run). A dip that recovers part of the way at the third evaluation and whose
    fourth reads a little lower by noise has the same shape and is read the same way (none of
    the one-evaluation dips at the second evaluation on the tuning seeds was).

    The run goes straight back when the third and fourth evaluations both read within
    `EDGE_AGREE` noise sds of the first: one reading far off a level the evaluations on both
    sides of it keep, the failed reading on a plateau that the interior rule finds with two
    neighbours a side (tuning seeds, runs with failed evaluations: 5 more of 906 failed
    readings left out, boundary hits 0.867 -> 0.878 in the first generator family; in the
    other regimes two readings more, a 0.962 on a rate pinned at 1.0 and a loss reading 6 sds
    off its level). A dip that recovers to the start at once and stays there reads the same;
    `start_dip` does not take such a one-evaluation trough for a dip either.
    """
    rest = np.delete(y[~mask], 1)  # mask[0] and mask[1] are never set before this
    outside = max(float(rest.min() - y[1]), float(y[1] - rest.max()))
    if _coming_back(y, mask, agree):
        return False
    if outside > max(floor, SECOND_OUTSIDE * float(np.ptp(rest))):
        return True
    low = y[1] < y[0]
    steady = bool(y[0] > y[2] > y[3]) if low else bool(y[0] < y[2] < y[3])
    back = max(abs(y[2] - y[0]), abs(y[3] - y[0])) <= agree  # straight back to the level
    return bool((steady or back) and outside > 0.0
                and _edge_contradicted(x, y, 1, (0, 2, 3), floor, agree))


def _after_start_contradicted(y: np.ndarray, mask: np.ndarray, width: int, floor: float,
                              agree: float) -> bool:
    """Whether y[2:2 + width], the first one or two readings after the two that set the start,
    which the readings around them contradict (`_contradicted`), are failed evaluations rather
    than a disruption sampled once or twice: judged as the second point is
    (`_second_contradicted`). They are when nothing else in the run comes near them (outside
    the range of the other readings by more than `SECOND_OUTSIDE` times its width and more
    than `floor`), or when they lie beyond every other reading and the run either keeps moving
    their way through them or goes straight back to its start after them (the next two
    readings within `agree` of the start's mean).

    Right after the start is where these runs fall when the new data or a warm-up's high
    learning rate first hits them, and a line through the start and the readings after the
    recovery fits such a fall's neighbours as well as a failed reading's: a YOLO detector's
    validation box loss, 2.469, 2.409, then 2.615, 2.684 in its warm-up epochs, 2.251, 2.189,
    ..., 1.993 (csv-yolo-crack-map-18), lost the pair as outliers and read as one improvement;
    the pair lies 0.45 widths of the run's other readings beyond them."""
    others = np.ones(y.size, dtype=bool)
    others[2:2 + width] = False
    rest = y[others & ~mask]
    block, start, after = y[2:2 + width], y[:2], y[2 + width:4 + width]
    low = bool(block[0] < start[1])
    outside = float(rest.min() - block.max()) if low else float(block.min() - rest.max())
    if outside > max(floor, SECOND_OUTSIDE * float(np.ptp(rest))):
        return True
    path = np.r_[start, after]
    steady = bool(np.all(np.diff(path) < 0)) if low else bool(np.all(np.diff(path) > 0))
    back = float(np.abs(after - start.mean()).max()) <= agree
    return (steady or back) and outside > 0.0


def _coming_back(y: np.ndarray, mask: np.ndarray, margin: float) -> bool:
    """Whether the third evaluation lies between the second and every other reading, beyond
    them all by more than `margin`: the run on its way back from the second, a dip's bottom
    sampled once with its recovery sampled after it, not a failed evaluation beside readings
    that agree (trial 35: a held-out loss 1.110, 1.496, 1.206, 1.155, ..., 1.120 lost its 1.496
    as an outlier, and the dip was printed a quarter as deep, one evaluation late)."""
    if y.size < 4 or mask[2]:
        return False
    others = np.r_[y[0], y[3:][~mask[3:]]]
    if y[1] > y[2]:
        return bool(y[2] - others.max() > margin)
    return bool(others.min() - y[2] > margin)


# noise sds: how closely the second-to-last point's neighbours must fit a line, and how far
# a point must stand off each adjacent reading to be an outlier (`_stands_off`)
EDGE_AGREE = 2.0
# How far past the reading before a block the reading after it must lie, away from the level
# (noise sds, and a share of the block's depth), for the block to be the cliff of a dip that
# recovers over evaluations (`_contradicted`; the run must also go on back from there by
# EDGE_AGREE noise sds: a rising run's 0.654, 0.698, 0.68, 0.678 in sample_logs/rl resumes past
# where it left by its trend alone, and stays). With no share, failed readings followed by one
# low reading were kept (tuning seeds, runs with failed evaluations, second family: false
# claims 0.03 -> 0.06 at 3 sds, 0.04 at 4); there the reading after lay at most 0.22 of the
# failed readings' depth past the one before, where an SB3 hexapod reward's first step back
# lay 0.31 (-44.72, then -94.61, -79.58, -60.31, -52.56, -34.58).
RAMP_SD = 4.0
RAMP_SHARE = 0.25
# How far outside the range of the run's other readings, in widths of that range, the second
# point must lie to be a failed evaluation. On the tuning seeds a dip sampled once right after
# the start lay up to 1.17 widths below the rest (fast-saturating runs, both families); failed
# evaluations there 0.5-7 widths, two thirds of them beyond 1.5.
SECOND_OUTSIDE = 1.5


def _stands_off(y: np.ndarray, j: int, agree: float) -> bool:
    """Whether y[j] lies more than `agree` (EDGE_AGREE noise sds) from each adjacent reading.
    One that reads it within that confirms it: a level the run moved to, held by two readings
    (a stair of a fast fall), not a glitch, which stands off both. A LoRA SFT loss falling
    0.74, 0.59, 0.2995, 0.3009, 0.19 had its 0.2995 left out as an outlier, marked so on the
    figure beside the 0.3009 at the same height: the line through 0.74, 0.59, 0.3009, 0.19
    passes 0.155 above it, 9 noise sds, and it was below both neighbours, by 0.0014 on one
    side. Two failed readings in a row are judged as a pair (width 2), against the readings
    around the two."""
    return bool(min(abs(y[j] - y[j - 1]), abs(y[j] - y[j + 1])) > agree)


def _edge_contradicted(x: np.ndarray, y: np.ndarray, i: int | tuple[int, ...],
                       others: tuple[int, ...], floor: float, agree: float) -> bool:
    """Whether y[i] (the second or second-to-last point; or each of two points one evaluation
    apart at an end, `i` a tuple) lies far beyond the line its nearest neighbours `others`
    agree on, on one side, and beyond both its adjacent neighbours."""
    nx, ny = x[list(others)], y[list(others)]
    slope, intercept = np.polyfit(nx, ny, 1)
    spread = float(np.abs(ny - (slope * nx + intercept)).max())
    if spread > agree:
        return False
    sides = set()
    for j in (i,) if isinstance(i, int) else i:
        off = float(y[j] - (slope * x[j] + intercept))
        beyond = y[j] > max(y[j - 1], y[j + 1]) if off > 0 else y[j] < min(y[j - 1], y[j + 1])
        if not (beyond and _stands_off(y, j, agree) and abs(off) > max(floor, 3.0 * spread)):
            return False
        sides.add(off > 0)
    return len(sides) == 1


def _contradicted(x: np.ndarray, y: np.ndarray, width: int, floor: np.ndarray,
                  agree: np.ndarray) -> np.ndarray:
    """For each block y[i:i+width] (i from 2), whether it lies beyond the line through its two
    neighbours on each side by more than `floor` and three times their largest residual (see
    `spike_mask`), and stands off both adjacent neighbours (`_stands_off`: more than `agree`,
    EDGE_AGREE noise sds)."""
    first = np.arange(2, y.size - width - 1)
    if first.size == 0:
        return np.zeros(0, dtype=bool)
    offsets = (-2, -1, width, width + 1)
    nx = np.stack([x[first + o] - x[first] for o in offsets])  # (4, m), relative to x[i]
    ny = np.stack([y[first + o] for o in offsets])
    mx, my = nx.mean(axis=0), ny.mean(axis=0)
    sxx = ((nx - mx) ** 2).sum(axis=0)
    slope = np.where(sxx > 0, ((nx - mx) * (ny - my)).sum(axis=0) / np.where(sxx > 0, sxx, 1), 0)
    spread = np.abs(ny - (my + slope * (nx - mx))).max(axis=0)
    floor = np.max([floor[first + j] for j in range(width)], axis=0)  # the block's largest
    limit = np.maximum(floor, 3.0 * spread)
    left, right = y[first - 1], y[first + width]
    # how far the neighbours themselves turn toward the block: a fall into it on the left and a
    # rise out of it on the right (for a low block) is the bottom of a V, data sampled at its
    # turn, however well one line fits its four neighbours. The turn must also exceed the
    # block's own gap to the nearer adjacent neighbour: a V's bottom continues an arm (its
    # slow side stays close), a failed reading stands off both (a spike 7-10 sds above two
    # neighbours at the level, one of them a high reading, is not a V's top)
    turn = (y[first + width + 1] - right) - (left - y[first - 2])
    gap = np.min([np.minimum(np.abs(y[first + j] - left), np.abs(y[first + j] - right))
                  for j in range(width)], axis=0)
    bar = np.maximum(floor, gap)
    above, below = turn > -bar, turn < bar
    stands_off = gap > np.max([agree[first + j] for j in range(width)], axis=0)  # `_stands_off`
    above, below = above & stands_off, below & stands_off
    # a cliff into the block and a ramp out of it: the run resumes past where it left, away
    # from the level, by RAMP_SD noise sds and a RAMP_SHARE of the block's depth, and goes on
    # back by more than EDGE_AGREE noise sds (a disruption that strikes at once and recovers
    # over evaluations; a failed reading leaves the run where it was, give or take its noise,
    # and a trend's next reading is past the last one before the block, then level with it)
    after = y[first + width + 1]
    block = np.stack([y[first + j] for j in range(width)])
    back = np.max([agree[first + j] for j in range(width)], axis=0)  # EDGE_AGREE noise sds
    resumed = RAMP_SD / EDGE_AGREE * back
    below = below & ~((left - right > np.maximum(resumed, RAMP_SHARE * (left - block.min(0))))
                      & (after - right > back))
    above = above & ~((right - left > np.maximum(resumed, RAMP_SHARE * (block.max(0) - left)))
                      & (right - after > back))
    for j in range(width):
        here = y[first + j]
        predicted = my + slope * (x[first + j] - x[first] - mx)
        above = above & (here > np.maximum(left, right)) & (here - predicted > limit)
        below = below & (here < np.minimum(left, right)) & (predicted - here > limit)
    return above | below


def _pair_contradicted(x: np.ndarray, y: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """For each a from 2, whether y[a] and y[a + 2] are two failed readings one evaluation
    apart: both lie beyond the least-squares line through the five points around them (a-2,
    a-1, a+1, a+3, a+4), on the same side, by more than `floor` and three times the five's
    largest residual, and beyond their adjacent neighbours. Each of the two is among the other's four
    neighbours in `_contradicted`, whose line it pulls away (on the tuning seeds' runs with
    failed evaluations, two zeros two evaluations apart were left in a rising run and read as a
    dip, or blew up its noise sd from 0.01 to 0.15). The evaluation between them sits on the
    line, so this is no V's bottom."""
    first = np.arange(2, y.size - 4)
    if first.size == 0:
        return np.zeros(0, dtype=bool)
    offsets = (-2, -1, 1, 3, 4)
    nx = np.stack([x[first + o] - x[first] for o in offsets])
    ny = np.stack([y[first + o] for o in offsets])
    mx, my = nx.mean(axis=0), ny.mean(axis=0)
    sxx = ((nx - mx) ** 2).sum(axis=0)
    slope = np.where(sxx > 0, ((nx - mx) * (ny - my)).sum(axis=0) / np.where(sxx > 0, sxx, 1), 0)
    floor = np.maximum(floor[first], floor[first + 2])  # the larger of the two readings'
    limit = np.maximum(floor, 3.0 * np.abs(ny - (my + slope * (nx - mx))).max(axis=0))
    above = below = np.ones(first.size, dtype=bool)
    for j in (0, 2):
        here = y[first + j]
        off = here - (my + slope * (x[first + j] - x[first] - mx))
        left, right = y[first + j - 1], y[first + j + 1]
        above = above & (off > limit) & (here > np.maximum(left, right))
        below = below & (-off > limit) & (here < np.minimum(left, right))
    return above | below


def despiked(values: np.ndarray) -> np.ndarray:
    """`values` with spikes (see `spike_mask`) replaced by their neighbours' median; indices
    stay where they are."""
    mask = spike_mask(values, noise_scale(values))
    if not mask.any():
        return values
    keep = ~mask
    return np.where(mask, np.interp(np.arange(values.size), np.flatnonzero(keep), values[keep]),
                    values)
