"""A log read from several files as one (`RotatedLog`): a log's rotated parts, a resumed run's
earlier launches (`io.rotated` finds them) or a Lightning version's earlier versions
(`lightning_versions`), then the file written now.

The files are read one after another as one record stream, and what the stream says must still
say where: each file's warnings name it, and the records' lines count on from one file to the
next so that a line the records' collector names (where the step counter went back) is one
place, named by file and the file's own line (`RotatedLog.where`). What the joining itself
says (which files were joined, a launch left out) is the joined log's own. Apart from
`io.rotated`, which decides which files are parts, because every joiner reads them this way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from phasewatch.io.wrapped import WrappedSource

LINE_WARNING = re.compile(r"line \d+: ")  # how a source's warning names its line


class RotatedLog(WrappedSource):
    """The rotated parts' sources, each read whole, then the current file's source (followed
    when the watch follows). Everything else (the run's name, its format, `info`, closing)
    is the current source's; the parts' settings and events are added to its `info`. `names`
    name the parts in warnings (their file names by default; a Lightning version's earlier
    versions, `lightning_versions`, are any reader's, named by folder), `current` the current
    file (its file name by default). `launches`: the parts are the run's earlier launches (a
    launcher's naming), each of which ended without finishing is said (`say_unfinished`).
    `said`: what the joining itself says (which files were joined or left out), which names
    no one file's line; `warn` without a line adds to it.

    Its records' lines count on from one file to the next (each file's after the lines of
    those before it), so a line the records' collector names (where the step counter went
    back) is one place in the joined log, which `where` names by file and the file's own line:
    "line 3" alone was the third line of whichever file."""

    bulk = None  # no bulk fast path: the parts come first

    def __init__(self, parts: list, current, names: list[str] | None = None,
                 launches: bool = False, current_name: str | None = None,
                 said: list[str] | None = None):
        super().__init__(current)
        self._parts = parts
        self._parts_read = False
        self._names = names or [part.file.name for part in parts]
        self._current_name = current_name or _file_name(current)
        self._launches = launches
        self._ends: list[int] = []  # the joined log's line that ends each part read so far
        self._said = list(said or ())
        self._said_at = len(parts)  # said after the warnings of the parts before this one

    def warn(self, message: str, line: int | None = None) -> None:
        """A warning of the joined log (a folder's note), or with a line the current file's."""
        if line is None:
            self._said.append(message)
        else:
            self._source.warn(message, line)

    def where(self, line: int) -> str:
        """The file and its own line of the joined log's `line` (a record's)."""
        start = 0
        for name, end in zip(self._names, self._ends):
            if line <= end:
                return f"{name} line {line - start}"
            start = end
        inner = getattr(self._source, "where", None)  # a current file with rotated parts of its own
        return inner(line - start) if inner is not None else f"{self._current_name} line {line - start}"

    def _base(self) -> int:
        """The joined log's line before the current file's first."""
        return self._ends[-1] if self._ends else 0

    @WrappedSource.on_bad_line.setter
    def on_bad_line(self, callback) -> None:
        for source in (*self._parts, self._source):
            source.on_bad_line = callback

    @property
    def warnings(self) -> list[str]:
        """Each file's warnings naming it ('NAME line 7: ...', 'NAME: ...'), the parts' then
        the current file's, with what the joining said after the parts it joined (a list that
        only grows at its end while followed, as the live monitor reads it)."""
        files = [*zip(self._parts, self._names), (self._source, self._current_name)]
        return self._in_order([[named_warning(name, w) for w in source.warnings]
                               for source, name in files], self._said)

    @property
    def located_warnings(self) -> list[str]:
        """`warnings` as a watch prints them, each after the path of the file it is about (its
        own path, not the current file's before a part's name: 'NEW: OLD: ...'); what the
        joining said after the path of the file it joined the parts to."""
        files = [*self._parts, self._source]
        joined_to = files[self._said_at].source
        return self._in_order([[f"{source.source}: {w}" for w in source.warnings]
                               for source in files], [f"{joined_to}: {w}" for w in self._said])

    def _in_order(self, per_file: list[list[str]], said: list[str]) -> list[str]:
        """Files' warnings in file order, `said` after those of the parts it was said of."""
        before, after = per_file[:self._said_at], per_file[self._said_at:]
        return [w for ws in before for w in ws] + said + [w for ws in after for w in ws]

    def read(self, final: bool = True) -> Iterator:
        if not self._parts_read:
            info = self._source.info
            for index, part in enumerate(self._parts):
                stated, step, base, last = 0, None, self._base(), 0
                for record in part.read(final=True):
                    step, last = record.step, max(last, record.line)
                    record = _counted_on(record, base)
                    # as soon as the part states them: a watch's monitor starts (and reads
                    # the planned length) before the part's end (trial 34: a replay lost
                    # the plan its follow had)
                    if len(part.info.config) != stated:
                        stated = len(part.info.config)
                        _add_settings(info, part.info)
                    yield record
                self._ends.append(base + max(last, _n_lines(part)))
                _add_settings(info, part.info)
                info.events.extend(part.info.events)
                if self._launches:
                    later = [*self._names, self._source.file.name][index + 1]
                    say_unfinished(part, step, later)
            last = self._parts[-1]
            if last.format == self._source.format and getattr(self._source, "n_read", 1) == 0:
                # the current file continues the last part (a CSV header it may not repeat)
                self._source.parser = self._source.next_parser(last.parser)
            self._parts_read = True
        base = self._base()
        for record in self._source.read(final):
            yield _counted_on(record, base)

    def finish(self, collector) -> None:
        for part, name in zip(self._parts, self._names):
            part.finish(NamedCollector(collector, name))
        self._source.finish(NamedCollector(collector, self._current_name))

    def close(self) -> None:
        for source in (*self._parts, self._source):
            source.close()

    @classmethod
    def continued(cls, source, following) -> RotatedLog:
        """`source` (a line source or a `RotatedLog`, read to its end) and then `following`,
        the file of the launch after it, as one log: the file goes on counting where
        `source`'s parser left off, under the same run's info (its name, settings, events)."""
        if isinstance(source, RotatedLog):
            parts, names, last = [*source._parts, source._source], source._names, source._source
        else:
            parts, names, last = [source], [], source
        following.parser = following.next_parser(last.parser)
        following.info, last.info.finished = last.info, False  # the launch after it goes on
        following.on_bad_line = last.on_bad_line
        joined = cls(parts, following, [*names, last.file.name])
        joined._parts_read = True
        if isinstance(source, RotatedLog):  # said where it was: the warnings only grow
            joined._said, joined._said_at = source._said, source._said_at
        joined._ends = source._ends + [source._base() + _n_lines(last)] \
            if isinstance(source, RotatedLog) else [_n_lines(last)]
        return joined


