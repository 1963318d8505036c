"""Several rows of one metric at one step, in a run whose step counter does not go back.

grpo-drgrpo-aser-reward logs 800 rows, 4 a step: one per prompt group, each the mean reward of
its 4 completions. Kept as "the later row wins", the series was one prompt group's k/4 (the 4
rows of step 3 are 0, 0, 0.5 and 1; step 3 read 1, its best), 600 of the 800 readings were
dropped, and nothing said so. So, per metric:
- where every step has the same number k >= 2 of rows (a per-group or per-rank log of two steps
  or more; the last step may have fewer, a log cut within its step), the mean of the k rows is
  the step's reading;
- else a value logged again at its step supersedes the earlier one (a value printed again
  when an episode ends at the step, a corrected value), as before;
- either way a warning names the metrics, their steps and rows, and what is read, unless the
  rows of each step are equal (exact double logging collapses silently) or the metric times
  the run (`timing_names`: a clock, a speed, a memory reading differs between any two rows by
  nature; an evaluation logged twice at the end with equal scores warned of its
  `eval_runtime`, and a CSV's `timestamp` warned at every step, beside an eval loss read right).
A metric's second row at a step whose value is the mean of all its readings so far (within
1/1000 of their range), where every earlier step had one row, is a run-average summary, not a
reading: json-dpo-jsonextract-reward's exporter copied HF's closing `train_loss` (0.2130, the
mean of the run's 90 losses) into its `loss` list as a second row at step 90, which replaced
the step's real 0.0645 and moved the recommended stop from 90 to 74. It is left out, and said.

Every rule looks only at rows before the one it judges or at the step's own rows, so
`resolver.Resolver` (live) reads each step as this module does (offline); the one exception,
a per-group metric whose row count changes later, is resolved there by a rewind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from phasewatch.timing_names import is_timing

if TYPE_CHECKING:  # numpy is imported where a log is resolved, not by a watch (start-up time)
    import numpy as np

SUMMARY_TOLERANCE = 1e-3  # of the readings' range: a run-average re-logged at full precision
SUMMARY_MIN_READINGS = 5  # readings a run-average summary is the mean of, at least
NAMES_SHOWN = 4


def exact_mean(rows) -> float:
    """The mean of a step's rows, their sum correctly rounded (`math.fsum`): a plain sum of -1,
    1 and 1e-5 depends on their order (3.3333333333333337e-06 or 3.33333333335517e-06), and the
    rows of a step reach the offline reader, the sparse one and a live watch in different orders.
    Rows of +-1e308 give +-inf, as logged; rows of inf and -inf give NaN, as their plain sum
    does (fsum refuses them)."""
    try:
        return math.fsum(rows) / len(rows)
    except (OverflowError, ValueError):
        return float(sum(rows)) / len(rows)


def reads_mean(k: int, counts_regular: bool) -> bool:
    """Whether a metric of two steps or more reads the mean of the rows of each step: every
    step had the same number `k` >= 2 of rows (`counts_regular`). A metric of one step logged
    twice (an evaluation run again at the end on the best checkpoint, a second `train()`'s
    summary) reads its later row."""
    return counts_regular and k >= 2


def is_summary(value: float, total: float, n: int, low: float, high: float) -> bool:
    """Whether a second row `value` at a step is the run average of the metric's `n` readings
    so far (their sum `total`, range [`low`, `high`])."""
    if n < SUMMARY_MIN_READINGS or not high > low:
        return False
    return abs(value - total / n) <= SUMMARY_TOLERANCE * (high - low)


@dataclass
class RowNote:
    """What was read of one metric logged several times at its steps (for the warning)."""

    name: str
    mean: bool  # the mean of its k rows per step is read (else the later row)
    k: int  # rows per step (mean), or the most rows at one step
    steps: int  # steps with several rows
    rows: int  # rows at those steps
    n_steps: int  # the metric's steps
    summary: tuple[int, float, int] | None = None  # (step, value, readings it averages)
    span: tuple[int, int] = (0, 0)  # the first and last step with several rows


def resolve_rows(name: str, steps: np.ndarray, values: np.ndarray,
                 notes: list[RowNote]) -> np.ndarray:
    """The values at the distinct steps of one metric whose `steps` (file order) never go back
    but repeat; a `RowNote` is added to `notes` where the rows of a step differ."""
    import numpy as np

    summary = None
    starts = np.flatnonzero(np.r_[True, steps[1:] != steps[:-1]])
    counts = np.diff(np.r_[starts, steps.size])
    if counts[0] == 1 and values.size >= 2:
        cut = _summary_row(steps, values, starts, counts)
        if cut is not None:
            at, n = cut
            summary = (int(steps[at]), float(values[at]), n)
            steps, values = np.delete(steps, at), np.delete(values, at)
            starts = np.flatnonzero(np.r_[True, steps[1:] != steps[:-1]])
            counts = np.diff(np.r_[starts, steps.size])
    ends = starts + counts
    k = int(counts[0])
    mean = counts.size >= 2 and reads_mean(k, bool((counts[:-1] == k).all() and counts[-1] <= k))
    if mean:  # summed exactly: the same whatever order a step's rows come in (`exact_mean`)
        read = np.array([exact_mean(values[a:b]) for a, b in zip(starts, ends)])
    else:
        read = values[ends - 1]
    several = counts > 1
    if several.any() or summary is not None:
        differ = _differ(values, starts, counts)
        if differ or summary is not None:
            at = steps[starts[several]] if several.any() else steps[:1]
            notes.append(RowNote(name, mean, k if mean else int(counts.max()),
                                 int(several.sum()), int(counts[several].sum()),
                                 int(starts.size), summary, (int(at[0]), int(at[-1]))))
    return read


def _differ(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> bool:
    """Whether the rows of some step hold different values (NaN equal to NaN)."""
    import numpy as np

    same_step = np.ones(values.size, dtype=bool)
    same_step[starts] = False
    prev = np.r_[values[:1], values[:-1]]
    changed = (values != prev) & ~(np.isnan(values) & np.isnan(prev))
    return bool((changed & same_step).any())


def _summary_row(steps: np.ndarray, values: np.ndarray, starts: np.ndarray,
                 counts: np.ndarray) -> tuple[int, int] | None:
    """(position, readings averaged) of the second row of the first step with several rows
    when every step before had one and it is the mean of the readings before it, else None."""
    import numpy as np

    multi = np.flatnonzero(counts > 1)
    if multi.size == 0:
        return None
    at = int(starts[multi[0]]) + 1
    before = values[:at]
    finite = before[np.isfinite(before)]
    if finite.size == 0 or not np.isfinite(values[at]):
        return None
    if is_summary(float(values[at]), float(finite.sum()), int(finite.size),
                  float(finite.min()), float(finite.max())):
        return at, int(finite.size)
    return None


def summary_warning(name: str, step: int, value: float, n: int) -> str:
    return (f"{name}: a second row at step {step} holds {value:.4g}, the mean of its {n} "
            "readings up to it (a run-average summary such as HF's closing train_loss, not a "
            "reading): left out")


def row_warnings(notes: list[RowNote], resumed: list[tuple[int, int]] = ()) -> list[str]:
    """One warning per kind of resolution (metrics logged alike said together). The later
    row of a metric whose steps logged twice all lie in a block a resumed run logged again
    (`resumed`: (step, went back from)) is the resume's, which its own warning says."""
    out = []
    kinds: dict[tuple, list[RowNote]] = {}
    for note in notes:
        if is_timing(note.name) or not note.mean and note.summary is None and any(
                lo <= note.span[0] and note.span[1] <= hi for lo, hi in resumed):
            continue
        if note.summary is not None:
            out.append(summary_warning(note.name, *note.summary))
        if note.steps:
            kinds.setdefault((note.mean, note.k, note.steps, note.rows, note.n_steps), []).append(note)
    # in name order: the bulk and the line-by-line readers meet a step's metrics in different
    # orders, and must say the same (a property test found "acc, loss" against "loss, acc")
    for (mean, k, steps, rows, n_steps), same in sorted(
            kinds.items(), key=lambda kind: min(n.name for n in kind[1])):
        same = sorted(same, key=lambda n: n.name)
        names = ", ".join(n.name for n in same[:NAMES_SHOWN]) + (
            f" and {len(same) - NAMES_SHOWN} more" if len(same) > NAMES_SHOWN else "")
        if mean:
            where = (f"each of {n_steps} steps" if steps == n_steps
                     else f"{steps} of {n_steps} steps (the last has fewer)")
            out.append(f"{names}: {k} rows with different values at {where} ({rows} rows a "
                       f"metric: one per prompt group, rank or batch): the mean of its {k} rows "
                       "per step is read")
        else:
            out.append(f"{names}: logged several times at one step with different values, at "
                       f"{steps} of {n_steps} steps ({rows} rows, up to {k} at a step; not as "
                       "many rows at every step): the later row of each step is kept")
    return out


