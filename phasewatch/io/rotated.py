"""A line log rotated while its run went on: `train.log.2`, `train.log.1`, then `train.log`.

logrotate (rename, or copytruncate) and Python's RotatingFileHandler move the older lines to
`NAME.1` (and `NAME.1` to `NAME.2`, ...), and the run keeps writing `NAME`. Read alone, `NAME`
holds only the run's tail: a run that peaked before the rotation is read as starting at its
decline, and `watch --follow`, which followed the rename and saw every record, ended with a
whole-run answer from the tail only (a checkpoint 0.08 below the run's best). So a log with
rotated parts beside it is read from its oldest part on, as one log, and says so; every
command that reads it (analyze, inspect, a replay, the end of a follow) reads the same records.

A launcher that starts a new file at each launch of a resumed run is read the same way, by the
naming its reader states (`Source.ROTATION`, `NAMINGS`): ESPnet's `train.1.log`, `train.2.log`
and icefall's `log-train-<date>`, one a launch (a one-GPU launch's and DDP rank 0's being the
same process's). An earlier launch whose log lacks its reader's end line crashed or was
stopped, and is said so (`say_unfinished`); `watch --follow` of the last launch moves on to
the next one's file when it appears (`launch_follow`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

from phasewatch.errors import InputError
from phasewatch.io.wrapped import WrappedSource
from phasewatch.output import counted

MAX_PARTS = 1000  # logrotate's `rotate N` is rarely above a few dozen
# A launcher's own naming of the files of a run's launches, which a reader states as its
# `Source.ROTATION` (any other log keeps logrotate's naming only: a Kaldi-style `train.1.log`
# of parallel job 1 is no rotation):
# - "before_suffix": ESPnet's `espnet2.bin.launch` moves `train.log` to `train.1.log` (and that
#   to `train.2.log`) at each launch, so a resumed run's `train.log` holds only the epochs since
#   its last launch;
# - "launch_date": icefall's `setup_logger` opens `log-train-YYYY-MM-DD-HH-MM-SS` (with `-RANK`
#   under DDP) at each launch, so a resumed run is one file a launch, the latest its last.
NAMINGS = ("", "before_suffix", "launch_date")
LAUNCHERS = ("before_suffix", "launch_date")  # a file a launch: each part an earlier launch
LAUNCH_DATED = re.compile(r"(?P<stem>.+)-(?P<date>\d{4}(?:-\d{2}){5})(?P<rank>-\d+)?")
LINE_WARNING = re.compile(r"line \d+: ")  # how a source's warning names its line
MAIN_PROCESS = (None, "-0")  # a one-GPU launch's file (no rank) and DDP rank 0's: the run's


def _process(launch: re.Match) -> str | None:
    """Whose log a `LAUNCH_DATED` file is: the run's own ("", a one-GPU launch's or rank 0's,
    so a run resumed on another number of GPUs goes on in it), else its DDP rank's."""
    return "" if launch["rank"] in MAIN_PROCESS else launch["rank"]


def rotated_parts(path: Path, naming: str = "") -> list[Path]:
    """The rotated parts beside `path`, oldest first: `NAME.1`, `NAME.2`, ... (consecutive
    from 1; a higher number is older: logrotate's default, Python's RotatingFileHandler), else
    `NAME-YYYYMMDD` (logrotate's `dateext`; a later date is newer). Compressed parts
    (`NAME.2.gz`) are not read. A `naming` of `NAMINGS` (the reader's `ROTATION`) adds its
    launcher's: "before_suffix" `STEM.1.SUFFIX`, ...; "launch_date" the files of the same stem
    (and DDP rank, a one-GPU launch's being rank 0's) dated before `path`'s, `path` being the
    launch read last."""
    numbered = _numbered(lambda n: path.with_name(f"{path.name}.{n}"))
    if not numbered and naming == "before_suffix" and path.suffix:
        numbered = _numbered(lambda n: path.with_name(f"{path.stem}.{n}{path.suffix}"))
    if numbered:
        return numbered[::-1]
    if naming == "launch_date" and (launch := LAUNCH_DATED.fullmatch(path.name)) is not None:
        return _launches(path, launch, later=False)[-MAX_PARTS:]
    dated = re.compile(re.escape(path.name) + r"-\d{8}(\d{2})?")
    try:
        return sorted(p for p in path.parent.iterdir() if dated.fullmatch(p.name) and p.is_file())
    except OSError:
        return []


