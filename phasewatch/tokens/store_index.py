"""The `index.json` of an expert log-prob store: parsed and validated into its dtype, token
count and sequences (sorted by offset, non-overlapping, inside `n_tokens`).

Kept apart from `phasewatch.tokens.store`, which lists and checks the step files and maps them:
the index is plain JSON with no numpy, and an index of hundreds of thousands of sequences needs
its own care for speed (`sequences_fast`, `collector_paused`).
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from phasewatch.errors import InputError
from phasewatch.io.jsonlines import read_json_object
from phasewatch.tokens.layout import DTYPES, INDEX_FILE, SPLITS

#: Read (with a warning) although the format allows only float16 / float32.
TOLERATED_DTYPES = ("float64",)


class SequenceInfo(NamedTuple):
    """One expert sequence: its tokens are `[offset, offset + length)` of every step array.
    (A named tuple: an index may hold hundreds of thousands, and these build twice as fast as
    frozen dataclasses.)"""

    id: str
    split: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


def parse_index(path: Path, warnings: list[str]) -> tuple[str, int, list[SequenceInfo]]:
    """(dtype name, n_tokens, sequences sorted by offset) of the index at `path`; problems that
    leave it usable are appended to `warnings`, others raise `InputError` naming the field."""
    with collector_paused():  # an index of 10^5-10^6 small objects: see collector_paused
        return validate_index(read_index(path), path, warnings)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the index is parsed and its sequences built.

    Those are hundreds of thousands of small objects that stay alive, with no cycles among them;
    every 700 allocations the collector would walk the ones made so far: opening a
    600,000-sequence store took 1.9 s with it running, 1.0 s paused (the first collection
    afterwards gives back ~0.15 s). Reference counting still frees garbage meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_index(path: Path) -> dict[str, Any]:
    return read_json_object(path, "the index")


def validate_index(index: dict, path: Path, warnings: list[str]):
    version = index.get("schema_version")
    if version is None:
        warnings.append(f"{INDEX_FILE}: no schema_version; read as version 1")
    elif version != 1:
        raise InputError(
            f"schema_version {version!r} is not supported (this phasewatch reads version 1); "
            "upgrade phasewatch", path,
        )
    dtype_name = index.get("dtype")
    if dtype_name not in DTYPES + TOLERATED_DTYPES:
        raise InputError(
            f"dtype must be one of {', '.join(DTYPES)}, got {dtype_name!r}", path
        )
    n_tokens = index.get("n_tokens")
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens <= 0:
        raise InputError(f"n_tokens must be a positive integer, got {n_tokens!r}", path)
    raw = index.get("sequences")
    if not isinstance(raw, list) or not raw:
        raise InputError("sequences must be a non-empty list of {id, split, offset, length}", path)
    sequences = sequences_fast(raw, n_tokens)
    if sequences is None:  # something is wrong: find it, entry by entry, and say which
        sequences = sequences_checked(raw, n_tokens, path)
    covered = sum(s.length for s in sequences)
    if covered < n_tokens:
        warnings.append(
            f"{INDEX_FILE}: {n_tokens - covered} of {n_tokens} tokens belong to no sequence; "
            "they are ignored"
        )
    return dtype_name, n_tokens, sequences


def sequences_fast(raw: list, n_tokens: int) -> list[SequenceInfo] | None:
    """The sequences sorted by offset, or None if any entry is malformed or they overlap.

    Validated column-wise (builtins over whole columns, no numpy): an index of 600,000
    sequences opens in a fraction of the time the entry-by-entry loop takes. Any failure falls
    back to `sequences_checked`, which names the first bad entry.
    """
    try:
        offsets = [seq["offset"] for seq in raw]
        lengths = [seq["length"] for seq in raw]
        splits = [seq["split"] for seq in raw]
        ids = [seq.get("id", i) for i, seq in enumerate(raw)]
    except (TypeError, KeyError, AttributeError):
        return None
    if not (all(type(v) is int for v in offsets) and all(type(v) is int for v in lengths)
            and all(split in SPLITS for split in splits)):
        return None
    ends = list(map(int.__add__, offsets, lengths))
    if min(offsets) < 0 or min(lengths) <= 0 or max(ends) > n_tokens:
        return None
    in_order = all(map(int.__le__, offsets, itertools.islice(offsets, 1, None)))
    order = range(len(offsets)) if in_order else sorted(range(len(offsets)), key=offsets.__getitem__)
    if any(ends[i] > offsets[j] for i, j in itertools.pairwise(order)):
        return None
    return [SequenceInfo(str(ids[i]), splits[i], offsets[i], lengths[i]) for i in order]


def sequences_checked(raw: list, n_tokens: int, path: Path) -> list[SequenceInfo]:
    """Entry by entry: raises an `InputError` naming the first malformed entry or overlap."""
    sequences = []
    for i, seq in enumerate(raw):
        if not isinstance(seq, dict):
            raise InputError(f"sequence {i} is not an object", path)
        offset, length, split = seq.get("offset"), seq.get("length"), seq.get("split")
        if not (_is_int(offset) and offset >= 0 and _is_int(length) and length > 0):
            raise InputError(
                f"sequence {i}: offset must be an integer >= 0 and length an integer > 0, "
                f"got offset={offset!r} length={length!r}", path,
            )
        if split not in SPLITS:
            raise InputError(f"sequence {i}: split must be one of {SPLITS}, got {split!r}", path)
        if offset + length > n_tokens:
            raise InputError(
                f"sequence {i} ({seq.get('id')!r}) covers tokens [{offset}, {offset + length}) "
                f"but n_tokens is {n_tokens}: the index disagrees with itself", path,
            )
        sequences.append(SequenceInfo(str(seq.get("id", i)), split, offset, length))
    sequences.sort(key=lambda s: s.offset)
    for prev, cur in itertools.pairwise(sequences):
        if cur.offset < prev.end:
            raise InputError(
                f"sequences {prev.id!r} [{prev.offset}, {prev.end}) and {cur.id!r} "
                f"[{cur.offset}, {cur.end}) overlap", path,
            )
    return sequences


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
