"""Bulk reading of flat JSON-lines logs: the same records as the line-by-line path, faster.

`read_lines` costs a few microseconds of Python per line and per value, which is ~15 s for a
1,000,000-line metrics.jsonl. Real logs of that size are flat objects with a handful of key
sets (every step; every step plus eval keys...). This path parses each line with orjson (or
json), groups the rows by their key tuple, and turns each key of each group into one numpy
column: the per-value work happens in C.

It gives exactly what `read_lines` gives (tests compare both on generated and fuzzed files):
any line it cannot take in bulk (not an object, NaN/Infinity literals, a non-integer step...)
is handed to the parser's own `feed`, in file order, and bad lines are reported the same way.
It only declines (returns False, having touched nothing) when the first line is such a line,
so the parser's first-record decisions (e.g. "no step key: number the rows") stay the same.

Parsers opt in with `step_key(keys) -> str | None` (the key that holds the step for rows with
these keys) and `flattens_nested` (True if nested objects become "a/b" keys; such rows are
left to the line path).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from phasewatch.errors import BAD_LINE_ERRORS
from phasewatch.io.blocks import BLOCK_BYTES, Block, blocks, nonblank_lines
from phasewatch.io.json_columns import line_columns, take_group
from phasewatch.io.lines import LineReport
from phasewatch.run import RecordCollector, to_float
from phasewatch.values import MAX_STEP

try:  # orjson parses ~3x faster than json; optional, json gives the same values.
    import orjson

    _fast_loads = orjson.loads
    _FastError: type[Exception] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - exercised where orjson is absent
    import json

    _fast_loads = json.loads
    _FastError = ValueError

# Grouping costs ~50 us per key set; past this many, and more than one per four lines (a log
# with a new metric name on every line), a block goes through the parser line by line.
MANY_KEY_SETS = 64



def _parse(line: bytes):
    try:
        return _fast_loads(line)
    except (_FastError, ValueError, TypeError, RecursionError):
        return None


def _parse_all(lines: list[bytes]) -> list:
    """Every line parsed (None for a line that is not JSON). One C-level map over the lines
    when they all parse (the usual case), else line by line."""
    try:
        return list(map(_fast_loads, lines))
    except (_FastError, ValueError, TypeError, RecursionError):
        return [_parse(line) for line in lines]


def _signatures(objects: list) -> tuple[np.ndarray, dict[tuple, int]]:
    """Per line the code of its key tuple (-1 for a line that is not an object), and the
    codes, numbered in order of first appearance (one hash of the key tuple per line:
    measured faster than C-level maps that hash it twice)."""
    ids: dict[tuple, int] = {}
    codes = np.array(
        [ids.setdefault(tuple(o), len(ids)) if type(o) is dict else -1 for o in objects],
        dtype=np.int64,
    )
    return codes, ids


def read_json_lines(
    path: Path, parser, collector: RecordCollector, what: str = "records",
    block_bytes: int = BLOCK_BYTES,
) -> bool:
    """Read `path` into `collector` in bulk; False (nothing read) if the line path must do it.

    The file is read block by block (cut at newlines); each block's records go into the
    collector as compact columns before the next block is parsed, in file order, so the
    result is the same as one pass over the whole file."""
    step_key_of = getattr(parser, "step_key", None)
    if step_key_of is None:
        return False
    with _no_gc():
        return _read_blocks(path, parser, collector, what, block_bytes)


@contextmanager
def _no_gc():
    """The cyclic garbage collector paused while a file is read in bulk. Every parsed row is
    a new dict, which counts towards the collector's allocation threshold although it holds
    only numbers (it is never tracked) and forms no cycle: a 100,000-line log set off ~140
    collections, full ones among them, that freed nothing (~30 ms of a 0.3 s read)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _read_blocks(path: Path, parser, collector: RecordCollector, what: str,
                 block_bytes: int) -> bool:
    """`read_json_lines` itself, with the collector paused."""
    report = LineReport()
    next_lineno, primed = 1, False
    for block in blocks(path, block_bytes):
        linenos, lines, count = nonblank_lines(block, next_lineno)
        next_lineno += count
        quotes = _quote_count(block)
        del block
        if not lines:
            continue
        if not _read_block(linenos, lines, parser, collector, report, primed, quotes):
            return False  # only possible for the first block: nothing was added yet
        primed = True
    report.finish(path, parser, collector, what)
    return True


