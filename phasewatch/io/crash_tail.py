"""The Python error a console log ends with, for the message of a log with no record in it.

A run that crashes before its first logged step leaves a console log of its start-up (a verl
run's config printout, model loading, a sample or two) and a traceback: no reader finds a
record in it, and "unknown log format" alone reads as if phasewatch could not read verl (four
such logs in a reading of public repositories: verl runs out of GPU memory at their first
update, whose Ray workers failed to start, whose reward function raised NotImplementedError,
and a TRL GRPO script out of GPU memory at its first step, its traceback followed by wandb's
summary and two threads' broken pipes). The traceback's exception line says what happened;
`last_exception` finds it so the error can say it.

Python prints an uncaught exception as `Traceback (most recent call last):`, indented frame
lines, then the exception, unindented: `torch.OutOfMemoryError: CUDA out of memory. ...`, or a
bare name (`NotImplementedError`). Launchers prefix every line of a process alike (torchrun's
`[rank0]: `, Ray's `(main_task pid=2105103) `): the prefix the `Traceback` line has is taken
off the lines after it. The exception of the last traceback in the file's tail counts.
"""

from __future__ import annotations

import re
from pathlib import Path

TAIL_BYTES = 256 * 1024  # how much of the file's end is searched
TRACEBACK = "Traceback (most recent call last):"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# what ends a traceback: `Name: message` or a bare `Name`, the name dotted or not; Ray's
# `ray.exceptions.RayTaskError(OutOfMemoryError): ...` names the remote one in parentheses
EXCEPTION = re.compile(r"[A-Za-z_][\w.]*(?:\([\w.]+\))?(?::\s.*|:?)$")
SHOWN = 160  # characters of the exception's line quoted


def last_exception(path: Path) -> tuple[int, str] | None:
    """(line number, text) of the exception line of the last traceback in the tail of the file
    at `path`, cut to SHOWN characters; None when the tail holds no complete traceback."""
    try:
        start_byte = max(0, path.stat().st_size - TAIL_BYTES)
        with open(path, "rb") as fh:
            fh.seek(start_byte)
            tail = fh.read()
            lines_before = _count_lines(fh, start_byte)  # the tail's first line is the next
    except OSError:
        return None
    found = exception_in(tail.decode("utf-8", "replace"))
    if found is None:
        return None
    index, quoted = found
    return lines_before + index + 1, quoted


def exception_in(text: str) -> tuple[int, str] | None:
    """(line index, text) of the exception line of the last complete traceback in console
    `text`, cut to SHOWN characters; None when it holds none. Also what a W&B run file's
    captured console ends with (`wandb_console`)."""
    lines = [ANSI.sub("", line.rstrip("\r")) for line in text.split("\n")]
    starts = [i for i, line in enumerate(lines) if line.rstrip().endswith(TRACEBACK)]
    for start in reversed(starts):
        found = _exception_after(lines, start)
        if found is not None:
            quoted = lines[found][len(lines[start].rstrip()) - len(TRACEBACK):].rstrip()
            return found, (quoted if len(quoted) <= SHOWN else quoted[:SHOWN] + "...")
    return None


def _exception_after(lines: list[str], start: int) -> int | None:
    """The index of the exception line of the traceback whose first line is lines[start], or
    None: its first unindented line, when that is `Name: message` (indented lines are its
    frames, the code they quote and caret lines). Where indented lines follow it, the block
    goes on and a later exception line counts: the remote traceback Ray prints after its own
    exception line (`ray.exceptions.RayTaskError(AssertionError): ...`, then the worker's frames
    and its `AssertionError: ...`). What follows the last (`wandb: Find logs at: ...`) is no
    part of it, however like `Name: message` it reads."""
    prefix = lines[start].rstrip()[: -len(TRACEBACK)]
    found, indented = None, False
    for i in range(start + 1, len(lines)):
        text = lines[i][len(prefix):].rstrip() if lines[i].startswith(prefix) else ""
        if text[:1].isspace():
            indented = True
            continue
        if not (indented and EXCEPTION.match(text)):
            break
        found, indented = i, False
    return found


def _count_lines(fh, end: int) -> int:
    """Newlines in the file before byte `end`."""
    if end <= 0:
        return 0
    fh.seek(0)
    count, left = 0, end
    while left > 0:
        block = fh.read(min(left, 1 << 20))
        if not block:
            break
        count += block.count(b"\n")
        left -= len(block)
    return count


def python_error(path: Path) -> str | None:
    """'it ends with a Python error, line N: <its exception line>' for a file that ends with a
    traceback, else None: the one wording of every message that says so."""
    found = last_exception(path)
    return None if found is None else f"it ends with a Python error, line {found[0]}: {found[1]}"


def crash_hint(path: Path) -> str:
    """'' or what to add to "unknown log format" for a file that ends with a traceback: the
    error, and both readings of a file without a record, as the traceback alone cannot tell a
    run that crashed at start-up from one that logged its steps in a format no reader knows."""
    error = python_error(path)
    if error is None:
        return ""
    return (f"; {error} (a run that stopped before its first logged step leaves no curve to "
            "read; if it logged steps, they are in a format phasewatch does not read)")
