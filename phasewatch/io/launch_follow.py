"""A followed log of a launcher that writes a new file at each launch of a resumed run
(icefall's `log-train-<date>`: `io.rotated`, naming "launch_date"), moving on to the next
launch's file when it appears.

A run that crashes or is stopped and is launched again with `--start-epoch` goes on in a new
file beside the old one, which no longer grows: a follow that stayed on it ended at
--idle-exit with none of the resumed launch's records. `LaunchesFollowed` looks for a later
launch each time the file it follows gave nothing new; it then reads the old file to its end
as a replay reads an earlier launch (an unterminated last line included), and follows the new
one, counted on from where the old one's batches left off (`RotatedLog.continued`): the records,
and so the alerts, are a replay's of the final folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from phasewatch.io.joined_log import RotatedLog, say_unfinished
from phasewatch.io.rotated import later_launches
from phasewatch.io.wrapped import WrappedSource
from phasewatch.output import warn


class LaunchesFollowed(WrappedSource):
    """The followed source of the run's last launch (a line source, or a `RotatedLog` of its
    earlier launches and it), moving on to each launch after it as it appears."""

    bulk = None  # followed only

    def __init__(self, source, notice: Callable[[str], None] | None = None):
        super().__init__(source)
        self._notice = notice or warn
        self._step: int | None = None  # the last record's

    @property
    def _file(self):
        """The line source of the launch followed now."""
        return self._source._source if isinstance(self._source, RotatedLog) else self._source

    def read(self, final: bool = True) -> Iterator:
        got = False
        for record in self._source.read(final):
            got, self._step = True, record.step
            yield record
        while not got and (later := later_launches(self._file.file, "launch_date")):
            # the launch followed is over (quiet, a later one begun): read to its end, then on
            for record in self._source.read(final=True):
                self._step = record.step
                yield record
            current = self._file
            current.close()
            say_unfinished(current, self._step, later[0].name)
            following = type(current).open(later[0], follow=True, notice=self._notice)
            self._notice(f"{later[0]}: a new launch of the run (resumed after "
                         f"{current.file.name} stopped): following it, as one run with the "
                         "launches before it")
            self._source = RotatedLog.continued(self._source, following)
            for record in self._source.read(final):
                got, self._step = True, record.step
                yield record
