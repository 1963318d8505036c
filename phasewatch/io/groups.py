"""A source whose records come in groups with counters of their own (a TensorBoard folder's
sub-directories, `Record.group`): `collect` gives each group its own collector, so a step
counter is compared, and resumes are found, only within its group; the groups' runs are then
stacked into one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasewatch.run import Run


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
