"""One rule for turning a logged value into a number, used by every reader and the live monitor.

Logs hold numbers as JSON numbers, as strings ("0.5", "NaN", "Infinity": what some loggers write
for non-finite values), as bools, as numpy or torch scalars, and sometimes as integers too large
for a float. The offline table and the live monitor must see the same number for the same
logged value, or `analyze` and `watch` disagree about a run.
"""

from __future__ import annotations

import math
from typing import Any

MAX_NUMBER_TEXT = 40  # longer strings are text (a sample, a path), not numbers


def to_float(value: Any) -> float | None:
    """A log value as a float, or None when it is not a number.

    - bools are numbers (True -> 1.0, False -> 0.0): a flag logged per step is a 0/1 series;
    - integers beyond float range (valid JSON) become +-inf, never an error;
    - numeric strings are parsed after stripping whitespace ('0.5', ' 1e-3 ', 'NaN',
      'Infinity', '-inf'); other text, empty strings and strings longer than
      `MAX_NUMBER_TEXT` characters are not numbers;
    - numpy / torch scalars (anything with `__float__` that is not text) are converted;
    - None, lists, dicts and other objects are not numbers: they are left out rather than
      stored as NaN, so sparse keys stay sparse.
    """
    kind = type(value)
    if kind is float:
        return value
    if kind is int or kind is bool or isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > MAX_NUMBER_TEXT or "_" in text:
            return None  # float() would accept '1_000'; no logger writes numbers that way
        try:
            return float(text)
        except ValueError:
            return None
    if value is None or isinstance(value, (bytes, bytearray, list, tuple, dict, set)):
        return None
    convert = getattr(value, "__float__", None)
    if convert is None:
        return None
    try:
        return float(convert())
    except (TypeError, ValueError, OverflowError, RuntimeError):
        return None  # e.g. a torch tensor of several elements


__all__ = ["MAX_NUMBER_TEXT", "to_float"]
