"""Choosing the watched metric live exactly as `analyze` chooses it offline.

`signals.choose_metric` / `choose_direction` run on a Run built from the records read so far,
and the monitor follows the log's own name (`val/test_score/openai/gsm8k`, not the role
`eval/accuracy`). Without an explicit metric the choice waits for a held-out metric (or the
run's declared one) to appear: HF and verl logs start with train rows, and choosing then would
give a train metric live and a held-out one offline. The records are held meanwhile and fed
once the choice is made, so the alerts are those of a monitor that saw every record, only
later. If no held-out metric comes before the log ends (or `max_held` records), the choice is
made from what there is. The choice also waits for the step where the metric first appeared to
be complete, so that every validation set logged at that step is seen (`--aggregate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from phasewatch.values import to_float

if TYPE_CHECKING:  # imported for the annotations only: `import phasewatch.live` stays light
    from phasewatch.io.source import Record, RecordSource

MAX_HELD = 10_000  # records held while waiting for a held-out metric to be pickable


@dataclass
class MetricChoice:
    """The records held until the metric can be chosen, and the choice itself."""

    metric: str | None = None          # the user's --metric (a name or a role), if any
    direction: str | None = None       # the user's --direction, if any
    max_held: int = MAX_HELD
    held: list[Record] = field(default_factory=list)
    names: dict[str, None] = field(default_factory=dict)  # every value name seen, in order
    ready_step: int | None = None      # the step at which the metric to watch became pickable
    _held_out: dict[str, int] = field(default_factory=dict)  # own names of the held-out roles,
    # with their role's place in the order of choice
    _steps: dict[str, list[int]] = field(default_factory=dict)  # the steps of each's values
    _first: dict[str, float] = field(default_factory=dict)  # the first value of each
    _moved: set[str] = field(default_factory=set)  # those whose values have differed
    # (the role with its values, the one ranked before it that `ready` waits for), if so
    waits_for: tuple[str, str] | None = None

    def hold(self, record: Record, source: RecordSource) -> bool:
        """Keep `record`; True when the choice can be made now: the records hold the metric
        `analyze` would pick and the step where it became pickable is complete (a later step
        has begun: several validation sets are often logged in separate rows of one step), or
        too many records are held to wait longer."""
        self.held.append(record)
        new = [k for k in record.values if k not in self.names]
        if new:
            self.names.update(dict.fromkeys(new))
        if len(self.held) >= self.max_held:
            return True
        if self.ready_step is None:
            if new:
                self._held_out = self._held_out_names()
            # values, not names: a JSONL log that writes `"val_accuracy": null` at every step
            # between evaluations made the choice before any value, and the watch found none
            values = {name: value for name in self._held_out.keys() & record.values.keys()
                      if (value := to_float(record.values[name])) is not None}
            for name, value in values.items():
                self._steps.setdefault(name, []).append(record.step)
                if self._first.setdefault(name, value) != value:
                    self._moved.add(name)
            if (new or values) and self.ready(source):
                self.ready_step = record.step
        return self.ready_step is not None and record.step > self.ready_step

    def ready(self, source: RecordSource) -> bool:
        """Whether the records so far hold the metric `analyze` would pick in the end: the
        user's or the run's declared one as soon as it appears; a held-out role once it has
        the values `choose_metric` asks of a role (`MIN_FOR_TREND`), since a held-out metric
        logged once or twice is passed over for a longer one."""
        from phasewatch.presets import aliases_for
        from phasewatch.signals import MIN_FOR_TREND

        names = self.names
        if self.metric is not None:
            return self.holds(self.metric, source)
        declared = source.info.performance_metric
        if declared and (declared in names or declared in aliases_for(names)):
            return True
        # the first role with enough values, once it has moved: `choose_metric` passes over a
        # role that reads the same at every evaluation, and one constant so far may move yet
        # (an exact match at 0 for the first evaluations); till then, or the log's end, wait
        usable = sorted((rank, name) for name, rank in self._held_out.items()
                        if len(self._steps.get(name, ())) >= MIN_FOR_TREND)
        if not usable:
            return False
        rank, name = usable[0]
        # a role ranked before it, still logged beside it (since the first of its latest
        # MIN_FOR_TREND values) but without its values yet, may have them by the end, and
        # `analyze` then takes it: llm.c evaluates HellaSwag from its second evaluation on, so
        # its val loss had 3 values first and watch chose it, analyze the accuracy. One no
        # longer logged (an accuracy evaluated once, before training) is not waited for: the
        # watch held every record, silent, until the run ended
        since = self._steps[name][-MIN_FOR_TREND]
        waited = next((other for other, other_rank in self._held_out.items() if other_rank < rank
                       and (steps := self._steps.get(other)) and steps[-1] >= since), None)
        self.waits_for = None if waited is None else (name, waited)
        return waited is None and name in self._moved

    def holds(self, metric: str, source: RecordSource) -> bool:
        """Whether the records so far hold `metric` as `Run.own_name` or `Run.hf_spelling`
        would find it on a Run of them: under that name, a role's alias, the name a printed
        one is read under (`RunInfo.printed_names`), or HF's other spelling."""
        from phasewatch.presets import aliases_for, hf_spelling

        names = self.names
        return metric in names or metric in aliases_for(names) \
            or source.info.printed_names.get(metric) in names \
            or hf_spelling(metric, names) is not None

    def _held_out_names(self) -> dict[str, int]:
        """The log's own names of the held-out roles among the names seen so far, each with its
        role's place in the order of choice."""
        from phasewatch.presets import HELD_OUT_ROLES, aliases_for

        aliases = aliases_for(self.names)
        return {name: k for k, role in enumerate(HELD_OUT_ROLES)
                for name in (role if role in self.names else aliases.get(role),) if name}

    def choose(self, source: RecordSource) -> tuple[str, str]:
        """(the log's own metric name, direction) as `analyze` chooses them on the held
        records. A `metric` the records do not hold yet is taken as given."""
        return choose_on(self.prefix_run(source), self.metric, self.direction)

    def release(self) -> list[Record]:
        """The held records, in log order, handed over once (to be fed to the monitor)."""
        held, self.held = self.held, []
        return held

    def prefix_run(self, source: RecordSource):
        """A Run of the records held so far (for choices made the way `analyze` makes them)."""
        from phasewatch.run import RecordCollector

        collector = RecordCollector(source.source, source.format)
        for record in self.held:
            collector.add(record.step, record.values, record.line)
        return collector.build(**source.info.build_args())


