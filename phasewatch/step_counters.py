"""Two step counters in one log: metrics logged per epoch beside metrics logged per batch.

A script that calls `writer.add_scalar(tag, v, global_step)` for its batches and
`writer.add_scalar(tag, v, epoch)` for its validations writes two counters as one step axis: a
per-batch loss at steps 1..10,000 beside validations at steps 5..100 that are epochs. Read as one
axis, the validations seem to stop at 1% of the run ("the last at step 100 ... up to step
10000") and every figure calls their epochs training steps.

The rule (`other_counters`), on the metrics' first and last steps and counts only, so `analyze`
(on the whole log) and `watch` (on the records so far, `CounterStats.add`) decide alike:

1. The short group: the metrics whose last step E is at most `SHORT_SHARE` (5%) of the last
   step L of the run's others (L at least 20 x E). A run's own validations stop
   early only when it crashed or their logging was switched off, and then they do not sit at
   1..E beside a counter 20 times longer.
2. The signature of a counter of epochs: a metric of the group logged once at every whole step
   from its first (0 or 1) to E, at least `MIN_EPOCHS` of them (an epoch's train loss at 1..99):
   one value per value of the counter, as a loop over epochs writes it.
3. Evidence from the log that the counter counts epochs, one of: the config states an epoch
   count (`num_epochs`, `max_epochs`, `num_train_epochs`, `epochs`, `n_epochs`) that E does not
   exceed (not "reaches": a watch decides on the epochs so far, a crashed run ends early); an
   `epoch` counter logged on the long steps reaches E (within one: 0- or 1-based); the long counter names itself per batch (a metric named `batch_*`,
   `*/batch_*`, `*_batch_*`: `training/batch_loss`), so the counter beside it, logged once per
   value, is the per-epoch one.

With 1-3 the group's metrics count epochs: `xaxis.step_unit(run, metric)` says "epoch" for them
and every text and figure then says "epoch 35"; the numbers stay the log's. With 1 and 2 but no
evidence the unit is not guessed: `note` says what the steps show, for `analyze` and `watch`
alike. Without 2 (a metric logged at a few early steps only: a warm-up value) nothing is said.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SHORT_SHARE = 0.05
MIN_EPOCHS = 3
EPOCH_COUNT_KEYS = ("num_epochs", "max_epochs", "num_train_epochs", "epochs", "n_epochs")
EPOCH_TAGS = ("epoch", "train/epoch", "training/epoch", "trainer/epoch")
BATCH_NAME = re.compile(r"(?:^|[/_.])batch_(?!size)[A-Za-z]")  # not a batch size


@dataclass
class Span:
    """The first and last step of a metric and how many steps it has."""

    first: int
    last: int
    count: int


@dataclass
class CounterStats:
    """Each metric's `Span` and the last value of an `epoch` counter, kept as records come (a
    watch) or built from a run's columns (`of_columns`)."""

    spans: dict[str, Span] = field(default_factory=dict)
    epoch_last: dict[str, float] = field(default_factory=dict)
    front: int = -(2 ** 63)  # the highest step seen

    @classmethod
    def of_columns(cls, columns: Mapping[str, tuple[Any, Any]]) -> CounterStats:
        stats = cls()
        for name, (steps, values) in columns.items():
            if len(steps):
                stats.spans[name] = Span(int(steps[0]), int(steps[-1]), len(steps))
                if name in EPOCH_TAGS:
                    stats.epoch_last[name] = float(values[-1])
        return stats

    def add(self, step: int, values: Mapping[str, Any]) -> None:
        """A record at `step` (steps of a metric come in order; a rewound step is counted
        again, which only makes a metric look denser, and a record that goes back starts its
        span afresh)."""
        self.front = max(self.front, step)
        for name, value in values.items():
            span = self.spans.get(name)
            if span is None or step < span.last:
                self.spans[name] = Span(step, step, 1)
            elif step > span.last:
                span.last, span.count = step, span.count + 1
            if name in EPOCH_TAGS:
                try:
                    self.epoch_last[name] = float(value)
                except (TypeError, ValueError):
                    pass


@dataclass
class Counters:
    """`other_counters`' answer: `units`, metric -> "epoch" where the log says so; `short`, the
    short group (with or without evidence); `note`, what to tell the user."""

    units: dict[str, str] = field(default_factory=dict)
    short: list[str] = field(default_factory=list)
    note: str | None = None


def _config_epochs(config: Mapping[str, Any]) -> tuple[str, float] | None:
    for key in EPOCH_COUNT_KEYS:
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        try:
            count = float(value)
        except ValueError:
            continue
        if count > 0:
            return key, count
    return None


