"""Shared line parsing for JSON-lines formats: tolerant of NaN/Infinity, reports bad lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError


def parse_constant(name: str) -> float:
    """The literal NaN / Infinity / -Infinity that Python's json writes (not strict JSON)."""
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


DECODER = json.JSONDecoder(parse_constant=parse_constant)


def loads(text: str) -> Any:
    """json.loads that accepts the literal NaN / Infinity Python's json writes.

    JSON nested deeper than Python's recursion limit is a ValueError like any other invalid
    line (the readers skip and report it), not a RecursionError that ends the program. A bad
    line's error names its column only: json's own "line 1 column 33" read as a contradiction
    beside the file's line number ("line 2; first: Expecting ',' delimiter: line 1 column 33")."""
    try:
        return DECODER.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to be a log record") from None
    except json.JSONDecodeError as exc:
        if "\n" in text or "\r" in text:  # a whole document: json's line and column stand
            raise
        raise ValueError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of non-blank lines, split at \\n, \\r\\n and a lone \\r and numbered
    by the newlines (`line_split`: the numbers `sed -n` and an editor show); undecodable bytes
    become U+FFFD, not a crash."""
    try:
        # utf-8-sig: a byte-order mark (Excel, some Windows tools) is not part of line 1.
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            lineno = 1
            for text in fh:
                ends_line = text.endswith("\n")
                text = text.strip()
                if text:
                    yield lineno, text
                lineno += ends_line
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from exc


def skipped_summary(bad_lines: list[int], total: int, first_reason: str = "") -> str:
    """'skipped 3 of 100 lines that are not valid records (lines 4, 9, 12; first: reason)'."""
    shown = ", ".join(str(n) for n in bad_lines[:10])
    more = f" and {len(bad_lines) - 10} more" if len(bad_lines) > 10 else ""
    why = f"; first: {first_reason}" if first_reason else ""
    label = "line" if len(bad_lines) == 1 else "lines"
    return (
        f"skipped {len(bad_lines)} of {total} lines that are not valid records "
        f"({label} {shown}{more}{why})"
    )


def head_lines(head: bytes, limit: int = 5) -> list[tuple[str, bool]]:
    """The first `limit` non-blank lines of `head`, stripped, each with whether it is complete
    (ends inside `head`)."""
    text = head.decode("utf-8-sig", errors="replace")
    out = []
    for raw in text.splitlines(keepends=True):
        if raw.strip():
            out.append((raw.strip(), raw.endswith(("\n", "\r"))))
            if len(out) >= limit:
                break
    return out


def first_line(head: bytes) -> tuple[str, bool] | None:
    """The first non-blank line of `head` and whether it is complete (ends inside `head`)."""
    lines = head_lines(head, limit=1)
    return lines[0] if lines else None


SNIFF_LINES = 20


def first_json_object(head: bytes, limit: int = SNIFF_LINES) -> dict | None:
    """The first of the first `limit` lines of `head` that is a JSON object; None if none is.

    Looking past line 1 lets a file that starts with a stray line (a banner, a damaged first
    record) still be recognised; the reader then reports that line. A first line longer than
    `head` cannot be checked; if it starts like an object it is given the benefit of the
    doubt (an empty dict), and the reader reports what is wrong.
    """
    for line, complete in head_lines(head, limit):
        if not line.startswith("{"):
            continue
        try:
            obj = loads(line)
        except ValueError:
            if not complete:
                return {}
            continue
        if isinstance(obj, dict):
            return obj
    return None


def read_json_object(path: Path, what: str) -> dict:
    """A whole-file JSON object (run.json, index.json); InputError naming the file and line."""
    from phasewatch.files import open_regular

    try:
        with open_regular(path) as fh:  # a FIFO is refused, not waited on
            obj = json.loads(fh.read().decode("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read: {exc}", path) from exc
    except json.JSONDecodeError as exc:
        from phasewatch.io.lfs import raise_if_lfs_pointer

        raise_if_lfs_pointer(path)
        raise InputError(f"invalid JSON: {exc.msg}", path, exc.lineno) from exc
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply", path) from None
    if not isinstance(obj, dict):
        raise InputError(f"{what} must hold a JSON object", path)
    return obj