def choose_on(run, metric: str | None = None, direction: str | None = None) -> tuple[str, str]:
    """(the log's own metric name, direction) as `analyze` chooses them on `run`; a `metric`
    the run does not hold is taken as given. Raises `UsageError` when the run holds no
    performance metric (nor a train loss) and none was given."""
    from phasewatch.presets import default_direction
    from phasewatch.signals import choose_direction, choose_metric

    if metric is not None and run.own_name(metric) is None and run.hf_spelling(metric) is None:
        return metric, direction or default_direction(metric)
    chosen = choose_metric(run, metric)
    return run.resolve_metric(chosen), choose_direction(run, chosen, direction)


def rows_run(rows):
    """A Run of `rows` ((step, {name: value}) in order): the metrics a trainer callback was
    reported, for the rules `watch` and `analyze` apply to a log's Run."""
    from phasewatch.run import RecordCollector

    collector = RecordCollector("callback", "callback")
    for step, values in rows:
        collector.add(step, values)
    return collector.build()


def choose_in_rows(rows, metric: str | None = None,
                   direction: str | None = None) -> tuple[str, str]:
    """`choose_on` a Run of `rows` ((step, {name: value}) in order): a trainer callback's
    choice from the metrics the trainer reported, the same as `watch`'s and `analyze`'s."""
    return choose_on(rows_run(rows), metric, direction)