def other_counters(stats: CounterStats, config: Mapping[str, Any] | None = None) -> Counters:
    """The metrics whose steps are a second counter, by the rule of the module docstring."""
    spans = stats.spans
    if len(spans) < 2:
        return Counters()
    longest = max(span.last for span in spans.values())
    short = sorted(name for name, span in spans.items()
                   if 0 < span.last <= SHORT_SHARE * longest)
    if not short:
        return Counters()
    end = max(spans[name].last for name in short)
    per_value = [name for name in short if spans[name].first in (0, 1)
                 and spans[name].last >= MIN_EPOCHS
                 and spans[name].count == spans[name].last - spans[name].first + 1]
    if not per_value:
        return Counters()
    longs = [name for name in spans if name not in short]
    why = _evidence(end, longs, stats, config or {})
    group = ", ".join(short[:3]) + (f" and {len(short) - 3} more" if len(short) > 3 else "")
    if why is None:
        return Counters(short=short, note=(
            f"{group}: steps {min(spans[n].first for n in short)}-{end}, while the run's other "
            f"metrics go on to step {longest}; {per_value[0]} has a value at every step of them, "
            "as a metric logged once per epoch has: these steps may count epochs, not the "
            "others' steps, and nothing in the log says so (no epoch count in its config, no "
            "epoch counter): their steps are reported as the log gives them, and do not compare "
            "them with the other metrics' steps"))
    first = spans[per_value[0]]
    return Counters(units=dict.fromkeys(short, "epoch"), short=short, note=(
        f"{group}: their steps ({min(spans[n].first for n in short)}-{end}) count epochs, not "
        f"the steps the run's other metrics count (to step {longest}): {why}, and "
        f"{per_value[0]} has one value at each step {first.first}-{first.last}, as a metric "
        "logged once per epoch has; they are reported in epochs (\"epoch N\"), the others "
        "in steps"))


def _evidence(end: int, longs: list[str], stats: CounterStats,
              config: Mapping[str, Any]) -> str | None:
    stated = _config_epochs(config)
    if stated is not None and end <= stated[1]:
        return f"the config's {stated[0]} is {stated[1]:g}"
    for name, last in stats.epoch_last.items():
        if name in longs and abs(round(last) - end) <= 1:
            return f"the log's {name} reaches {last:g} at step {stats.spans[name].last}"
    batch = next((name for name in sorted(longs) if BATCH_NAME.search(name)), None)
    if batch is not None:
        return f"{batch} (to step {stats.spans[batch].last}) names its steps batches"
    return None


class LiveCounters:
    """A watch's `CounterStats`, judged again (`other_counters`, into the source's
    `RunInfo.counters`) on a record behind the run's front or of a new metric (a second
    counter's are both), or where the front has doubled (a reader that gives the records in
    step order): a log of one counter costs a dict update a value."""

    def __init__(self) -> None:
        self.stats = CounterStats()
        self._judged_at = 1  # the front where they were last judged

    def add(self, record: Any, info: Any) -> bool:
        """Count `record` (a `Record`); whether `info.counters` was judged again."""
        known, front = len(self.stats.spans), self.stats.front
        self.stats.add(record.step, record.values)
        if record.step >= front and len(self.stats.spans) == known \
                and record.step < 2 * self._judged_at:
            return False
        self._judged_at = max(self.stats.front, 1)
        info.counters = self.judged(info.config)
        return True

    def judged(self, config: Mapping[str, Any] | None = None) -> Counters:
        return other_counters(self.stats, config)


def run_counters(run) -> Counters:
    """`other_counters` of a `Run` (cached on it); none where the run's steps are epochs
    already (Keras: `Run.step_unit`)."""
    cached = run.__dict__.get("_counters")
    if cached is None:
        if (getattr(run, "step_unit", "step") or "step") != "step":
            cached = Counters()
        else:
            cached = other_counters(CounterStats.of_columns(run.columns()), run.config)
        run.__dict__["_counters"] = cached
    return cached


def own_counter(source: Any, metric: str | None) -> bool:
    """Whether `metric` counts epochs beside the other metrics' steps (`metric_units`)."""
    return metric is not None and metric in metric_units(source)


def on_own_counter(run, metric: str | None):
    """`run` as `metric`'s counter sees it: where the metric counts epochs beside the others'
    batches, a copy without the run's events, which are at the batches' steps (a resume at
    batch 400 is not epoch 400). The plan, in the batches' steps too, is left out by the
    analysis (`analysis._analyze_run`)."""
    if not own_counter(run, metric):
        return run
    view = copy.copy(run)
    view.events = []
    return view


def metric_units(source: Any) -> Mapping[str, str]:
    """metric -> unit of the metrics counted by a second counter: of a `Run`, or of a watch's
    `RunInfo` (its `counters`, kept by the watch)."""
    if hasattr(source, "columns"):
        return run_counters(source).units
    counters = getattr(source, "counters", None)
    return counters.units if counters is not None else {}


def same_counter(source: Any, names: Iterable[str]) -> bool:
    """Whether the metrics `names` count one counter (none of them, or all, in `metric_units`)."""
    units = metric_units(source)
    return len({units.get(name, "step") for name in names}) <= 1
