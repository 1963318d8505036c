"""A followed file read again from its top after a truncation or a whole rewrite: the records
that repeat those already read from it are not given again.

Lightning's CSVLogger (`_ExperimentWriter.save`) rewrites the whole metrics.csv, under the new
header, each time a metric it has not logged before appears (a new column), then appends the
new rows. A follow read the file again from its top each time: on trial 40's run (Lightning
2.6.6) it said "was truncated; reading it again from its start" twice, the monitor saw step 0
again ("step counter went back from 19 to 0; treated as a resumed run", and "2 rows with
different values at step 0" of a file with one row there), and the watch counted 148 records
where a replay of the final file counts 141. The rows of such a rewrite are the records read
(same steps and values; an empty cell of a column added since is no value), so while they
match, in order, the records the file gave before, they are held; once as many have matched,
they are dropped without a word and the records after them are new. A rewrite that differs
(a resumed run's logger reopened with "w", another run's lines) is read as before: the
truncation is said and its records come from its top, the held ones first; so is one that
holds fewer records than were read, once the log is final. (HF's `trainer_state.json`,
rewritten whole at each checkpoint, is compared with the rows read as well:
`io.trainer_state`.)

A record is remembered by a 64-bit fingerprint (8 bytes a record: a million-row log costs
8 MB), and only while following: a file read once is never truncated under its reader.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phasewatch.io.source import Record


def fingerprint(record: Record) -> int:
    """The record's step, group and values (as the log wrote them), in one hash: values are
    cells and parsed JSON, compared by their text (a NaN is not equal to itself)."""
    return hash(repr((record.step, record.group, sorted(record.values.items()))))


class Reread:
    """The records of one followed file, and whether a re-read of it repeats them.

    The file's tail calls `truncated(notice)` instead of saying the notice, then gives its
    `NEW_FILE` marker; the source passes each record through `take` and calls `new_file` at
    each marker and `end` after a final read."""

    def __init__(self, notice: Callable[[str], None]):
        self.notice = notice
        self._read = array("q")  # the current file's records, in order
        self._before: array | None = None  # the records read before the truncation, while
        # the re-read matches them
        self._held: list[Record] = []
        self._said: str | None = None  # the truncation's notice, said if the re-read differs
        self._truncated = False  # the next NEW_FILE starts the re-read

    def truncated(self, notice: str) -> None:
        if self._before is None:
            self._before = self._read
        # truncated again while the re-read still matched: its records repeat the same ones
        self._read, self._held, self._said = array("q"), [], notice
        self._truncated = True
        if not self._before:  # nothing read from the file: nothing can repeat
            self._before, self._said = None, None

    def new_file(self) -> list[Record]:
        """At a NEW_FILE marker: the records to give first (none after a truncation; the held
        ones where another file, a rotated copy, comes before the re-read was decided)."""
        if self._truncated:
            self._truncated = False
            return []
        self._read = array("q")
        return self._release()

    def take(self, record: Record) -> list[Record]:
        """The records to give now, `record` among them unless the re-read holds it."""
        mark = fingerprint(record)
        self._read.append(mark)
        before = self._before
        if before is None:
            return [record]
        if before[len(self._held)] == mark:
            self._held.append(record)
            if len(self._held) == len(before):  # the same records: read on
                self._before, self._held, self._said = None, [], None
            return []
        return [*self._release(), record]

    def end(self) -> list[Record]:
        """After a final read: a re-read that is still a strict prefix of what was read is
        a file cut shorter (the records are given again, as before)."""
        return self._release()

    def _release(self) -> list[Record]:
        held, self._held, self._before = self._held, [], None
        if self._said is not None:
            self.notice(self._said)
            self._said = None
        return held