def _launches(path: Path, launch: re.Match, later: bool) -> list[Path]:
    """The files of the launches before `path`'s, or with `later` after it (`LAUNCH_DATED`:
    same stem, same process, an earlier or later date), oldest first: a one-GPU launch and a
    DDP launch's rank 0 are the same process (`_process`), as a run resumed on another number
    of GPUs continues it."""
    def keep(found: re.Match) -> bool:
        when = found["date"] > launch["date"] if later else found["date"] < launch["date"]
        return when and (found["stem"], _process(found)) == (launch["stem"], _process(launch))

    siblings = _dated_siblings(path, keep)
    return [p for _, p in sorted((found["date"], p) for found, p in siblings)]


def _dated_siblings(path: Path, keep: Callable[[re.Match], bool]) -> list[tuple[re.Match, Path]]:
    """The files beside `path` named as `LAUNCH_DATED` whose name's parts `keep` accepts, with
    those parts; none where the folder cannot be listed."""
    try:
        return [(found, p) for p in path.parent.iterdir()
                if (found := LAUNCH_DATED.fullmatch(p.name)) is not None and keep(found)
                and p.is_file()]
    except OSError:
        return []


def later_launches(path: Path, naming: str) -> list[Path]:
    """The files of the launches after `path`'s (naming "launch_date": the same stem and process,
    a later date), oldest first; [] for any other log."""
    launch = LAUNCH_DATED.fullmatch(path.name) if naming == "launch_date" else None
    return [] if launch is None else _launches(path, launch, later=True)


def other_ranks(path: Path, naming: str) -> list[Path]:
    """Under DDP every rank writes its own log, icefall's `log-train-<date>-<rank>`: for rank 0's
    or a one-GPU launch's (naming "launch_date"), the other ranks' files of its stem, of any
    launch; [] for any other log. Rank 0's is the run: icefall writes its TensorBoard from
    rank 0, and the other ranks' batch losses are their own shards' beside the same
    all-reduced validation."""
    launch = LAUNCH_DATED.fullmatch(path.name) if naming == "launch_date" else None
    if launch is None or _process(launch) != "":
        return []
    return sorted(p for _, p in _dated_siblings(
        path, lambda found: found["stem"] == launch["stem"] and _process(found) != ""))


def rotation_naming(reader) -> str:
    """The naming of its launcher's rotated parts the reader module states (`NAMINGS`)."""
    return getattr(getattr(reader, "Source", None), "ROTATION", "")


def without_rotated_parts(logs: list[tuple[Path, ModuleType]]) -> list[Path]:
    """The logs of a folder (each with its reader) less those that are a rotated part of another
    among them: a log is read with its parts (`with_rotated_parts`), so a folder of `train.log`
    and its `train.log.1` (ESPnet's `train.1.log`) holds one run, not one per file; nor is a
    DDP rank's log beside rank 0's (`other_ranks`) a run of its own."""
    parts = {part for path, reader in logs for naming in [rotation_naming(reader)]
             for part in rotated_parts(path, naming) + other_ranks(path, naming)}
    return [path for path, _ in logs if path not in parts]


