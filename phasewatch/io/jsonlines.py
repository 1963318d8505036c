"""Shared line parsing for JSON-lines formats: tolerant of NaN/Infinity, reports bad lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError


def _constant(name: str) -> float:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def loads(text: str) -> Any:
    """json.loads that accepts the literal NaN / Infinity Python's json writes."""
    return json.loads(text, parse_constant=_constant)


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of non-blank lines; undecodable bytes become U+FFFD, not a crash."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            for lineno, text in enumerate(fh, start=1):
                text = text.strip()
                if text:
                    yield lineno, text
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from exc


def skipped_summary(bad_lines: list[int], total: int) -> str:
    shown = ", ".join(str(n) for n in bad_lines[:10])
    more = f" and {len(bad_lines) - 10} more" if len(bad_lines) > 10 else ""
    return f"skipped {len(bad_lines)} of {total} lines that are not valid JSON objects (lines {shown}{more})"
