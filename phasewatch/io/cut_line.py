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


# W&B's console capture, `files/output.log` in a run folder (written by wandb-core), keeps the
# first 4096 characters of a line, colour codes counted, and drops the rest unsaid (wandb
# 0.31: a verl step line of 300 items ends '... stage_177:0.' there, its score items gone).
WANDB_CONSOLE = "output.log"
WANDB_LINE = 4096
SEPARATORS = " \t-,|;"  # between a line's items: left at a cut item's end


class WandbCuts:
    """The lines of a W&B `output.log` that reach `WANDB_LINE` characters, cut by W&B: each
    read up to its last whole item (the last one W&B kept may be cut inside its value, '0.' of
    0.6534, and is left out with the name before a cut value), and said once for the file
    with its lines and what was lost. A line of exactly 4096 characters W&B did not cut looks
    the same, and loses its last item."""

    def __init__(self, file: Path) -> None:
        self.file = Path(file)
        self.on = self.file.name == WANDB_CONSOLE
        self.cut: list[tuple[int, str]] = []  # (line, its last item read)

    def whole(self, lineno: int, text: str | None) -> str | None:
        """`text` up to its last whole item where W&B cut it, else as it is."""
        if not self.on or text is None or len(text) != WANDB_LINE:
            return text
        kept = text[:text.rstrip().rfind(" ") + 1].rstrip(SEPARATORS)
        if kept.endswith((":", "=")):  # the name of a value W&B cut: 'lr: 1e-0'
            kept = kept[:kept.rfind(" ") + 1].rstrip(SEPARATORS)
        self.cut.append((lineno, kept.rsplit(None, 1)[-1] if kept.strip() else ""))
        return kept

    @property
    def notes(self) -> list[str]:
        if not self.cut:
            return []
        (first, after), n = self.cut[0], len(self.cut)
        lines = ", ".join(str(line) for line, _ in self.cut[:5]) + \
            (f" and {n - 5} more" if n > 5 else "")
        which = f"line {lines}: W&B cut this line" if n == 1 else \
            f"lines {lines}: W&B cut these {n} lines"
        folder = self.file.parent.parent if self.file.parent.name == "files" else None
        whole = next(iter(sorted(folder.glob("run-*.wandb"))), None) if folder else None
        # the run file keeps the console whole, but phasewatch reads its history there: what
        # the script logged with wandb.log (verl logs what it prints), not what it only printed
        where = (f"; {whole.name}, beside files/, holds whole every metric the run logged with "
                 "wandb.log: read it for those") if whole else ""
        note = (f"{self.file.name}, {which} at {WANDB_LINE} characters (its console capture "
                f"keeps no more of a line): the metrics after {after!r} on line {first} are "
                "lost, and each line's last item, which W&B may have cut inside its value, is "
                f"left out{where}")
        return [note]
