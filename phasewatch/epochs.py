"""Epoch boundaries from a log's fractional epoch column (`epoch`, HF's `train/epoch`).

Hugging Face's Trainer logs the epoch as a fraction with every row, whatever the log: its
trainer_state.json (`epoch`), its TensorBoard and W&B logs (`train/epoch`), a TRL callback's JSONL
(`epoch`). An epoch boundary is where its integer part goes up by one: the figures draw it, and
`inspect` lists it (a held-out loss that steps up at each new epoch is the model seeing its
training data again). Only the log's counter: no boundary is made where the log's steps are
epochs already (Keras), which would make every row one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping

import numpy as np

from phasewatch.run import Event

EPOCH_COLUMNS = ("epoch", "train/epoch")


def epoch_boundaries(epochs: Iterable[tuple[int, float]]) -> list[Event]:
    """`epoch_boundary` events where floor(epoch) increases by one between consecutive rows.

    The boundary step is interpolated linearly between the two rows (HF logs the epoch as a
    fraction, so epoch k starts where the fraction crosses k). Where several epochs pass
    between two logged rows, the boundaries cannot show in the logged curves and none is made.
    """
    events: list[Event] = []
    ordered = sorted({(s, e) for s, e in epochs if math.isfinite(e)})
    for (s0, e0), (s1, e1) in itertools.pairwise(ordered):
        if (s1, e1) == ordered[-1] and e1 == math.floor(e1):
            break  # the last row ends an epoch: no epoch begins there (trial 36b: a line at
            # the last step of a one-epoch run, drawn as an "epoch boundary")
        if s1 <= s0 or e1 <= e0:
            continue
        if math.floor(e1) - math.floor(e0) != 1:
            continue  # no boundary, or several between two rows: none is visible in the data
        k = math.floor(e1)
        step = round(s0 + (k - e0) / (e1 - e0) * (s1 - s0))
        events.append(Event(step=step, name="epoch_boundary", detail=f"epoch {k} begins"))
    return events


def epoch_events(columns: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[Event]:
    """The epoch boundaries of the first of EPOCH_COLUMNS the log has, else []."""
    for name in EPOCH_COLUMNS:
        if name in columns:
            steps, values = columns[name]
            return epoch_boundaries(zip(np.asarray(steps).tolist(),
                                        np.asarray(values, dtype=np.float64).tolist()))
    return []
