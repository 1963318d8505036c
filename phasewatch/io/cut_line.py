"""A line log's last line without its newline: a writer killed mid-line, or one the follow reads
before its end is written.

In most formats a cut line does not parse and is a skipped line like any other, but in some it
still does: a CSV row '2000,0.6534' cut to '2000,0' reads as 0 (the overfit's decline was 4x the
real one), an icefall validation 'loss=0.1906' cut to 'loss=0.1' as 0.1. Their readers
(`LineRecordSource.cut_line_may_parse`) leave such a line out, as `watch --follow` leaves a line
until its end is written, and say so with the text and how to keep it. Apart from the line
machinery because it is what a reader says, not how lines are read.
"""

from __future__ import annotations

import shlex
from pathlib import Path


def evidently_cut(text: str) -> bool:
    """Whether a line that lost its newline was cut inside a value: it ends in a number's
    prefix that no logger writes as a number ('0.', '1e', '1e-', '-'), or inside a quoted
    cell. ('0.5' cut from '0.512' cannot be told from a value: it is read, with a warning.)"""
    end = text.rstrip()
    return end.endswith((".", "e", "E", "e-", "E-", "e+", "E+", "-", "+")) \
        or end.count('"') % 2 == 1


def left_out(file: Path, text: str) -> str:
    """The warning for `file`'s last line `text`, left out: its text, why, and how to keep it."""
    shown = text if len(text) <= 60 else "\u2026" + text[-59:]
    why = ("it ends mid-value" if evidently_cut(text) else "a writer killed mid-line "
           "leaves a row that still parses, a value such as 0.6534 cut to 0")
    return (f"{file.name} does not end with a newline: its last line, {shown!r}, was left out, "
            f"as `watch --follow` leaves a line until its end is written ({why}); if the line "
            f"is complete, add its line end to read it (echo >> {shlex.quote(str(file))})")