class LiveRows:
    """`resolve_rows` one row at a time, for one metric of one step counter (`Resolver`): the
    value its current step reads after each row, and when the steps fed so far must be read
    otherwise: "means" once its first step is over with k >= 2 rows (that step was fed its
    later row: a metric of one step reads it), "later" once the count of rows stops being k
    at every step or the counter goes back (offline, such a metric reads the later row of
    each step throughout)."""

    __slots__ = (
        "differed_at",
        "done",
        "high",
        "k",
        "last",
        "low",
        "n",
        "n_all",
        "regular",
        "rows",
        "step",
        "sum_all",
        "summary_done",
    )

    def __init__(self) -> None:
        self.step: int | None = None  # the current step
        self.n = 0  # its rows so far
        self.rows: list[float] = []  # its rows so far, summed exactly (`exact_mean`)
        self.last = 0.0  # its latest row
        self.k = 0  # rows at each complete step (0: none complete yet)
        self.regular = True  # every complete step had k rows, and the counter never went back
        self.summary_done = False
        self.sum_all, self.n_all = 0.0, 0  # the finite readings, for `is_summary`
        self.low, self.high = math.inf, -math.inf
        self.done: tuple[int, float, float] | None = None  # (step, mean, later row) before
        # the first step whose rows differ (NaN equal to NaN), as `_differ` asks offline: rows
        # that only repeat each other (ranks printing one line alike) are read and said once
        self.differed_at: int | None = None

    @property
    def means(self) -> bool:
        """The current step reads the mean of its rows."""
        return reads_mean(self.k, self.regular)

    @property
    def mean(self) -> float:
        return exact_mean(self.rows)

    def take(self, step: int, value: float) -> tuple[float | None, str | None]:
        """(what the step reads after this row, None for a run-average summary row left out;
        None, "means" or "later": how the steps fed before must be read from now on)."""
        change = None
        if step != self.step:
            if self.step is not None:
                self.done = (self.step, self.mean, self.last)
                change = self._complete(went_back=step < self.step)
            self.step, self.n, self.rows = step, 0, []
        elif (self.n == 1 and self.k == 1 and self.regular and not self.summary_done
              and math.isfinite(value)
              and is_summary(value, self.sum_all, self.n_all, self.low, self.high)):
            self.summary_done = True
            return None, None
        if self.n and self.differed_at is None and value != self.last \
                and not (math.isnan(value) and math.isnan(self.last)):
            self.differed_at = step
        self.n += 1
        self.rows.append(value)
        self.last = value
        if math.isfinite(value):
            self.sum_all += value
            self.n_all += 1
            self.low, self.high = min(self.low, value), max(self.high, value)
        if self.regular and self.k and self.n > self.k:
            change = change or ("later" if self.means else None)
            self.regular = False
        return (self.mean if self.means else value), change

    def _complete(self, went_back: bool) -> str | None:
        """The current step is over: how the steps fed before must be read from now on."""
        had_means = self.means
        if went_back:
            self.regular = False
            return "later" if had_means else None
        if self.k == 0:
            self.k = self.n
            return "means" if self.means else None
        if self.regular and self.n != self.k:
            self.regular = False
            return "later" if had_means else None
        return None
