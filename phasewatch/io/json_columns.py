"""Rows of one key set turned into numpy columns, for the bulk JSON-lines reader
(`fastjson`): one C pass over the rows where every value is a number (`number_block`), else
one per key (`take_group`); and the columns of the records that went through the parser's own
`feed` (`line_columns`)."""

from __future__ import annotations

from itertools import chain
from operator import itemgetter

import numpy as np

from phasewatch.io.lines import as_step
from phasewatch.values import MAX_STEP, to_float

_NUMBER_TYPES = frozenset({int, float, type(None)})
_BLOCK_TYPES = frozenset({int, float, bool})  # what numpy converts as `to_float` does


def take_group(objects, keys, positions, step_key, parser, columns, numbers_only=False,
               not_a_number=None):
    """Columns of one key tuple; None if the rows need the line path (nested values).

    Returns (accepted positions, their steps); rows whose step is not an integer are left
    out of `accepted` and so go through `parser.feed`, which reports them. `not_a_number`
    (position, key, value) hears of each value that is not read as a number
    (`RecordCollector.not_a_number`).
    """
    rows = list(map(objects.__getitem__, positions.tolist()))
    raw_steps = list(map(itemgetter(step_key), rows))
    steps = None
    if set(map(type, raw_steps)) == {int}:
        try:
            steps = np.array(raw_steps, dtype=np.int64)
        except OverflowError:  # beyond int64: row by row below, where as_step rejects it
            steps = None
        else:
            ok = np.abs(steps) <= MAX_STEP  # out of range: left to `feed`, which reports it
    if steps is None:
        steps = np.zeros(len(positions), dtype=np.int64)
        ok = np.zeros(len(positions), dtype=bool)
        for i, raw in enumerate(raw_steps):
            try:
                steps[i] = as_step(raw)
                ok[i] = True
            except (ValueError, OverflowError):
                pass
    if not ok.all():
        positions, steps = positions[ok], steps[ok]
        rows = [row for row, keep in zip(rows, ok.tolist()) if keep]
    block = number_block(rows, len(keys), numbers_only)
    if block is not None:  # every value a number: one C pass, columns are its slices
        for j, key in enumerate(keys):
            if key != step_key and positions.size:
                columns.setdefault(key, []).append((positions, block[:, j].copy()))
        return positions, steps
    flattens = getattr(parser, "flattens_nested", False)
    expands_list = getattr(parser, "expands_list", None)  # a list it reads as named numbers
    pending = []
    for key in keys:
        if key == step_key:
            continue
        raw = list(map(itemgetter(key), rows))
        types = set(map(type, raw))
        values = None
        if types <= _NUMBER_TYPES:
            present = [i for i, v in enumerate(raw) if v is not None] if type(None) in types else None
            try:
                values = np.array(raw if present is None else [raw[i] for i in present],
                                  dtype=np.float64)
            except OverflowError:  # an integer beyond float range: the one rule (+-inf)
                values = None
        if values is None:
            if flattens and (dict in types or (
                    list in types and expands_list is not None and expands_list(key))):
                return None
            converted = [to_float(v) for v in raw]
            present = [i for i, v in enumerate(converted) if v is not None]
            if not_a_number is not None and len(present) < len(raw):
                for i, v in enumerate(converted):
                    if v is None:
                        not_a_number(int(positions[i]), key, raw[i])
            values = np.array([converted[i] for i in present], dtype=np.float64)
        where = positions if present is None else positions[np.asarray(present, dtype=np.int64)]
        if where.size:
            pending.append((key, where, values))
    for key, where, values in pending:
        columns.setdefault(key, []).append((where, values))
    return positions, steps


def number_block(rows: list[dict], width: int, numbers_only: bool = False) -> np.ndarray | None:
    """The rows' values as one (rows, keys) float array when every value is an int, a float
    or a bool (converted as `to_float` converts them); None otherwise (None, text, nested
    values, an integer beyond float range), for the column-by-column path. `numbers_only`:
    the block holds no text (`fastjson._read_block`), so the types need no check first (numpy would
    parse text, but refuses a nested value; it reads None as NaN, so a NaN sends the rows to
    the column path, which leaves a None out and keeps a NaN that `json` read from `NaN`).

    A group's rows share one key tuple, so their values come in the same order. Column by
    column this is ~5x slower: ten Python passes over the rows instead of one.
    """
    if not rows:
        return None
    if not numbers_only and not set(map(type, chain.from_iterable(map(dict.values, rows)))) \
            <= _BLOCK_TYPES:
        return None
    try:
        values = np.fromiter(chain.from_iterable(map(dict.values, rows)), dtype=np.float64,
                             count=len(rows) * width)
    except (OverflowError, TypeError, ValueError):  # beyond float range; nested (numbers_only)
        return None
    if numbers_only and np.isnan(values).any():
        return None  # a null among the values (or a NaN, which the column path keeps too)
    return values.reshape(len(rows), width)


def line_columns(line_records, record_of, not_a_number=None):
    """Per-key (record indices, values) of the records that came through `parser.feed`;
    `not_a_number` as `take_group`'s."""
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    collected: dict[str, tuple[list[int], list[float]]] = {}
    for position, (_, values) in sorted(line_records.items()):
        record = int(record_of[position])
        for key, raw in values.items():
            value = to_float(raw)
            if value is None:
                if not_a_number is not None:
                    not_a_number(position, key, raw)
                continue
            records, numbers = collected.setdefault(key, ([], []))
            records.append(record)
            numbers.append(value)
    for key, (records, numbers) in collected.items():
        out[key] = [(np.asarray(records, dtype=np.int64), np.asarray(numbers, dtype=np.float64))]
    return out
