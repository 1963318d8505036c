"""Epoch boundaries from a log's fractional epoch column (`epoch`, HF's `train/epoch`).

Hugging Face's Trainer logs the epoch as a fraction with every row, whatever the log: its
trainer_state.json (`epoch`), its TensorBoard and W&B logs (`train/epoch`), a TRL callback's JSONL
(`epoch`). An epoch boundary is where its integer part goes up by one: the figures draw it, and
`inspect` lists it (a held-out loss that steps up at each new epoch is the model seeing its
training data again). Only the log's counter: no boundary is made where the log's steps are
epochs already (Keras), which would make every row one, nor from a counter that goes back while
the steps go on, which counts no passes of one run (`epoch_events`).
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Iterable, Mapping

import numpy as np

from phasewatch.run import Event

EPOCH_COLUMNS = ("epoch", "train/epoch")


def epoch_boundaries(epochs: Iterable[tuple[int, float]]) -> list[Event]:
    """`epoch_boundary` events where floor(epoch) increases by one between consecutive rows.

    The boundary step is interpolated linearly between the two rows (HF logs the epoch as a
    fraction, so epoch k starts where the fraction crosses k), or is k epochs of
    `whole_epoch_steps` where the log counts whole epochs. Where several epochs pass
    between two logged rows, the boundaries cannot show in the logged curves and none is made.
    The rows that end the log at one whole epoch count end the epoch before it: no epoch
    begins there (`_ended_at`).
    """
    events: list[Event] = []
    ordered = _ordered(epochs)
    period = whole_epoch_steps(ordered)
    ended = _ended_at(ordered)
    for (s0, e0), (s1, e1) in itertools.pairwise(ordered):
        if (s1, e1) >= ended:
            break  # the last rows end an epoch: no epoch begins there (trial 36b: a line at
            # the last step of a one-epoch run, drawn as an "epoch boundary")
        if s1 <= s0 or e1 <= e0:
            continue
        if math.floor(e1) - math.floor(e0) != 1:
            continue  # no boundary, or several between two rows: none is visible in the data
        k = math.floor(e1)
        step = k * period if period else round(s0 + (k - e0) / (e1 - e0) * (s1 - s0))
        events.append(Event(step=step, name="epoch_boundary", detail=f"epoch {k} begins"))
    return events


def whole_epoch_steps(ordered: list[tuple[int, float]]) -> int | None:
    """The steps an epoch takes, from a counter that says which epoch each row is in
    (Lightning's `epoch`: 0 on the rows of the first epoch, 1 on the second's), when the rows
    where it goes up by one agree on one: epoch k then begins at step k times it. Each such
    change says epoch k began after the row before it and by the row that has k, and Lightning
    logs an epoch's `*_epoch` metrics at its last step: trial 40d's metrics.csv has 0 at step
    19, 1 at 24, 2 at 44..., its epochs begin every 20 steps, where the first row carrying k
    (24, 44) was taken for them. The shortest length that fits every change is taken. None for
    a fractional counter (HF's: interpolated), for a count of epochs done logged once at each
    epoch's end (an HF log of evaluations only, `epoch` 1.0, 2.0...: an epoch begins at its
    row; not a counter that reads 0 past the first step, which is an index), for fewer than
    two changes, or changes that fit no one length."""
    if any(e != math.floor(e) for _, e in ordered):
        return None
    held = collections.Counter(e for _, e in ordered)
    # epoch 0 on a row after the first step is the epoch that row is in (no count of epochs
    # done reads 0 there), even when each epoch has one row: a Lightning CSVLogger of
    # validation rows only (csv-lightning-rlbem-valloss-50: 0 at step 12, 1 at 25, 2 at 38, 13
    # steps an epoch) had "epoch 1 begins" at 25 and each boundary an epoch late
    index = any(e == 0 and s > 0 for s, e in ordered)
    if not index and 2 * sum(n > 1 for n in held.values()) <= len(held):
        return None  # most values at one row each: a count at the epochs' ends
    changes = [(s0, s1, e1) for (s0, e0), (s1, e1) in itertools.pairwise(ordered)
               if s1 > s0 and e1 == e0 + 1 and e1 > 0]
    if len(changes) < 2:
        return None
    low = max(s0 / k for s0, _, k in changes)  # k epochs took more than s0 steps...
    high = min(s1 / k for _, s1, k in changes)  # ... and at most s1
    period = math.floor(low) + 1
    return period if period <= high else None


def _ended_at(ordered: list[tuple[int, float]]) -> tuple[float, float]:
    """The first of the rows that end the log at one whole epoch count K, where no epoch K
    begins (past every row when the last reads no whole count): the last row alone, or, on a
    fractional counter (HF's), every row that reads K to the end. HF logs the epoch rounded
    to two decimals, so the last steps of a run read K.00 before it ends (1497-1500 of
    tb-classical-chinese-lora-trainloss's 1500, 2 epochs of 750 steps), and "epoch 2 begins"
    was drawn and listed at step 1497. A counter of which epoch each row is in (Lightning's
    0, 1, 2 on every row of an epoch) has K on the rows of epoch K: its last row alone."""
    if not ordered or ordered[-1][1] != math.floor(ordered[-1][1]):
        return (math.inf, math.inf)
    first, end = len(ordered) - 1, ordered[-1][1]
    if any(e != math.floor(e) for _, e in ordered):
        while first > 0 and ordered[first - 1][1] == end:
            first -= 1
    return ordered[first]


def _ordered(epochs: Iterable[tuple[int, float]]) -> list[tuple[int, float]]:
    return sorted({(s, e) for s, e in epochs if math.isfinite(e)})


def epoch_events(columns: Mapping[str, tuple[np.ndarray, np.ndarray]], warnings: list[str],
                 switches: Iterable[int] = ()) -> list[Event]:
    """The epoch boundaries of the first of EPOCH_COLUMNS the log has, else [].

    A counter that goes back while the steps go on counts no passes over the training data:
    hf-whisper-tiny-nb's `epoch` falls 0.05 -> 0 at step 5050, 5.06 -> 0 at 52050 and 1.06 -> 0
    at 66050 (a streaming dataset's count, started again by each job), and its 10 boundaries
    were drawn and listed as epochs of one run (trial 40b). From such a counter no boundary is
    made, and `warnings` says so once. A joined run's stage switch (`switches`: the last SFT
    step) is no such fall: each stage counts its own epochs, and has its own boundaries; the
    row at the switch may be either stage's (RL's first record supersedes SFT's last there:
    sample_logs/trl/joined's epoch is 230 at step 690, RL's 0 at the switch, 700)."""
    name = next((name for name in EPOCH_COLUMNS if name in columns), None)
    if name is None:
        return []
    steps, values = columns[name]
    rows = _ordered(zip(np.asarray(steps).tolist(), np.asarray(values, dtype=np.float64).tolist()))
    cuts = sorted(set(switches))
    stretches = [[row for row in rows if _stage(row[0], cuts) == k] for k in range(len(cuts) + 1)]
    falls = [(a, b) for stretch in stretches for a, b in itertools.pairwise(stretch)
             if b[0] > a[0] and b[1] < a[1] and b[0] not in cuts]
    if falls:
        (s0, e0), (s1, e1) = falls[0]
        times = f"; {len(falls)} times in all" if len(falls) > 1 else ""
        warnings.append(f"the log's epoch ({name}) goes back while the steps go on ({e0:.4g} at "
                        f"step {s0}, {e1:.4g} at step {s1}{times}): it counts no passes over the "
                        "training data, so no epoch boundary is made from it")
        return []
    return [event for stretch in stretches for event in epoch_boundaries(stretch)]


def _stage(step: int, cuts: list[int]) -> int:
    """Which stage a row at `step` is in: a switch's own step is the earlier stage's."""
    return sum(step > cut for cut in cuts)