#: `_quote_count` compares bytes in pieces of this size: a piece's comparison result is
#: reused memory, not a fresh array the size of the block.
QUOTE_PIECE = 1 << 16


def _quote_count(block: Block) -> int:
    """The block's `"` characters, or -1 if it has a backslash (see `_read_block`). Counted
    by numpy: `bytes.count` goes byte by byte, ~4x slower on a block of megabytes."""
    if b"\\" in block.data or b"\\" in block.rest:
        return -1
    codes = np.frombuffer(block.data, dtype=np.uint8)[:block.end]
    return block.rest.count(b'"') + sum(
        int(np.count_nonzero(codes[i:i + QUOTE_PIECE] == 34))  # ord('"')
        for i in range(0, codes.size, QUOTE_PIECE))


def _read_block(linenos, lines, parser, collector, report, primed: bool,
                quotes: int = -1) -> bool:
    """One block's lines into `collector`. Before the parser has seen a line (`primed`
    False) this declines (False, nothing added) as the whole-file path would; afterwards
    rows it cannot take in bulk go through `parser.feed`."""
    step_key_of = parser.step_key
    objects = _parse_all(lines)

    # Group the rows the bulk path can take by key tuple; the rest go to `parser.feed`.
    codes, signature_ids = _signatures(objects)
    n = len(lines)
    if len(signature_ids) > max(MANY_KEY_SETS, n // 4):  # grouping would cost more than it saves
        return _read_sparse_block(linenos, lines, objects, parser, collector, report, primed)
    bulk_step = np.full(n, -1, dtype=np.int64)
    in_bulk = np.zeros(n, dtype=bool)
    columns: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    # each key set's rows, in file order: one stable sort, not one scan of the block per key
    # set (a log with a new metric name per line has as many key sets as lines)
    by_code = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[by_code], np.arange(len(signature_ids) + 1))
    # Every `"` of the block a quote of an object's key (no backslash to escape one): then no
    # value anywhere is text, so the rows' values need no type check before numpy takes them
    # (a nested list or {} still makes numpy refuse; a null becomes NaN, see
    # `json_columns.number_block`).
    n_keys = sum(len(keys) * int(bounds[code + 1] - bounds[code])
                 for keys, code in signature_ids.items())
    numbers_only = quotes == 2 * n_keys

    def text(position: int, key: str, raw) -> None:  # a value that is no number, said
        collector.not_a_number(key, raw, int(linenos[position]))
    for keys, code in signature_ids.items():
        step_key = step_key_of(keys)
        if step_key is None:
            continue  # rows without a step go to `parser.feed`, which reports them
        positions = by_code[bounds[code]:bounds[code + 1]]
        taken = take_group(objects, keys, positions, step_key, parser, columns, numbers_only,
                           text)
        if taken is None:
            if not primed:
                return False
            continue  # nested rows after the first block: the parser flattens them
        accepted, steps = taken
        bulk_step[accepted] = steps
        in_bulk[accepted] = True
    if not primed and not in_bulk[0]:
        return False  # the parser decides its mode on the first record: let it see it
    del objects, codes

    # Lines the bulk path did not take, in file order, through the parser itself.
    report.total += n
    report.last_lineno = linenos[-1]
    if not primed:
        parser.feed(lines[0].decode("utf-8", errors="replace"), linenos[0])  # prime its state
    line_records: dict[int, tuple[int, dict]] = {}
    for position in np.flatnonzero(~in_bulk).tolist():
        records = _feed_line(parser, lines[position], linenos[position], report)
        if records:
            line_records[position] = records[0]

    # Records are the lines that gave one, in file order.
    is_record = in_bulk.copy()
    is_record[list(line_records)] = True
    record_of = np.cumsum(is_record) - 1
    record_positions = np.flatnonzero(is_record)
    steps = bulk_step[record_positions]
    for position, (step, _) in line_records.items():
        steps[record_of[position]] = int(step)
    record_lines = (np.arange(linenos.start, linenos.stop) if isinstance(linenos, range)
                    else np.asarray(linenos, dtype=np.int64))[record_positions]

    merged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    extra = line_columns(line_records, record_of, text)
    for key in columns.keys() | extra.keys():
        parts = [(record_of[pos], vals) for pos, vals in columns.get(key, [])]
        parts += extra.get(key, [])
        merged[key] = (
            np.concatenate([p[0] for p in parts]).astype(np.int32 if n < 2**31 else np.int64),
            np.concatenate([p[1] for p in parts]),
        )
    collector.add_columns(steps, record_lines, merged)
    return True


