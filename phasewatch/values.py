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
MAX_VALUE = 1e150
# The smallest change of a metric taken as real, as a fraction of its magnitude: offline
# (`known_noise.constant_floor`) and live (`MonitorConfig.min_delta_rel`) alike.
PRACTICAL_CHANGE = 1e-3
"""The largest magnitude of a metric value that is analysed. The fits square values and sum the
squares, which overflow float64 beyond about 1e154, and no metric is that large: a 1.7e308 in a
log is a corrupted record. Such values stay in the run as logged (`inspect` shows them) and are
left out of the analysis and of the live monitor, as NaN and infinities are
(`abs(value) <= MAX_VALUE` is also False for those)."""
MAX_STEP = 2**53
"""The largest step magnitude a log may give. Steps are stored as int64 and compared with float
positions; beyond 2**53 a float no longer holds every integer, and no real run counts that far
(a step of 1e30 is a corrupted record, which must not become the run's last step)."""


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
        except OverflowError:  # an integer of 309+ digits: valid JSON, beyond float range
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


def to_step(value: Any) -> int:
    """A logged step as an int: an int, an integral float or a numeric string ('12', '12.0',
    '1e3'); ValueError for anything else, for NaN/inf and for |step| > MAX_STEP.

    The one step rule, so a hostile step (1e30, a 400-digit integer, NaN) is a rejected record
    with a reason in every reader, never an OverflowError deep in numpy.
    """
    if isinstance(value, bool):
        raise ValueError(f"step is not an integer: {value!r}")  # noqa: TRY004 - one error type
    if isinstance(value, int):
        step = value
    elif isinstance(value, float):
        if not value.is_integer():  # also NaN and +-inf
            raise ValueError(f"step is not an integer: {value!r}")
        if abs(value) > MAX_STEP:
            raise ValueError(f"step {value!r} is out of range (more than 2**53)")
        step = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_TEXT or "_" in text:
            raise ValueError(f"step is not an integer: {_short(value)}")
        if text.lstrip("+-").isdigit():
            step = int(text)
        else:
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"step is not an integer: {_short(value)}") from None
            return to_step(number)
    else:
        number = to_float(value)  # numpy / torch integer scalars
        if number is None:
            raise ValueError(f"step is not an integer: {_short(value)}")
        return to_step(number)
    if abs(step) > MAX_STEP:
        raise ValueError(f"step {_short(step)} is out of range (more than 2**53)")
    return step


def finite_float(text: str) -> float:
    """argparse type for a number option: 'nan', 'inf' and '1_000' are refused (a NaN
    threshold makes every comparison false: the monitor would never alert)."""
    number = to_float(text)
    if number is None or not math.isfinite(number):
        import argparse

        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return number


def _short(value: Any, limit: int = 40) -> str:
    """repr(value) cut to `limit` characters (a hostile value can be megabytes long)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["MAX_NUMBER_TEXT", "MAX_STEP", "finite_float", "to_float", "to_step"]
