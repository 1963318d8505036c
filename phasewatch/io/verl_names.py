"""verl's scaled metric names: `train/lr(1e-3)` holds the learning rate x 1000.

verl's SFT trainer logs `"train/lr(1e-3)": lr * 1e3` (older versions `actor/lr(1e-4)` the same
way) so the console shows a readable number. The verl readers store it under the plain name
(`train/lr`) in the learning rate's own units, so it compares with every other run's `lr`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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