_ROW_TYPES = frozenset({int, float, bool, type(None)})


def _read_sparse_block(linenos, lines, objects, parser, collector, report, primed: bool) -> bool:
    """A block with a new key set every few lines (a log with a new metric name per line):
    each flat row of numbers is taken on its own into (name, record, value) triplets, which
    the collector stores without an array per metric; other rows go through `parser.feed`,
    in file order, as in `_read_block`. Declines (False) as `_read_block` does."""
    step_key_of = parser.step_key
    steps: list[int] = []
    record_lines: list[int] = []
    names: list[str] = []
    records: list[int] = []
    values: list = []
    report.total += len(lines)
    report.last_lineno = linenos[-1]
    for position, obj in enumerate(objects):
        if type(obj) is dict:
            key = step_key_of(obj)
            step = obj[key] if key is not None else None
            if type(step) is int and -MAX_STEP <= step <= MAX_STEP \
                    and set(map(type, obj.values())) <= _ROW_TYPES:
                if not primed:  # the parser decides its mode on the first record
                    parser.feed(lines[0].decode("utf-8", errors="replace"), linenos[0])
                    primed = True
                record = len(steps)
                steps.append(step)
                record_lines.append(linenos[position])
                for name, value in obj.items():
                    if value is not None and name != key:
                        names.append(name)
                        records.append(record)
                        values.append(value)
                continue
        if not primed:
            report.total -= len(lines)
            return False  # the first line is not one the bulk path takes: nothing was added
        lineno = linenos[position]
        for step, row in _feed_line(parser, lines[position], lineno, report):
            record = len(steps)
            steps.append(int(step))
            record_lines.append(lineno)
            for name, raw in row.items():
                value = to_float(raw)
                if value is not None:
                    names.append(name)
                    records.append(record)
                    values.append(value)
                else:
                    collector.not_a_number(name, raw, lineno)
    try:
        numbers = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float range: the one rule (+-inf)
        numbers = np.array([to_float(v) for v in values], dtype=np.float64)
    collector.add_triplets(np.array(steps, dtype=np.int64), np.array(record_lines, dtype=np.int64),
                           names, np.array(records, dtype=np.int64), numbers)
    return True


def _feed_line(parser, line: bytes, lineno: int, report: LineReport) -> list:
    """The record of a line the bulk path did not take, through the format's own parser ([]
    when it gives none, or the line is bad: counted in `report`)."""
    try:
        records = parser.feed(line.decode("utf-8", errors="replace").strip(), lineno)
    except BAD_LINE_ERRORS as exc:
        report.bad(lineno, str(exc), exc)
        return []
    if len(records) > 1:
        raise AssertionError("bulk JSON reading needs parsers that give one record per line")
    if records and not -MAX_STEP <= records[0][0] <= MAX_STEP:
        report.bad(lineno, "step out of range (more than 2**53)")
        return []
    return records
