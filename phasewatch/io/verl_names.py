"""verl's scaled metric names: `train/lr(1e-3)` holds the learning rate x 1000.

verl's SFT trainer logs `"train/lr(1e-3)": lr * 1e3` (older versions `actor/lr(1e-4)` the same
way) so the console shows a readable number. The verl readers store it under the plain name
(`train/lr`) in the learning rate's own units, so it compares with every other run's `lr`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from phasewatch.records_sparse import Row
from phasewatch.values import to_float

_SCALED = re.compile(r"^(?P<name>.+?)\((?P<factor>1e-\d+)\)$")


def unscale(values: Mapping[str, Any]) -> dict[str, Any]:
    """`{"train/lr(1e-3)": 0.01}` -> `{"train/lr": 1e-05}`; other keys unchanged. A plain name
    logged in the same row wins (it is already in its own units)."""
    out = dict(values)
    for key in [k for k in values if k.endswith(")")]:
        match = _SCALED.match(key)
        if match is None:
            continue
        name = match.group("name")
        value = to_float(values[key])
        del out[key]
        if name in values:
            continue
        out[name] = None if value is None else value * float(match.group("factor"))
    return out


def unscale_row(names: list[str], values: np.ndarray) -> Row:
    """`unscale` for a record given as columns: the same rule, one pass over the names."""
    if ")" not in "".join(names):  # no scaled name: one C pass (a line of 5M items: 0.3 s, not 2.6)
        return Row(names, values)
    scaled = [i for i, name in enumerate(names) if name.endswith(")") and _SCALED.match(name)]
    if not scaled:
        return Row(names, values)
    present = set(names)
    drop = np.zeros(len(names), dtype=bool)
    values = values.copy()
    names = list(names)
    for i in scaled:
        match = _SCALED.match(names[i])
        name = match.group("name")
        if name in present:
            drop[i] = True  # the plain name logged in the same row wins
            continue
        names[i] = name
        values[i] *= float(match.group("factor"))
    if drop.any():
        names = [n for n, d in zip(names, drop.tolist()) if not d]
        values = values[~drop]
    return Row(names, values)