def _counted_on(record, base: int):
    """`record` with its line counted on from `base` (the lines of the files before its own);
    a record of no line (0) keeps none."""
    if not base or not record.line:
        return record
    from phasewatch.io.source import Record

    return Record(record.step, record.values, record.line + base, record.group)


def _n_lines(source) -> int:
    """The lines a source read to its end holds (its last line's number; 0 for a format of
    no lines)."""
    report = getattr(source, "report", None)
    return report.last_lineno if report is not None else 0


def named_warning(name: str, warning: str) -> str:
    """`warning` naming the file `name` it is about: 'NAME line 7: ...', 'NAME: ...'; one
    that names it first already as it is ('valid.csv is named for its split: ...')."""
    if LINE_WARNING.match(warning):
        return f"{name} {warning}"
    return warning if warning.startswith(f"{name} ") else f"{name}: {warning}"


def _file_name(source) -> str:
    """The name of the file a source reads."""
    return getattr(source, "file", Path(source.source)).name


def say_unfinished(launch, step: int | None, later: str) -> None:
    """An earlier launch of the run (a `RotatedLog` part, or the file a follow leaves for the
    next launch's) whose log does not say its training finished, in its reader's end line
    (icefall's `Done!`): it crashed or was stopped, and `later` resumed the run. Said in the
    launch's warnings, which name its file, with its last step; nothing where the reader
    knows no end line or the launch held no record."""
    from phasewatch.io.crash_tail import python_error
    from phasewatch.io.source import LineRecordSource

    if step is None or launch.info.finished \
            or getattr(type(launch), "end_marker", None) is LineRecordSource.end_marker:
        return
    how = python_error(launch.file) or "it crashed or was stopped"
    launch.warn(f"an earlier launch of the run that ended without finishing (no end-of-training "
                f"line: {how}) after step {step}, its last record; {later}, the launch after "
                "it, resumed the run")


def _add_settings(info, part_info) -> None:
    """The part's settings, where the current file does not state its own."""
    for name, value in part_info.config.items():
        info.config.setdefault(name, value)


class NamedCollector:
    """A collector whose warnings name the file they are about (a rotated part, one of a
    run's split files: `csv_splits`), as `named_warning` names it."""

    def __init__(self, collector, name: str):
        self._collector = collector
        self._name = name
        self.n_records = collector.n_records

    def warn(self, message: str, line: int | None = None) -> None:
        self._collector.warn(named_warning(self._name, f"line {line}: {message}"
                                           if line is not None else message))
