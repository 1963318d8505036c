"""The x axis in the unit a reader thinks in: steps, epochs, tokens or samples.

Phases are always found against the step (the one counter every log has, and the one the
detector's trends and intervals are fitted on); `--x epoch|tokens|samples` reports them in that
unit, read from the counter the log carries beside the step (HF's fractional `epoch`,
`num_input_tokens_seen`, TRL's `num_tokens`, Megatron's `consumed_samples`...). Between two
logged values the unit is interpolated linearly in the step; outside them it is extended with
the run's average rate (an evaluation at step 0 before the first `epoch` value is epoch 0).

HF console logs print no step, only the epoch. Where the Trainer's banner states the steps an
epoch takes exactly, their reader gives each row its optimizer step; otherwise it counts the rows
in ten-thousandths of an epoch, and says so with the unit "epoch/10000" (`unit_scale`): every
text, table and figure then says "epoch 1.35" (`step_text`, `at`), never "step 13500", and their
default x axis is the epoch (`default_unit`).

Some logs' steps are epochs already: Keras' History, a table whose only counter is `epoch`,
Keras' TensorBoard `epoch_*` tags. Their readers say so (`Run.step_unit`, decided here by
`step_unit_of_keys` and `step_unit_of_tags`), and `step_unit` is the one answer every text and
figure asks for its word: "epoch 7", not "step 7". The numbers stay what the log gave.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from phasewatch.errors import UsageError
from phasewatch.output import counted
from phasewatch.run import Run
from phasewatch.step_counters import metric_units
from phasewatch.step_units import (  # noqa: F401
    CARRIERS,
    at,
    positions_in_unit,
    scaled_words,
    step_text,
    unit_scale,
    unit_word,
)

UNITS = ("step", "epoch", "tokens", "samples")
# Keras' TensorBoard callback: `epoch_<metric>` at step = epoch; its validation directory also
# gets `evaluation_<metric>_vs_iterations`, at step = the optimizer's iteration.
KERAS_EPOCH_TAG = "epoch_"
KERAS_ITERATION_TAG = re.compile(r"(?:^|/)evaluation_.+_vs_iterations$")
_STEP_WORD = re.compile(r"(?<!-)\bstep(s?)\b")  # a word, not an option's name (--planned-steps)
_STEPS_OF = re.compile(r"\b(\d+) steps\b")
_PLAN_OPTION = re.compile(r"\(--planned-steps\)")


def default_unit(run: Run) -> str:
    """The x axis a run is reported in without `--x`: the step, or the unit its steps count a
    fraction of (an HF console log without steps: the epoch)."""
    unit = step_unit(run)
    return unit_word(unit) if unit_scale(unit) != 1 else "step"


NUMBERED = "record number"  # the "key" of records numbered 0, 1, 2, ... in a log without steps
NUMBERED_UNIT = "record"  # what their steps count
# step keys that count episodes (`lines.STEP_KEYS`: SB3's `time/episodes` where its timesteps
# are missing, a table of one row per training episode's `episode`, `episode_count`)
EPISODE_KEYS = frozenset({"episode", "episode_count", "time/episodes"})


def step_unit_of_keys(keys: Iterable[str]) -> str:
    """What a table's steps count from the keys its records took the step from: "epoch" when
    every one is `epoch` (Keras' CSVLogger, a per-epoch log without a step column), "episode"
    when every one counts episodes (`EPISODE_KEYS`: a Q-learner's `[{"episode": 0, ...}]` of
    800 rows read "recommended stop: step 16", a training step its run never counted), "record"
    when every record is numbered (`NUMBERED`: a log that states no step, whose numbers count
    its records, not training steps: a figure's axis says "record", its texts "record 12"),
    else "step"."""
    keys = {str(k).strip().lower() for k in keys}
    if keys == {"epoch"}:
        return "epoch"
    if keys and keys <= EPISODE_KEYS:
        return "episode"
    return NUMBERED_UNIT if keys == {NUMBERED} else "step"


class StepKeys:
    """The keys a line reader's records took their step from, and what those steps count
    (`unit`: `step_unit_of_keys` of them, redone only when a key is new, as records come)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.unit = "step"

    def add(self, key: str) -> None:
        if key not in self.keys:
            self.keys.add(key)
            self.unit = step_unit_of_keys(self.keys)


def step_unit_of_tags(tags: Iterable[str]) -> str:
    """What a TensorBoard run's steps count from its scalar tags (without their directory):
    "epoch" when every tag is Keras' `epoch_<metric>` or its `evaluation_<metric>_vs_iterations`
    (whose own steps `step_unit` still calls steps), else "step" (`batch_<metric>` tags, written
    per batch with `update_freq="batch"`, count batches)."""
    tags = [t for t in tags if not KERAS_ITERATION_TAG.search(t)]
    return "epoch" if tags and all(t.startswith(KERAS_EPOCH_TAG) for t in tags) else "step"


def step_unit(run, metric: str | None = None) -> str:
    """The word for the steps of `run` (a Run, or a reader's `RunInfo` while it reads): "epoch"
    where its reader found them to be epochs, else "step". For `metric`, the unit of that
    series (Keras' `evaluation_*_vs_iterations` beside epoch tags counts iterations; a
    validation logged per epoch beside per-batch metrics counts epochs: `step_counters`)."""
    unit = getattr(run, "step_unit", "step") or "step"
    if unit != "step" and metric is not None and KERAS_ITERATION_TAG.search(metric):
        return "step"
    if unit == "step" and metric is not None:  # validations per epoch beside batches
        return metric_units(run).get(metric, unit)
    return unit


def shared_step_unit(runs_and_metrics: Iterable[tuple[Run, str]]) -> str:
    """The unit every (run, metric) counts its steps in (drawn on one axis; the metrics of one
    log); "step" when they differ (a comparison of a Keras run with an HF run says steps, as it
    draws them)."""
    units = {step_unit(run, metric) for run, metric in runs_and_metrics}
    return units.pop() if len(units) == 1 else "step"


def one_counter(run, metrics: Iterable[str], advice: str) -> None:
    """A usage error when `metrics` of one log count their steps in different units (a
    validation logged per epoch beside per-batch metrics): their step numbers are not one
    axis (epoch 5 is no batch 5). `advice` says what to do instead."""
    counts = {metric: step_unit(run, metric) for metric in metrics}
    if len(set(counts.values())) > 1:
        said = ", ".join(f"{metric} counts {unit}s" for metric, unit in counts.items())
        raise UsageError(f"{run.source}: {said} (two counters in one log: epochs beside "
                         f"batches), so they share no x axis; {advice}")


def check_comparable(runs: list[Run]) -> None:
    """A usage error when a run of several to draw on one axis counts its rows in a scaled unit
    (an HF console log without steps: epoch x 10,000) that another of them does not: its
    numbers are no steps, and another run's steps beside them would put it at 10,000 times its
    length (trial 35b: drawn from 2356 to 30000 for a run of about 1276 steps, or, first of the
    two, an error that said to use --x step, which its log cannot give). Runs that all count
    the same scaled unit share that axis (trial 39b: two HF console DPO logs without steps,
    `--x epoch`, were refused as if they had none)."""
    units = {step_unit(run) for run in runs}
    if len(units) == 1:
        return
    for run in runs:
        counts = step_unit(run)
        if unit_scale(counts) != 1:
            word = unit_word(counts)
            raise UsageError(f"{run.source}: its rows read carry no training step (they count "
                             f"{word}s), so it shares no x axis with the other runs: draw it "
                             "alone, or compare the runs in a table with `phasewatch analyze "
                             "RUN1 RUN2 ...`")


def shared_scaled_axis(runs: list[Run], unit: str | None) -> XAxis | None:
    """The axis of several runs whose rows all count one scaled unit (`check_comparable`: HF
    console logs without steps, their steps epoch x 10,000) in that unit, `unit` (`--x`) being
    None or its word: each run's step / 10,000, not one run's own epoch counter, which the other
    runs' steps do not follow. None where the runs count steps."""
    counts = {step_unit(run) for run in runs}
    scaled = counts.pop() if len(counts) == 1 else "step"
    if unit_scale(scaled) == 1 or unit not in (None, unit_word(scaled)):
        return None
    scale = float(unit_scale(scaled))
    return _ScaledAxis(unit_word(scaled), "step", np.array([0.0, scale]), np.array([0.0, 1.0]))


def axis_label(unit: str) -> str:
    """A figure's x-axis label for steps counting `unit`."""
    return "training step" if unit == "step" else unit_word(unit)


def in_step_unit(text: str, unit: str) -> str:
    """`text` (a watch message, a legend entry) with its words "step" / "steps" naming `unit`
    instead: "has got worse since epoch 5" where the steps are epochs; with a scaled unit the
    numbers too: "since step 13500" -> "since epoch 1.35", "the planned 30000 steps" -> "the
    planned 3 epochs". An option keeps its name, with the unit it takes there: "(--planned-steps)"
    -> "(--planned-steps, the planned epochs x 10,000)" on an HF console log without steps."""
    if unit == "step":
        return text
    word, scale = unit_word(unit), unit_scale(unit)
    text = _PLAN_OPTION.sub(f"(--planned-steps, the planned {scaled_words(unit)})", text)
    text = positions_in_unit(text, unit)
    if scale != 1:  # "10000 steps" of epochs x 10,000 is "1 epoch" ("1 epochs" in a legend)
        text = _STEPS_OF.sub(lambda m: counted(step_text(int(m.group(1)), unit), word), text)
    return _STEP_WORD.sub(lambda m: word + m.group(1), text)


@dataclass
class XAxis:
    """step -> unit, from the (step, value) pairs of the carrier metric."""

    unit: str
    carrier: str
    steps: np.ndarray
    values: np.ndarray

    @functools.cached_property
    def counts_rows(self) -> bool:
        """The carrier counts epochs row by row (1, 2, 3... once per epoch: Keras' and W&B's
        `epoch`), not the progress through them (HF's fractional `epoch`): a value logged between
        two of its rows belongs to the earlier one's epoch (a test accuracy logged after epoch
        21's row is epoch 21's, not "epoch 21.5"), and none is past its last."""
        return self.unit == "epoch" and self.values.size > 1 and bool(
            np.all(np.diff(self.values) == 1) and np.all(self.values == np.round(self.values)))

    def at(self, step: float) -> float:
        """The unit's value at `step` (`values_at`)."""
        return float(self.values_at(np.array([step], dtype=np.float64))[0])

    def values_at(self, steps: np.ndarray) -> np.ndarray:
        """The unit's values at `steps` (interpolated; extended at the run's mean rate, never
        below 0; on a carrier that `counts_rows`, the last row's at or before each step)."""
        x = np.asarray(steps, dtype=np.float64)
        s, v = self.steps, self.values
        if s.size == 1:
            return np.full(x.shape, float(v[0]))
        out = np.interp(x, s, v)
        rate = (v[-1] - v[0]) / (s[-1] - s[0]) if s[-1] > s[0] else 0.0
        before, after = x < s[0], x > s[-1]
        out[before] = np.maximum(v[0] + rate * (x[before] - s[0]), 0.0)
        out[after] = np.maximum(v[-1] + rate * (x[after] - s[-1]), 0.0)
        if self.counts_rows:
            rows = x >= s[0]
            out[rows] = v[np.searchsorted(s, x[rows], side="right") - 1]
        return out

    def step_at(self, value: float) -> float:
        """The (fractional) step where the unit reaches `value` (for tick placement)."""
        s, v = self.steps, self.values
        if s.size == 1 or v[-1] <= v[0]:
            return float(s[0])
        if value < v[0] or value > v[-1]:
            rate = (s[-1] - s[0]) / (v[-1] - v[0])
            edge = 0 if value < v[0] else -1
            return float(s[edge] + rate * (value - v[edge]))
        return float(np.interp(value, v, s))

    def format(self, step: float | None) -> str:
        if step is None:
            return "-"
        value = self.at(step)
        if self.unit == "epoch":
            return f"{value:.3g}" if value < 10 else f"{value:.1f}"
        return f"{value:.4g}"


class _ScaledAxis(XAxis):
    """`shared_scaled_axis`: step / scale, a progress through the unit, never a row count."""

    counts_rows = False


def x_axis(run: Run, unit: str | None, metric: str | None = None) -> XAxis | None:
    """The axis for `unit` (None for steps, and for the unit the steps count already: `--x epoch`
    on a run whose steps are epochs, or on a `metric` logged per epoch beside per-batch steps);
    a usage error naming the counters looked for when the log carries none of them, and for
    another unit on such a metric, whose counters (tokens, samples) count the batches' steps."""
    unit = unit or default_unit(run)
    if unit not in UNITS:
        raise UsageError(f"--x must be one of {', '.join(UNITS)}, not {unit!r}")
    counts = step_unit(run)
    if metric is not None and (own := metric_units(run).get(metric)) is not None:
        if unit in ("step", own):
            return None
        raise UsageError(f"--x {unit}: {metric}'s steps count {own}s, and a {unit} counter of "
                         "the log counts the steps of its other metrics (two counters in one "
                         f"log); use --x {own}")
    if unit == "step" and unit_scale(counts) != 1:
        raise UsageError(f"--x step: the rows read from this log carry no training step (they "
                         f"count {unit_word(counts)}s only); use --x {unit_word(counts)}")
    if unit in ("step", counts):  # the steps are in that unit already
        return None
    for name in CARRIERS[unit]:
        own = run.own_name(name)
        if own is None:
            continue
        series = run.column(own)
        if series.size == 0:
            continue
        steps = series.steps.astype(np.float64)
        fell = np.flatnonzero(np.diff(series.values) < 0)
        if fell.size:  # a joined run's stages count their own (trial 37: "stop epoch 73.75")
            i, v, at = fell[0], series.values, series.steps
            times = "" if fell.size == 1 else f", {fell.size} times in all"
            raise UsageError(counter_falls(unit, own, (v[i], int(at[i])), (v[i + 1], int(at[i + 1])),
                                           times) + "; use --x step")
        if series.size >= 2 and series.values[0] == series.values[-1]:
            # (it never falls, so it is constant) a Lightning run stopped by max_steps in its
            # first epoch: epoch 0 on every row, and every phase was "0 -> 0"
            why = " (a run stopped by max_steps within its first epoch)" if unit == "epoch" else ""
            raise UsageError(f"--x {unit}: this log's {own} is {series.values[0]:.4g} at every "
                             f"one of its {series.size} values (steps {int(series.steps[0])}-"
                             f"{int(series.steps[-1])}): no {unit} passed{why}; use --x step")
        return XAxis(unit, own, steps, series.values.astype(np.float64))
    looked = ", ".join(CARRIERS[unit])
    raise UsageError(f"--x {unit}: this log carries no {unit} counter (looked for {looked}); "
                     f"{counters_carried(run)}; use --x step")


def counters_carried(run: Run) -> str:
    """What a log counts its progress in, for an error that refuses another counter: "it
    carries epoch (train/epoch) and tokens (num_input_tokens_seen) beside its step", "its steps
    count epochs", or "it carries no counter beside its step"."""
    counts = step_unit(run)
    if counts != "step":
        return f"its steps count {scaled_words(counts)}"
    found = [f"{unit} ({own})" for unit, names in CARRIERS.items()
             if (own := next((o for n in names if (o := run.own_name(n)) is not None
                              and run.column(o).size), None)) is not None]
    if not found:
        return "it carries no counter beside its step"
    return f"it carries {' and '.join(found)} beside its step"


def counter_falls(unit: str, name: str, before: tuple[float, int], after: tuple[float, int],
                  times: str = "") -> str:
    """Why a counter is no `--x` axis, offline and live alike: it fell, from `before` to
    `after` ((value, step) each)."""
    return (f"--x {unit}: this log's {name} falls from {before[0]:.4g} at step {before[1]} to "
            f"{after[0]:.4g} at step {after[1]}{times}: it is not one running count (the stages "
            "of a joined run, or runs logged into one file, count their own; some loggers log a "
            "count per step)")


def annotate(analysis, axis: XAxis | None, steps_count: str = "step") -> None:
    """Add the phases, boundaries and stop in the axis' unit to `analysis` (JSON: `x`, and
    `start_x`/`end_x` per phase); the `*_step` fields stay steps. `steps_count`: the run's
    `step_unit` for the analysed metric, said in the JSON as `"step_unit": "epoch"` when the
    steps are epochs (the text then says "epoch 7")."""
    if steps_count != "step":
        analysis.extra["step_unit"] = steps_count
    if axis is None:
        return
    for phase in analysis.phases:
        phase.stats["start_x"] = axis.at(phase.start_step)
        phase.stats["end_x"] = axis.at(phase.end_step)
        for key in [k for k in phase.stats if k.endswith("_step") and k != "start_step"]:
            value = phase.stats[key]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                phase.stats[key[:-5] + "_x"] = axis.at(value)  # peak_step -> peak_x
        recover, trough = phase.stats.get("time_to_recover"), phase.stats.get("trough_step")
        if recover is not None and trough is not None:  # a duration from the trough, in the unit
            phase.stats["time_to_recover_x"] = axis.at(trough + recover) - axis.at(trough)
    stop = analysis.recommended_stop_step
    analysis.extra["x"] = {
        "unit": axis.unit,
        "counter": axis.carrier,
        "changepoints": [{"at": axis.at(c.step), "low": axis.at(c.low), "high": axis.at(c.high)}
                         for c in analysis.changepoints],
        "recommended_stop": None if stop is None else axis.at(stop),
    }


def relabel(fig, axis: XAxis | None) -> None:
    """Put the figure's shared step axis in the unit: ticks at round values of the unit, the
    label names it. The data stay drawn against steps, so nothing else moves.

    Each tick is labelled with the round value it was placed for, not with that value read back
    from its step: the round trip extrapolates past the counter's first row and lands a rounding
    error away (an HF console log's epochs from 0.0236: the tick at epoch 0 read "3.469e-18")."""
    if axis is None:
        return
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

    axes = [ax for ax in fig.axes if ax.get_visible()]
    if not axes:
        return
    lo, hi = axes[0].get_xlim()
    ticks = MaxNLocator(nbins=6).tick_values(axis.at(lo), axis.at(hi))
    positions = [axis.step_at(t) for t in ticks]
    placed = dict(zip(positions, (float(t) for t in ticks)))
    label = axis_label(axis.unit)
    for ax in axes:
        ax.xaxis.set_major_locator(FixedLocator(positions))
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda s, _pos: f"{placed.get(s, axis.at(s)):.4g}"))
        ax.set_xlim(lo, hi)
        if ax.get_xlabel():
            ax.set_xlabel(label)