def _numbered(name: Callable[[int], Path]) -> list[Path]:
    """The files `name(1)`, `name(2)`, ... that exist, up to the first missing one."""
    found: list[Path] = []
    while len(found) < MAX_PARTS and (part := name(len(found) + 1)).is_file():
        found.append(part)
    return found


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
        return self._in_order([[_named(name, w) for w in source.warnings]
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
            part.finish(_Named(collector, name))
        self._source.finish(_Named(collector, self._current_name))

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


def _named(name: str, warning: str) -> str:
    """`warning` naming the file `name` it is about: 'NAME line 7: ...', 'NAME: ...'."""
    return f"{name} {warning}" if LINE_WARNING.match(warning) else f"{name}: {warning}"


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


class _Named:
    """A collector whose warnings name the rotated part they are about."""

    def __init__(self, collector, name: str):
        self._collector = collector
        self._name = name
        self.n_records = collector.n_records

    def warn(self, message: str, line: int | None = None) -> None:
        where = f"{self._name} line {line}" if line is not None else self._name
        self._collector.warn(f"{where}: {message}")


def with_rotated_parts(source, notice=None):
    """`source`, preceded by the rotated parts of the line log it reads where there are any
    (each read by the reader its content calls for: a run folder's `metrics.jsonl.1` is JSON
    lines); else `source` itself."""
    from phasewatch.io import sniff_format
    from phasewatch.io.source import LineRecordSource

    if not isinstance(source, LineRecordSource):
        return source
    opened, said = [], []
    # a reader whose launcher names its parts its own way says so (espnet's, icefall's)
    naming = getattr(source, "ROTATION", "")
    if ranks := other_ranks(source.file, naming):
        shown = ", ".join(p.name for p in ranks[:3]) + (", ..." if len(ranks) > 3 else "")
        said.append(f"the logs of the other DDP ranks beside it ({counted(len(ranks), 'file')}: "
                    f"{shown}) are not read: rank 0's is the run's (the others' batch losses are "
                    "their own data shards', beside the same validation)")
    for part in rotated_parts(source.file, naming):
        try:
            reader = sniff_format(part).source(part, follow=False, notice=notice)
        except InputError:  # an empty or unreadable part: not read, and said
            said.append(_unread_part(part, source.file.name, naming))
            continue
        if isinstance(reader, LineRecordSource):
            opened.append(reader)
    joined = _joined(source, opened, naming, said)
    if naming == "launch_date" and source.tail.follow and not later_launches(source.file, naming):
        from phasewatch.io.launch_follow import LaunchesFollowed  # the run's next launches

        return LaunchesFollowed(joined, notice)
    return joined


def _joined(source, opened: list, naming: str, said: list[str]):
    """`source` after the `opened` parts, as one `RotatedLog` (said, after what else was
    `said` of its parts and ranks), or itself if none (`said` among its warnings)."""
    if not opened:
        for message in said:
            source.warn(message)
        return source
    names = ", ".join(p.file.name for p in opened)
    if naming == "launch_date":
        said.append(f"read as one run joined from {len(opened) + 1} files, one a launch, oldest "
                    f"first: {names}, then {source.file.name} (a resumed run's launches each "
                    "write their own file)")
    else:
        said.append(f"read the rotated parts of {source.file.name} first, oldest first: {names} "
                    "(a log rotated while its run went on holds only the run's tail)")
    return RotatedLog(opened, source, launches=naming in LAUNCHERS, said=said)


def _unread_part(part: Path, name: str, naming: str) -> str:
    """What to say of a rotated part or earlier launch `part` of the log `name` that holds no
    log phasewatch reads (empty, or a launch that crashed before its first logged step)."""
    if naming not in LAUNCHERS:
        return (f"{part.name} beside it looks like a rotated part of {name} but holds no log "
                "phasewatch reads: left out")
    from phasewatch.io.crash_tail import python_error

    why = python_error(part) or "empty, or in a form phasewatch does not read"
    return (f"{part.name} beside it, an earlier launch of the run, holds no record: it ended "
            f"before its first logged step ({why}); left out")
