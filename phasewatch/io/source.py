"""The one record stream every reader exposes, and the loop that collects it into a Run.

A reader turns its format into a `RecordSource`:
    source.read(final)  -> the `Record`s (step, values, line, group) that arrived since the
                           previous call, in the order the log holds them. `final=True`: the
                           writer is done, read to the end (an unterminated last line counts,
                           where a cut one could parse only if it looks whole:
                           `cut_line_may_parse`).
    source.info         -> `RunInfo`: name, declared metric and direction, config, events,
                           and `finished` once the log says the run ended.
    source.warnings     -> what was skipped or repaired, for the Run or for stderr.
    source.finish(collector) -> after the last read of a batch: reports (or raises for a file
                           with no record at all).
`collect(source)` is how `read_run` builds a Run: one loop over the records into a
`RunCollector` (`groups`), whose `RecordCollector`s resolve duplicates and resumes.
`phasewatch.live` feeds the same records to the monitor through the same resolution, one at a
time, so offline and live agree; a replay collects them as it feeds them, and its whole-run
summary is of that Run.

Formats that grow (every one) can be read again and again: a source keeps its position, so a
follower calls `read(final=False)` each time the log may have grown.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasewatch.errors import BAD_LINE_ERRORS
from phasewatch.io.cut_line import MID_VALUE, RECENT, WandbCuts, cut_reason, left_out
from phasewatch.io.groups import RunCollector
from phasewatch.run import Event, RecordCollector, Run
from phasewatch.values import MAX_STEP, to_step


@dataclass(slots=True)
class Record:
    """One logged row: `values` as the log wrote them (numbers, numeric strings, null...).

    `line` locates it in its file (0 where a format has no lines); `group` names an independent
    step counter (a TensorBoard sub-directory), whose steps are compared only among themselves.
    """

    step: int
    values: Mapping[str, Any]
    line: int = 0
    group: str = ""


@dataclass
class RunInfo:
    """What a log says about its run besides the records (all optional)."""

    name: str | None = None
    algorithm: str | None = None
    performance_metric: str | None = None
    direction: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    token_store: Path | None = None
    finished: bool = False
    """The log says the run ended (HF's `train_runtime` row, the trainer's run.json status,
    W&B's exit record, MLflow's FINISHED status, verl's final validation line)."""
    crashed: bool = False
    """The log says the run ended by an error, and what its trainer writes on the way out has
    come (detectron2's `Exception during training:`, then its `after_train` hooks): a follow
    ends there as at `finished`, which it is not; the reader's notes say where."""
    ended_by: str | None = None
    """What the log says ended the run, where it says (`Run.ended_by`)."""
    end_note: str | None = None
    """The reader's warning of what ended the run, where it gave one (`Run.end_note`)."""
    step_unit: str = "step"
    """What the log's steps count ("epoch" when they are epochs: `Run.step_unit`)."""
    counters: Any = None
    """A watch's `step_counters.Counters` of the records so far: the metrics whose steps count
    epochs beside the others' batches (kept by `LiveWatch`, read by `xaxis.step_unit`)."""
    printed_names: dict[str, str] = field(default_factory=dict)
    """A name as the log printed it -> the name the reader read it under, where it renamed one
    (a parser's `printed_names`: `Run.printed_names`)."""

    def build_args(self) -> dict[str, Any]:
        """Keyword arguments of `RecordCollector.build`."""
        return {"name": self.name, "algorithm": self.algorithm,
                "performance_metric": self.performance_metric, "direction": self.direction,
                "config": dict(self.config), "events": list(self.events),
                "token_store": self.token_store, "step_unit": self.step_unit,
                "finished": self.finished, "ended_by": self.ended_by, "end_note": self.end_note,
                "printed_names": dict(self.printed_names)}


class RecordSource:
    """Base of every reader's source. Subclasses implement `read` (and `refresh` if the run's
    metadata can change while it is written)."""

    format: str = ""
    quiet_between_writes: float = 0.0
    """Seconds this format's live writer may leave its file unchanged while the run goes on
    (a writer that flushes in blocks, not record by record): a follow cannot tell such a
    pause from a run that stopped, so it is not judged idle sooner (`LiveWatch`)."""
    quiet_between_writes_why: str = ""
    """How the writer writes, for the message that says why idle is judged later."""

    def __init__(self, path: Path, source: Path | None = None):
        self.path = Path(path)
        self.source = Path(source) if source is not None else self.path
        self.info = RunInfo()
        self.warnings: list[str] = []
        # Called with (file, line, reason) for each line that should be a record but is not,
        # as it happens (the live monitor prints them); the batch summary is in `warnings`.
        self.on_bad_line: Callable[[Path, int, str], None] | None = None

    def warn(self, message: str, line: int | None = None) -> None:
        self.warnings.append(f"line {line}: {message}" if line is not None else message)

    def read(self, final: bool = True) -> Iterator[Record]:
        raise NotImplementedError

    def records(self) -> Iterator[Record]:
        """Every record there is now (a whole file read in one go)."""
        return self.read(final=True)

    def finish(self, collector: RecordCollector) -> None:
        """After a batch read: turn what was counted into warnings, or raise InputError for a
        log that holds no record."""
        if collector.n_records == 0:
            from phasewatch.errors import InputError

            raise InputError("no records in this log", self.source)

    def close(self) -> None:
        """Release open files (a following source keeps them open between reads)."""


def collect(source: RecordSource, first: int | None = None) -> Run:
    """The Run of everything `source` holds now: one loop over its records. `first` keeps only
    its first records: those a watch stopped by `--stop-on` fed its monitor, in the order any
    read of the log yields them (`LiveWatch._taken`), so its summary is of what it saw."""
    collector = RunCollector(source)
    bulk = getattr(source, "bulk", None) if first is None else None
    try:
        if bulk is None or not bulk(collector.main):
            # the common record (no group) straight to its collector: a call less a record
            add, add_grouped = collector.main.add, collector.add
            for index, record in enumerate(source.read(final=True)):
                if index == first:
                    break
                if record.group:
                    add_grouped(record)
                else:
                    add(record.step, record.values, record.line)
            collector.finish()
    finally:
        source.close()
    return collector.build()


def _reason(exc: BaseException) -> str:
    """A short reason for a skipped line (an exception's text can quote the whole line)."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class LineRecordSource(RecordSource):
    """A line-based format: a `LineParser` (`feed(line, lineno) -> [(step, values)]`) over the
    lines of one file, as `follow.LineTail` splits them. A truncated or replaced file starts
    a fresh parser (a CSV header comes again). A parser may also have `settings` (what the log
    states in passing, for the run's config: `_take_settings`; `declared`, the run's metric),
    `flush()` (a record only a next line would close, read when the log is final), `notes` and
    `step_unit`."""

    says_repeats = False
    """Records that repeat the one before them are said (`repeated_lines`): in console logs,
    which several processes print alike; not in a file a logger writes (a CSV's equal rows)."""

    cut_line_may_parse = False
    """A cut last line can still parse ('2000,0' of '2000,0.6534'): a finished file's last line
    without its newline is read where it looks whole (`cut_line.cut_reason`, against the record
    lines before it), else left out with a warning (`_leave_out_cut`). JSON formats leave it
    False (a cut object does not parse, and is skipped as a bad line)."""

    def __init__(self, path: Path, format: str, parser_factory: Callable[[], Any],
                 file: Path | None = None, source: Path | None = None, what: str = "records",
                 follow: bool = False, notice: Callable[[str], None] | None = None):
        from phasewatch.follow import LineTail
        from phasewatch.io.lines import LineReport
        from phasewatch.io.repeated_lines import RepeatedRecords

        super().__init__(path, source)
        self.format = format
        self.file = Path(file) if file is not None else self.path
        self.parser_factory = parser_factory
        self.parser = parser_factory()
        self.what = what
        self.report = LineReport()
        # said by the read that ends the log (`final`), in a console log, where processes print
        self.repeats = RepeatedRecords() if self.says_repeats else None
        self.n_read = 0
        kwargs = {"notice": notice} if notice is not None else {}
        # followed: a re-read of the file from its top gives no record twice (`io.reread`)
        self.reread = None
        if follow:
            from phasewatch.io.reread import Reread
            from phasewatch.output import warn

            self.reread = Reread(notice or warn)
            kwargs["on_truncate"] = self.reread.truncated
        self.tail = LineTail(self.file, follow=follow, **kwargs)
        self._too_long_reported = 0
        self.wandb_cuts = WandbCuts(self.file)  # W&B's output.log cuts lines at 4096 characters
        # the last record lines, which a last line without its newline is judged by
        self.recent: deque[str] | None = deque(maxlen=RECENT) if self.cut_line_may_parse else None

    def next_parser(self, parser) -> Any:
        """The parser of a file that continues the log `parser` read (a truncated file written
        again, the current file after its rotated parts): the parser's own `next_file()`
        where it keeps something across files (a CSV header), else a fresh one."""
        next_file = getattr(parser, "next_file", None)
        return next_file() if next_file is not None else self.parser_factory()

    def end_marker(self, text: str, values: Mapping[str, Any] | None) -> bool:
        """Whether this line says the run ended (formats override)."""
        return False

    def _take_settings(self) -> None:
        """Settings the log states in passing go to the run's config as soon as they are read:
        a parser's `settings` (name -> value; None: no longer known), such as the planned
        length a banner or progress field gives (`phasewatch.planned`), which `watch` reads
        when its monitor starts; a parser's `declared` metric is the run's where none is named,
        and the names it read under others its `printed_names`."""
        self.info.printed_names.update(getattr(self.parser, "printed_names", ()))
        for name, value in getattr(self.parser, "settings", {}).items():
            if value is None:
                self.info.config.pop(name, None)
            else:
                self.info.config[name] = value
        if self.info.performance_metric is None and getattr(self.parser, "declared", None):
            self.info.performance_metric, self.info.direction = self.parser.declared

    def read(self, final: bool = True) -> Iterator[Record]:
        from phasewatch.follow import NEW_FILE

        report = self.report
        for lineno, text in self.tail.read(final):
            text = self.wandb_cuts.whole(lineno, text)
            if text is None and (lineno, text) == NEW_FILE:
                self.parser = self.next_parser(self.parser)
                if self.reread is not None:
                    yield from self._given(self.reread.new_file())
                continue
            report.seen(lineno)
            why = None  # why this line may be cut (a finished file's last, without its newline)
            if self.recent is not None and lineno == self.tail.unterminated:
                why = cut_reason(text, self.recent, self._terminated_lines)
            cut = why is not None
            if why == MID_VALUE:
                self._leave_out_cut(lineno, text, why)
                continue
            if cut and hasattr(self.parser, "flush"):  # the log ends before its cut line:
                yield from self._flushed(lineno)  # what that line gives, held or not, is not read
            found = self._parsed(lineno, self.parser.feed, text, lineno)
            if found is None:
                continue
            held = cut and hasattr(self.parser, "flush") and self._parsed(lineno, self.parser.flush)
            if cut and (found or held):  # a record that may be cut: not read (text is no loss)
                self._leave_out_cut(lineno, text, why)
                continue
            if found:  # a parser that knows what its steps count says so (jsonl's `epoch`)
                self.info.step_unit = getattr(self.parser, "step_unit", self.info.step_unit)
                if self.recent is not None:
                    self.recent.append(text)
            self._take_settings()
            for step, values in found:
                if self.reread is None:  # (a batch read: no other per-record work)
                    self.n_read += 1
                    if self.repeats is not None:
                        self.repeats.see(step, values, lineno)
                    yield Record(step, values, lineno)
                else:
                    yield from self._given(self.reread.take(Record(step, values, lineno)))
            if self.end_marker(text, found[-1][1] if found else None):
                self.info.finished = True
        for lineno in self.tail.too_long[self._too_long_reported:]:  # skipped by the tail
            report.total += 1
            report.bad(lineno, f"line longer than {self.tail.max_line >> 20} MB")
        self._too_long_reported = len(self.tail.too_long)
        if final and hasattr(self.parser, "flush"):  # a record the next line would have closed
            yield from self._flushed(report.last_lineno)
        if final and self.reread is not None:
            yield from self._given(self.reread.end())
        if final and self.repeats is not None and (note := self.repeats.note()) is not None:
            self.repeats = None  # (said once: in the Run's warnings, or by `watch` at its end)
            self.warn(note)

    def _flushed(self, lineno: int) -> Iterator[Record]:
        """The records the parser holds for a next line to close (its `flush`), at `lineno`."""
        for step, values in self._parsed(lineno, self.parser.flush) or ():
            record = Record(step, values, lineno)
            yield from self._given([record] if self.reread is None else self.reread.take(record))

    def _given(self, records: list[Record]) -> Iterator[Record]:
        self.n_read += len(records)
        if self.repeats is not None:
            for record in records:
                self.repeats.see(record.step, record.values, record.line)
        yield from records

    def _terminated_lines(self) -> Iterator[str]:
        """The lines of the file that end with their newline: all before an unterminated last
        one (`cut_line.cut_reason` reads them again where the recent lines leave it unsure)."""
        from phasewatch.files import open_regular

        with open_regular(self.file) as handle:
            for raw in handle:
                if raw.endswith(b"\n"):
                    yield raw.decode("utf-8", "replace").rstrip("\r\n")

    def _leave_out_cut(self, lineno: int, text: str, why: str) -> None:
        """A last line without its newline that may be cut (`why`), in a format whose cut line
        can still parse: left out, counted with the skipped lines, and said
        (`cut_line.left_out`)."""
        message = left_out(self.file, text, why)
        self.report.left_out(lineno, message)
        self.warn(message, lineno)

    def _parsed(self, lineno: int, parse: Callable[..., list], *args) -> list | None:
        """`parse(*args)`'s (step, values) pairs, every parser's under the one step rule; None
        when they break it or the line is bad (reported at `lineno`)."""
        try:
            found = parse(*args)
            for step, _ in found:
                if not -MAX_STEP <= step <= MAX_STEP:
                    raise ValueError(f"step {to_step(step)} is out of range")
        except BAD_LINE_ERRORS as exc:
            self._bad(lineno, _reason(exc), exc)
            return None
        return found

    def _bad(self, lineno: int, reason: str, exc: BaseException | None = None) -> None:
        self.report.bad(lineno, reason, exc)
        if self.on_bad_line is not None:
            self.on_bad_line(self.file, lineno, reason)

    def finish(self, collector: RecordCollector) -> None:
        self.report.finish(self.file, self, collector, self.what)

    @property
    def notes(self) -> list[str]:
        return list(getattr(self.parser, "notes", ())) + self.wandb_cuts.notes

    def close(self) -> None:
        self.tail.close()


class LogFileSource(LineRecordSource):
    """A console log that one `PARSER` reads line by line, the run named after the file: a
    format sets `FORMAT`, `PARSER` and `WHAT` (what its lines look like, for the error a file
    without one gets) and overrides `end_marker` or `read` where it needs to. Its module's
    `source` and `read` are `open` and `run_of`."""

    FORMAT = ""
    PARSER: Callable[[], Any]
    WHAT = "records"
    says_repeats = True

    def __init__(self, path: Path, follow: bool = False,
                 notice: Callable[[str], None] | None = None):
        super().__init__(path, self.FORMAT, self.PARSER, what=self.WHAT, follow=follow,
                         notice=notice)
        self.info.name = self.path.stem

    @classmethod
    def open(cls, path: Path, follow: bool = False,
             notice: Callable[[str], None] | None = None) -> LogFileSource:
        return cls(Path(path), follow=follow, notice=notice)

    @classmethod
    def run_of(cls, path: Path) -> Run:
        return collect(cls.open(path))
