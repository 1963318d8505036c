"""JSON documents whose metrics are `{step: value}` objects, e.g. `{split: {metric: {step: value}}}`.

Home-made loggers often keep a dict per metric keyed by the step and dump it whole:
`{"train": {"loss": {"0": 1.70, "1": 1.40, ...}, "accuracy": {"9": 0.09, "19": 0.13}},
"dev": {...}}`, and pandas' `DataFrame.to_json()` writes a table the same way (`{column:
{row index: value}}`). Such a document is one "record" to a reader that expects rows, with the
steps inside its metric names (`train/loss/0`, `train/loss/1`...). Read as maps, every object
(up to `MAX_DEPTH` levels down) whose keys are all integers and whose values are all numbers
(or null) is one metric, named by its path (`train/loss`), and each of its keys is a step.
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.values import to_step

MAX_DEPTH = 3
# The start of a large document whose first value, one to three objects down, is a step map.
STEP_MAP_START = re.compile(r'^\{\s*(?:"[^"\\]*"\s*:\s*\{\s*){1,3}"\d+"\s*:\s*'
                            r'(?:-?[\d.]|NaN|-?Infinity|null)')


def number_or_null(value: Any) -> bool:
    """A JSON number or null (a value a metric may hold; not a bool, which JSON keeps apart)."""
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _as_map(value: Any) -> dict[int, Any] | None:
    """`value` as {step: value} when it is a non-empty object of integer keys and number values."""
    if not isinstance(value, dict) or not value:
        return None
    steps: dict[int, Any] = {}
    for key, number in value.items():
        if not number_or_null(number):
            return None
        try:
            steps[to_step(key.strip())] = number
        except (ValueError, AttributeError):
            return None
    return steps


def step_maps(doc: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, dict[int, Any]]]:
    """(metric path, {step: value}) of every step map in `doc`, in document order; [] when the
    document has none with two steps or more (one number per metric is a summary, not a curve)."""
    found: list[tuple[str, dict[int, Any]]] = []
    if isinstance(doc, dict) and depth < MAX_DEPTH:
        for key, value in doc.items():
            name = f"{prefix}/{key}" if prefix else str(key)
            steps = _as_map(value)
            if steps is not None:
                found.append((name, steps))
            elif isinstance(value, dict):
                found.extend(step_maps(value, name, depth + 1))
    if depth == 0 and not any(len(steps) >= 2 for _, steps in found):
        return []
    return found


def records_of_maps(maps: list[tuple[str, dict[int, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """One (step, {metric: value}) per step any map holds, in step order."""
    by_step: dict[int, dict[str, Any]] = {}
    for name, steps in maps:
        for step, value in steps.items():
            by_step.setdefault(step, {})[name] = value
    return sorted(by_step.items())
