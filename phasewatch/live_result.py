"""How a watch ended: `WatchResult`, its `watch --format jsonl` summary object and stderr line,
filled from the monitor's last state (`end_result`) and the whole-run answer `analyze` gives at
the end of a watch (`add_whole_run`).

The live alerts are what the monitor said when it said it (bounded state, no hindsight). At the
end the whole log is there, so the summary also carries the phases and the checkpoint `analyze`
gives for the same metric: `watch` run to the end and `analyze` give one answer per run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phasewatch.output import counted
from phasewatch.step_units import at

if TYPE_CHECKING:
    from phasewatch.io.groups import RunCollector
    from phasewatch.planned import PlanSource


@dataclass
class WatchResult:
    """How a watch ended: `reason` is 'end of log' (replay), 'finished' (the log says so),
    'crashed' (the log says the run ended by an error: `RunInfo.crashed`), 'idle', 'stopped'
    (a stop condition), 'interrupted' (stop event / signal) or 'no records'."""

    reason: str = "end of log"
    metric: str | None = None
    direction: str | None = None
    phase: str | None = None
    best_step: int | None = None
    last_step: int | None = None
    n_records: int = 0                   # rows watched, as the format stores them
    n_values: int = 0                    # the watched metric's values: the same in any format
    metric_last_step: int | None = None  # the step of the watched metric's last value
    finished: bool = False
    crashed: bool = False  # the log says an error ended the run (`RunInfo.crashed`)
    live_best_step: int | None = None   # the monitor's own best at the end
    phases: list[str] | None = None      # the whole run's phases, as `analyze` names them
    stop_beats_last: bool | None = None  # the data rank best_step above the last evaluation
    unranked: str | None = None          # why nothing ranks it (`checkpoint.unranked_stop`)
    alone: str | None = None             # why no comparison can (`checkpoint.stop_alone`)
    confidence: str | None = None        # the whole run's, on at most 12 evaluations (analyze's)
    too_few: str | None = None           # 'one evaluation: no phases' (`too_few_to_name`)
    resumes: list[tuple[int, int]] = field(default_factory=list)
    stop_reason: str | None = None       # the stop condition that fired ('overfit', ...)
    aggregate: list[str] | None = None   # the validation sets whose mean `metric` is
    x: dict[str, Any] | None = None      # with --x: the unit, and the steps below in it
    step_unit: str = "step"              # what the metric's steps count ("epoch": Keras)
    records_unit: str = "step"           # what `last_step` counts (every metric's steps)
    source: str | None = None            # the path watched
    in_hf_folder: bool = False           # the log is in an HF output folder with checkpoint-N
    saved: Any = None                    # then the saved checkpoint to load (`saved_checkpoints`)
    waited: float | None = None          # seconds from the start of the watch to its end
    plan: PlanSource | None = None       # the planned length judged against
    to_stop: bool = False                # `phases`/`best_step`: the log up to a --stop-on stop
    warmup: int = 0                      # the monitor's warm-up, in evaluations
    value_word: str = "evaluation"       # what one value is ("reading": a train series)
    sparse_plan: int | None = None       # the evaluations a run planned to be sparse holds
    # the whole run's overfits and disruptions over whose steps the train metric got worse too
    # (`train_beside`): {"phase", "start_step", "end_step", **its `train_worse`}
    train_worse: list[dict] = field(default_factory=list)

    def _live_phase(self) -> str:
        """The monitor's phase at the end; without one, whether it judged the run at all (trial
        36b: "no significant change yet" of a 7-evaluation fall of 28 sds, in its warm-up)."""
        if self.phase is not None:
            return self.phase
        if self.sparse_plan is not None:
            return self._sparse_phase()
        if self.n_values < self.warmup:
            return (f"none said ({counted(self.n_values, self.value_word)}, within its warm-up of "
                    f"{self.warmup})")
        from phasewatch.confidence import FEW_POINTS  # on first use: start-up time

        if self.plan is None and self.n_values <= FEW_POINTS:
            return self._unplanned_sparse_phase()
        return "no significant change yet"

    def _unplanned_sparse_phase(self) -> str:
        """The live phase of a run of at most FEW_POINTS evaluations with no planned length:
        the monitor reads it as the first values of a run of unknown length (monitoring.md:
        only the summary at its end names a sparse run's phases), so nothing it left unsaid is
        "no significant change" (keras-tweets-lstm-10ep's val loss, 7.4 sds better, then 6.3
        sds worse, ended "live phase no significant change yet" beside "whole run: improvement
        > overfit"; with --planned-steps the refit stopped it at its 10th evaluation)."""
        return (f"none said ({counted(self.n_values, self.value_word)}: without a planned length a "
                "run this short is judged as the start of a longer one; --planned-steps judges "
                "it as the whole run)")

    def _sparse_phase(self) -> str:
        """The live phase of a run planned to be sparse, said by the rule that judges it: the
        refit, from its SPARSE_RUN_FROM-th evaluation, for an overfit or a dip (monitoring.md),
        not the warm-up (trial 40b: wandb-cause-span-5ev cut at its 4th of 5 evaluations,
        "none said (4 evaluations, within its warm-up of 8)"; hf-ai-detector-3ev, 3 of 3).
        Past the refit's start it is still "none said", not "no overfit or dip": the refit
        stops only the overfits it judges (`short_run`), and one it leaves, such as a held-out
        loss worse from its first evaluation that holds at its last two, is still the whole
        run's overfit (wandb-klue-topic-6ev's eval loss 0.599 -> 0.732 ended "live phase no
        overfit or dip" beside "whole run: overfit (high confidence)")."""
        from phasewatch.online.short_run import SPARSE_RUN_FROM

        n, rule = self.n_values, (f"a run planned to {counted(self.sparse_plan, self.value_word)} "
                                  f"is judged by the refit from its {SPARSE_RUN_FROM}th")
        if n < SPARSE_RUN_FROM:
            unreached = ", which it does not reach" if self.sparse_plan < SPARSE_RUN_FROM else ""
            return f"none said ({counted(n, self.value_word)}: {rule}{unreached})"
        # past the warm-up the level tests judged the other phases on the last few values, with
        # a noise the run's own trend inflates on so few (short_run: 0.03-0.18 against a true
        # 0.01-0.02): not "no significant change yet" (wandb-naver-bert-10ep's val acc, 0.784
        # then 0.828-0.852, "+5.0 sd" offline, ended so beside "whole run: improvement")
        judged = ("" if n < self.warmup else
                  f", which leaves them {counted(n - self.warmup + 1, self.value_word)}")
        return (f"none said ({counted(n, self.value_word)}: {rule} for an overfit or a dip, its "
                f"other phases after the warm-up of {self.warmup}{judged})")

    def to_dict(self) -> dict[str, Any]:
        """The last object of `watch --format jsonl` (deterministic: no end reason that
        depends on how the watch was ended, so replay and follow print the same)."""
        phase = self._live_phase()
        message = (self._nothing_read() if self.metric is None else
                   f"{self.metric}: phase {phase}, best {at(self.best_step, self.step_unit)}")
        if self.metric is not None and self.phases is not None:
            # the monitor's phase and best beside the whole run's (trial 34b: "phase no
            # significant change yet, best step 670" paired the live phase with analyze's best)
            message = f"{self.metric}: live phase {phase}, {self._live_best()}{self._whole_run()}"
        return {"event": "summary", "step": self.last_step, "onset_step": None,
                "best_step": self.best_step, "metric": self.metric, "value": None,
                "message": message,
                "phase": self.phase, "direction": self.direction, "records": self.n_records,
                "values": self.n_values, "last_value_step": self.metric_last_step,
                "finished": self.finished, "live_best_step": self.live_best_step,
                "phases": self.phases, "stop_beats_last": self.stop_beats_last,
                "planned": self.plan.to_dict() if self.plan is not None else None,
                **({"to_stop": True} if self.to_stop else {}),
                **({"crashed": True} if self.crashed else {}),
                **({"confidence": self.confidence} if self.confidence else {}),
                **({"train_worse": self.train_worse} if self.train_worse else {}),
                # the steps count epoch/10000 (an HF console log that states no step); the
                # metric's steps count epochs, `step` the records' (`step_counters`)
                **({"step_unit": self.step_unit} if "/" in self.step_unit
                   or self.step_unit != self.records_unit else {}),
                **({"records_unit": self.records_unit}  # what `step` counts, then
                   if self.step_unit != self.records_unit else {}),
                **({"saved_checkpoint": self.saved.to_dict() if self.saved else None}
                   if self.in_hf_folder else {}),
                **({"x": self.x} if self.x else {})}

    def _live_best(self) -> str:
        """'live best at step 142', said as the monitor's where the whole run's checkpoint is
        another (two readers took the two for rival answers: trials 38b, 38c)."""
        said = f"live best at {at(self.live_best_step, self.step_unit)}"
        if self.live_best_step != self.best_step:
            said += " (the monitor's, without hindsight)"
        return said

    def describe(self, path: str | Path) -> str:
        """The one line `watch` prints on stderr at the end (the reason included)."""
        if self.metric is None:
            return f"{self._nothing_read(path)} ({self.reason})"
        phase = self._live_phase()
        why = f"; stopped: {self.stop_reason}" if self.stop_reason else ""
        # why it ended; a follow stopped by Ctrl-C or a signal says so, or its "whole run:"
        # read as the end of a run still training (trial 61)
        ended = {"finished": "; the log says the run finished", "idle": "; idle, ended",
                 "crashed": "; the log says the run crashed",
                 "interrupted": "; interrupted, ended (the run may still be training)",
                 }.get(self.reason, "")
        unit = self.step_unit
        whole, said = "", f"best {at(self.best_step, unit)}"
        if self.phases is not None:
            # the monitor's best is decided without hindsight (the best evaluation where its
            # smoothed level peaked so far), the whole run's with it: say which is which
            whole, said = self._whole_run(), self._live_best()
        # the monitor's phase as it stood at the end (said live, without hindsight) beside the
        # whole run's: "live phase" so the two are not read as one answer
        live_phase = "live phase" if self.phases is not None else "phase"
        # the plan decides what is early: the same values with and without one alert apart
        planned = "" if self.plan is None else \
            f"; planned length {self.plan.length(unit)} ({self.plan.where()})"
        # the metric's last step where the records go further (a per-batch loss logged at
        # 10,000 steps beside 20 validations every 5 epochs: "up to step 10000" alone read as
        # the validations' reach, beside a best at step 25)
        last = "" if self.metric_last_step in (None, self.last_step) else \
            f", the last at {at(self.metric_last_step, self.step_unit)}"
        # its steps another counter than the records' (epochs beside batches: step_counters)
        others = "" if self.step_unit == self.records_unit else " of the other metrics"
        return (f"watched {counted(self.n_records, 'record')} "
                f"({counted(self.n_values, 'value')} of {self.metric}{last}) up to "
                f"{at(self.last_step, self.records_unit)}{others}; "
                f"{self.metric}: {live_phase} {phase}, {said}{why}{ended}{planned}{whole}")

    def _whole_run(self) -> str:
        """'; whole run: plateau (low confidence), checkpoint to keep: step 40 (no better than
        the last beyond the noise)': what `analyze` says of the log, with the hedges it prints
        beside its stop. One text for the stderr line (`describe`) and the JSONL summary's
        message (`to_dict`), so a notebook reading the summary is told the confidence and the
        hedges a user reading stderr is told."""
        named = self.too_few or " > ".join(self.phases or ()) or "no values to analyse"
        if self.confidence and not self.too_few:
            named += f" ({self.confidence} confidence)"
        whole = f"; {self._scope()}: {named}, checkpoint to keep: {at(self.best_step, self.step_unit)}"
        if self.saved is not None:
            whole += f" ({self.saved.text(self.metric)})"
        if self.alone is not None:  # as `analyze` says it beside its stop
            whole += f" ({self.alone})"
        elif self.stop_beats_last is False:
            whole += " (no better than the last beyond the noise)"
        elif self.unranked is not None:  # as `analyze` says it beside its stop
            whole += f" (not established against the last: {self.unranked})"
        return whole + self._train_worse_text()

    def _train_worse_text(self) -> str:
        """'; eval_loss: the overfit from step 1250 to step 2000 is no overfit to the training
        data: the train loss (loss) rose ...', as `analyze` warns (`train_beside`)."""
        from phasewatch.train_beside import train_worse_text

        return "".join("; " + train_worse_text(self.metric, w["phase"], w["start_step"],
                                               w["end_step"], w, self.step_unit)
                       for w in self.train_worse)

    def _scope(self) -> str:
        """What `phases` and `best_step` are of."""
        return "the log up to the stop" if self.to_stop else "whole run"

    def _nothing_read(self, path: str | Path | None = None) -> str:
        """What a watch that read no record says (a follow stopped by a signal before its
        log had a record; one that ended idle or at the run's end is exit 3 instead)."""
        where = path if path is not None else self.source
        took = "" if self.waited is None else f" in {seconds(self.waited)}"
        return f"no record was read from {where}{took}"


def seconds(value: float) -> str:
    """A duration as a watch says it: `0.3 s`, `12 s`."""
    return f"{value:.1f} s" if value < 9.95 else f"{value:.0f} s"


def add_whole_run(result: WatchResult, path: str | Path, notice: Callable[[str], None],
                  read: int | None = None, said: set[str] | None = None,
                  replayed: RunCollector | None = None, **options: Any) -> None:
    """Fill `result.phases` and `result.best_step` with what `analyze` says of the whole log
    for the watched metric and direction, with the analyze `options` the watch was given (the
    noise: `noise_sd`, `eval_size`). A replay's records, as it fed them (`replayed`), are the
    run, as `read_run` collects the same records: one read of the log. A follow reads the log
    once more, after the watch: the file may have been rotated or rewritten. A watch
    stopped by `--stop-on` had `read` records: the answer is the log's up to the stop, not
    what the log holds after it (a replay's later records; a resumed run's other branch).
    A metric chosen without --metric (`said`: the notes said on it) that is not the one the
    Trainer kept its best checkpoint by is said here as `analyze` says it: the records the
    choice was made on may end before that checkpoint (trial 40c: `analyze` of a
    load_best_model_at_end run warned, its replay did not); so are the warnings `analyze_run`
    gives on the run beside the series (`Analysis.run_notes`: a best checkpoint that is the
    worst evaluation of the metric watched, a train loss that diverged)."""
    from phasewatch.analysis import analyze_run
    from phasewatch.errors import PhasewatchError
    from phasewatch.io import read_run, with_token_store

    try:
        if replayed is not None:
            replayed.finish()
            run = with_token_store(replayed.build(), path)
        else:
            run = read_run(path, read)
        result.to_stop = read is not None
        if result.aggregate:  # the mean of several validation sets, as the monitor watched it
            from phasewatch.metric_sets import with_mean

            run = with_mean(run, result.aggregate, result.metric)[0]
        analysis = analyze_run(run, metric=result.metric, direction=result.direction, **options)
    except PhasewatchError as exc:
        notice(f"{path}: the whole-run summary is not available: {exc}")
        return
    held = run.column(run.resolve_metric(result.metric)).values.size
    if read is None and held < result.n_values:
        # a file rewritten while it was watched (a logger reopened with "w" after a resume,
        # trial 34): the answer is of what it holds now, which the alerts above were not
        notice(f"{path}: the whole-run answer is of the {counted(held, 'value')} of "
               f"{result.metric} the log holds now, where the watch read {result.n_values}: it "
               "was truncated or rewritten while watched, and what it held before is gone")
    if said is not None:
        from phasewatch.choice_notes import loss_beside_score_note, trainer_best_note
        from phasewatch.train_beside import roles_of

        # ... and the held-out loss beside the score taken (or the scores beside the loss),
        # which the records the choice was made on may not hold enough of
        notes = [trainer_best_note(run, result.metric)] + [
            loss_beside_score_note(run, role) for role in sorted(roles_of(run, result.metric))]
        for note in dict.fromkeys(notes):
            if note is not None and note not in said:
                notice(f"{path}: {note}")
    for run_note in analysis.run_notes:
        # as `analyze` warns beside the same phases: the Trainer's best checkpoint that is the
        # worst of the metric watched (its load_best_model_at_end loads it, whatever checkpoint
        # the answer names), a train loss non-finite from a step on (the alerts and the
        # whole-run answer measured the evaluations of a broken model)
        notice(f"{path}: {run_note}")
    if note := analysis.extra.get("rate_note"):
        # a rate on a few items whose own noise estimate is below one item: the alerts and the
        # whole-run answer judged its one-item steps as many sds, as `analyze` warns beside it
        notice(f"{path}: {note}")
    result.phases = [p.name for p in analysis.phases]
    from phasewatch.results import too_few_to_name

    result.too_few = too_few_to_name(analysis)
    if analysis.recommended_stop_step is not None:
        result.best_step = analysis.recommended_stop_step
    from phasewatch.saved_checkpoints import for_run

    result.in_hf_folder, result.saved = for_run(path, run, analysis)
    result.stop_beats_last = analysis.extra.get("stop_beats_last")
    from phasewatch.checkpoint import stop_alone, unranked_stop

    result.unranked, result.alone = unranked_stop(analysis), stop_alone(analysis)
    result.confidence = analysis.extra.get("confidence")
    result.value_word = analysis.value_word
    result.train_worse = [{"phase": p.name, "start_step": p.start_step, "end_step": p.end_step,
                           **p.stats["train_worse"]}
                          for p in analysis.phases if "train_worse" in p.stats]


def past_plan(planned: int, last: int, unit: str) -> str:
    """What to say of a run that went on past the `--planned-steps` it was given, in the units
    the output shows: an HF console log without steps counts epoch x 10,000 ("epoch/10000"),
    so a plan of 296 (a max_steps) is epoch 0.0296 there, and the fix is epochs x 10,000."""
    from phasewatch.step_units import at, step_text, unit_scale, unit_word

    scale, word = unit_scale(unit), unit_word(unit)
    if scale == 1:
        return (f"the run went on past --planned-steps {planned} (to {at(last, unit)}), so what "
                "is early in it was judged against a shorter run; give the "
                f"{word} the run is planned to end at")
    return (f"the run went on past --planned-steps {planned}, which this log, whose steps count "
            f"{word} x {scale:,}, reads as {at(planned, unit)} (the run reached "
            f"{at(last, unit)}), so what is early in it was judged against a shorter run; give "
            f"the planned {word}s x {scale:,} (--planned-steps {last} for {step_text(last, unit)} "
            f"{word}s)")


def end_result(result: WatchResult, monitor, info, records: int, path: str | Path,
               notice: Callable[[str], None], axis=None, planned_option: int | None = None,
               read: int | None = None, said: set[str] | None = None,
               replayed: RunCollector | None = None, **noise: Any) -> None:
    """Fill `result` at the end of a watch of `path`: the monitor's last state (`monitor`, a
    `PhaseMonitor`; `info`, the source's `RunInfo`; `records`, the rows watched), then, when
    the watched metric was found, the whole run's answer (`add_whole_run`, with the `noise`
    options and the plan the watch was given; after a stop, of the `read` records read; a
    replay's, of the records it read, `replayed`), then with `--x` (`axis`, a `LiveAxis`)
    where the steps are in the axis' unit. A run that went on past the `--planned-steps` it was given
    (`planned_option`) is said to have: what is early in it was judged against a shorter run.
    `said`: the notes said on the metric chosen without --metric (None when it was named)."""
    from phasewatch.xaxis import shared_step_unit, step_unit

    result.step_unit = step_unit(info, result.metric)
    # the records' last step counts what all their metrics count (Keras' iteration tags
    # beside its epoch tags: steps)
    result.records_unit = shared_step_unit((info, name) for name in monitor.seen_)
    result.phase, result.best_step = monitor.phase, monitor.best_step
    result.last_step, result.n_records = monitor.last_step_, records
    result.n_values = monitor.trackers_[0].series.n
    result.metric_last_step = monitor.trackers_[0].series.last_step
    result.warmup = monitor.config.warmup
    result.sparse_plan = sparse_plan(monitor.trackers_[0])
    result.live_best_step = monitor.best_step
    if monitor.should_stop and monitor.stop_reason_ is not None:
        result.stop_reason = monitor.stop_reason_.name.lower()
    if planned_option is not None and (monitor.last_step_ or 0) > planned_option:
        notice(f"{path}: {past_plan(planned_option, monitor.last_step_, result.step_unit)}")
    if not monitor.missing_metrics():  # a metric never logged is reported already
        plan = {} if planned_option is None else {"planned_steps": planned_option}
        add_whole_run(result, path, notice, read, said=said, replayed=replayed, **noise, **plan)
    from phasewatch.step_counters import own_counter

    if axis is not None and axis.steps and not own_counter(info, result.metric):
        # (not where the metric's steps are epochs beside the axis' batches: `step_counters`)
        result.x = {"unit": axis.unit, "step": axis.at(result.last_step),
                    "best": axis.at(result.best_step), "live_best": axis.at(result.live_best_step)}


def sparse_plan(tracker) -> int | None:
    """The evaluations the plan holds at the cadence seen, from the first one, where the
    monitor judges the run as planned to be sparse (`short_run.planned_sparse`), else None:
    wandb-cause-span-5ev, evaluated every 3125 steps from 3125 to the 15625 it plans, 5."""
    from phasewatch.online.short_run import planned_sparse

    plan, steps = tracker.plan(), list(tracker.series.steps)
    if not planned_sparse(plan, steps):
        return None
    every = (steps[-1] - steps[0]) / (len(steps) - 1)
    return int((plan.planned - steps[0]) / every + 1e-9) + 1
