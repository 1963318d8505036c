"""A source's records collected into its Run (`RunCollector`), and the runs of a source whose
records come in groups with counters of their own (a TensorBoard folder's sub-directories,
`Record.group`): each group has its own collector, so a step counter is compared, and resumes
are found, only within its group; the groups' runs are then stacked into one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from phasewatch.run import RecordCollector, Run

if TYPE_CHECKING:
    from phasewatch.io.source import Record, RecordSource


class GroupTotal:
    """What `finish` needs of several collectors: their record count and a place to warn."""

    def __init__(self, collectors):
        self.collectors = list(collectors)

    @property
    def n_records(self) -> int:
        return sum(c.n_records for c in self.collectors)

    def warn(self, message: str, line: int | None = None) -> None:
        self.collectors[0].warn(message, line)


def stacked(runs: list[Run], source: Path, format: str, args: dict[str, Any]) -> Run:
    """Groups hold different series (their names differ), so resumes are found per group and
    the tables simply stack."""
    import pandas as pd

    from phasewatch.presets import aliases_for

    table = pd.concat([run.table for run in runs], ignore_index=True)
    table = table.sort_values(["metric", "step"], kind="stable").reset_index(drop=True)
    events = list(args.pop("events")) + [e for run in runs for e in run.events]
    return Run(
        table=table, source=str(source), format=format,
        n_records=sum(run.n_records for run in runs),
        events=sorted(events, key=lambda e: e.step),
        warnings=[w for run in runs for w in run.warnings],
        aliases=aliases_for(table["metric"].unique().tolist()),
        **args,
    )


class RunCollector:
    """Collects a source's records into its Run as they are read: the loop of a batch read
    (`collect`), and of a watch that replays a log, whose whole-run summary is then of the
    records it fed, not of a second read of the file (`LiveWatch`). Records of a `group`
    (several runs in one log) go to a collector of their own."""

    def __init__(self, source: RecordSource):
        self.source = source
        self.main = RecordCollector(source.source, source.format)
        self.main.where = getattr(source, "where", None)  # a log joined from several files
        self.collectors: dict[str, RecordCollector] = {"": self.main}

    def add(self, record: Record) -> None:
        collector = self.main
        if record.group:
            collector = self.collectors.get(record.group)
            if collector is None:
                collector = self.collectors[record.group] = RecordCollector(
                    self.source.source, self.source.format)
                collector.where = self.main.where
        collector.add(record.step, record.values, record.line)

    def finish(self) -> None:
        """After the last record of a batch read: the source's reports (or its InputError for
        a log with no record)."""
        if len(self.collectors) > 1 and self.main.n_records == 0:
            del self.collectors[""]
        self.source.finish(GroupTotal(self.collectors.values()))

    def build(self) -> Run:
        """The Run of the records added, with the source's warnings and metadata."""
        first = next(iter(self.collectors.values()))
        for warning in self.source.warnings:
            first.warn(warning)
        args = self.source.info.build_args()
        if len(self.collectors) == 1:
            return first.build(**args)
        return stacked([c.build() for c in self.collectors.values()], self.source.source,
                       self.source.format, args)
