"""A line log's last line without its newline: a writer killed mid-line, a writer that puts
the newline before each row, not after it (Flair's `loss.tsv` until 0.12), or a line the follow
reads before its end is written.

In most formats a cut line does not parse and is a skipped line like any other, but in some it
still does: a CSV row '2000,0.6534' cut to '2000,0' reads as 0 (the overfit's decline was 4x the
real one), an icefall validation 'loss=0.1906' cut to 'loss=0.1' as 0.1. Yet a whole row that
only lacks its newline is a row (every Flair run's last epoch). Their readers
(`LineRecordSource.cut_line_may_parse`) read a finished file's last line when it looks whole
(`cut_reason`: laid out as a line read before it, its last value as long as theirs, or as short
as one its column has had), and leave
out one that does not, saying so with the text and how to keep it; a follow waits for the line's
end until the run ends, then judges it the same way. Apart from the line machinery because it
is what a reader says, not how lines are read.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path


def evidently_cut(text: str) -> bool:
    """Whether a line that lost its newline was cut inside a value: it ends in a number's
    prefix that no logger writes as a number ('0.', '1e', '1e-', '-'), or inside a quoted
    cell. ('0.5' cut from '0.512' is no number's prefix: `cut_reason` compares its length.)"""
    end = text.rstrip()
    return end.endswith((".", "e", "E", "e-", "E-", "e+", "E+", "-", "+")) \
        or end.count('"') % 2 == 1


# A number as a line prints one, NaN and infinity included (the sign, the point and the exponent
# are its own: a value cut inside them still matches, a shorter number)
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
                    r"|(?<![A-Za-z])[-+]?(?:nan|inf(?:inity)?)(?![A-Za-z])", re.IGNORECASE)
RECENT = 16  # record lines remembered to judge a last line by (`LineRecordSource`)
MID_VALUE = "it ends mid-value"


def cut_reason(text: str, before: Iterable[str],
               earlier: Callable[[], Iterable[str]] | None = None) -> str | None:
    """Why a finished file's last line, which has no newline, may be cut; None when it looks
    whole. `before`: the record lines read before it (the last `RECENT`); `earlier`: all the
    file's lines before it, read again only where those say its last value is short
    (`_had_as_short`). A cut line leaves a trace unless the writer stopped exactly at a
    value's end: it ends in a number's prefix (`evidently_cut`), it lacks items the lines like
    it have (laid out as none of them: a cut before the last cell), or its last number is
    shorter than each of theirs in the same place (fewer decimals, no exponent where they all
    have one, fewer digits where all are integers: '0' of '0.6534' in a column of 0.xxxx),
    and than every value its column has had in the file. With no record line before it, only
    the first test can tell. A value cut where it still looks like one ('0.65' of '0.6534'
    among values that have two decimals) is read: nothing in the file tells it apart."""
    if evidently_cut(text):
        return MID_VALUE
    before = list(before)
    if not before:
        return None
    layout = NUMBER.sub("#", text)
    alike = [line for line in before if NUMBER.sub("#", line) == layout]
    if not alike:
        return "it is not laid out as the lines before it: items missing at its end"
    end = text.rstrip()
    last = NUMBER.findall(end)
    if not last or not end.endswith(last[-1]):
        return None  # it ends in a word, which the layout compared
    theirs = [NUMBER.findall(line)[-1] for line in alike]
    if _shorter(last[-1], theirs) and not _had_as_short(last[-1], layout, earlier):
        return f"its last value, {last[-1]}, is shorter than each in its place before it"
    return None


def _had_as_short(value: str, layout: str, earlier: Callable[[], Iterable[str]] | None) -> bool:
    """Whether a line of the file laid out as the last (`layout`) ends in a value no longer
    than `value`: its column has had values this short, so its writer prints each number as
    short as it goes (Python's repr: '0.75' beside '0.7312345678901234', an accuracy of 3/4
    among others), and a last value that short is one it writes, not a cut ('20,0.75' was left
    out after rows of 16 decimals, though an earlier row held 0.5). The recent lines alone hold
    none so short; the file is read again only then, a last line without its newline being
    rare, and only up to the first such line."""
    if earlier is None:
        return False
    for line in earlier():
        if NUMBER.sub("#", line) == layout:
            other = NUMBER.findall(line)[-1].lstrip("+-")
            if (other[:1].isdigit() or other.startswith(".")) and not _shorter(value, [other]):
                return True  # (NaN and infinity, words, are compared with none)
    return False


def _shorter(value: str, others: list[str]) -> bool:
    """Whether the number `value` has fewer decimals than every one of `others`, no exponent
    where they all have one, or, all of them integers, fewer digits (NaN and infinity, words,
    are compared with none)."""
    def parts(number: str) -> tuple[str, str, bool] | None:
        unsigned = number.lstrip("+-")
        if not unsigned[:1].isdigit() and not unsigned.startswith("."):
            return None
        mantissa = re.split("[eE]", unsigned)[0]
        whole, point, decimals = mantissa.partition(".")
        return whole, point + decimals, mantissa != unsigned

    mine = parts(value)
    theirs = [found for other in others if (found := parts(other)) is not None]
    if mine is None or not theirs:
        return False
    whole, decimals, exponent = mine
    if not exponent and all(e for _, _, e in theirs):
        return True
    if len(decimals) < min(len(d) for _, d, _ in theirs):
        return True
    integers = not decimals and not any(d for _, d, _ in theirs)
    return integers and len(whole) < min(len(w) for w, _, _ in theirs)


def left_out(file: Path, text: str, why: str) -> str:
    """The warning for `file`'s last line `text`, left out: its text, why (`cut_reason`), and
    how to keep it."""
    shown = text if len(text) <= 60 else "\u2026" + text[-59:]
    return (f"{file.name} does not end with a newline: its last line, {shown!r}, was left out, "
            f"as a line cut by a writer killed mid-line ({why}); if the line is complete, "
            f"add its line end to read it (echo >> {shlex.quote(str(file))})")


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
