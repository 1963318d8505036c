"""The planned length of a run read whole (`inspect`, `analyze`), and the note when its log ends
before it. What a config or a logged epoch says the plan is lives in `planned`; the plan of a
run followed as it is written, refined record by record, in `live_plan`. Here the two sources a
whole log offers are put together: the plan its config (or its logged epochs) states, else where
its learning rate's decay ends (`lr_schedule`), and no further than the step a finished log
says it ended at.
"""

from __future__ import annotations

from phasewatch.lr_schedule import finished_before, lr_plan
from phasewatch.planned import (
    EPOCH_METRICS,
    epoch_plan,
    plan_in_other_steps,
    planned_epochs,
    planned_steps,
)


def run_plan(run, least: bool = False) -> int | None:
    """The planned length `watch` judges "early" against (`phasewatch.planned`): stated in the
    config, or the planned epochs x the steps the logged epoch says one takes, or the config's
    `epochs` where the run's steps are its epochs (`EpochSteps`, over its rows as watch reads
    them), else where the logged learning rate's linear or cosine decay ends (`lr_schedule`).
    With `least`, the fewest steps a rounded epoch leaves the plan (`epoch_plan`). A finished
    log's plan is not past its last step (`stated_plan`)."""
    return stated_plan(run, least=least)[0]


def stated_plan(run, unit: str = "step", least: bool = False) -> tuple[int | None, str | None]:
    """(`run_plan`, the words it is given with: where the learning rate's decay ends, or why
    the run's last step is the plan where the log says it finished before that end
    (`lr_schedule.finished_before`); None for a plan its config or its epochs state)."""
    plan, decay = plan_and_decay(run, least)
    if plan is None or decay is None:
        return plan, None
    last = finished_at(run)
    why = finished_before(plan, last, decay, unit)
    return (last, why) if why is not None else (plan, f"where the learning rate's {decay} ends")


def finished_at(run) -> int | None:
    """The last step of a run whose log says it finished (`Run.finished`), else None."""
    ends = [int(steps[-1]) for steps, _ in run.columns().values() if steps.size]
    return max(ends) if ends and getattr(run, "finished", False) else None


def plan_and_decay(run, least: bool = False) -> tuple[int | None, str | None]:
    """`run_plan`, and where it is where the learning rate's decay ends (no config states one)
    the words the texts that give the plan name as its source ("cosine decay to 0,
    learning_rate,"), else None: the rates fitted once for both."""
    plan = _configured_plan(run, least)
    if plan is not None:
        return plan, None
    decay = lr_plan(run)
    if decay is None:
        return None, None
    return decay[0].end, f"{decay[0].words()}, {decay[1]},"


def _configured_plan(run, least: bool = False) -> int | None:
    """`run_plan` from the config and the logged epochs alone."""
    from phasewatch.epoch_steps import epoch_count

    if plan_in_other_steps(run.config, run.format) is not None:
        return None
    plan, epochs = planned_steps(run.config), planned_epochs(run.config)
    if plan is None and epochs is None and (count := epoch_count(run.config)) is not None:
        return _epoch_steps_plan(run, count)
    if plan is not None or epochs is None:
        return plan
    name = next((name for name in EPOCH_METRICS if name in run.metrics), None)
    if name is None:
        return None
    logged = run.column(name)  # its latest epoch, as watch reads it at the end
    if not logged.values.size:
        return None
    repeats = (logged.values[1:] == logged.values[:-1]) & (logged.steps[1:] > logged.steps[:-1])
    return epoch_plan(epochs, int(logged.steps[-1]), {name: float(logged.values[-1])},
                      rounded=bool(repeats.any()), least=least)


def _epoch_steps_plan(run, count: int) -> int | None:
    """`EpochSteps` over the run's rows, a step's values together, as watch feeds them."""
    from phasewatch.epoch_steps import EpochSteps

    counter = EpochSteps(count)
    for step, rows in run.table.groupby("step", sort=True):
        counter.add(int(step), dict(zip(rows["metric"], rows["value"])))
        if counter.broken:  # a per-batch log of many steps is not read to its end
            break
    return counter.plan


ENDS_EARLY = 0.98  # a log whose last step is below this fraction of its plan ended early




def unfinished_note(run, plan: int | None, decay: str | None = None) -> str | None:
    """A warning when the log ends before the run's `plan` (`run_plan`; `decay`, the words of
    the learning rate's decay where the plan is where it ends: `plan_and_decay`): a run read
    while it trains, or one stopped or killed, is analysed as it stands, and a reader of the
    phases (or of a sweep's row) must know the run did not reach its end (trial 33: a CHORD
    run read at step 1320 of 2000 printed its phases and a "recommended stop" with nothing
    saying so). A run whose log says it finished is judged against the plan its config states
    only (no estimate: its end is known): one that finished short of it was cut short by its
    trainer (an early stop, a time budget). Why it ended there: `early_end.why_short`."""
    columns = [steps for steps, _ in run.columns().values() if steps.size]
    ends = [int(steps[-1]) for steps in columns]
    least, margin = "", 0.0
    finished = plan is None and getattr(run, "finished", True)
    if plan is None and not finished:  # a rounded epoch's bound
        (plan, decay), least = plan_and_decay(run, least=True), " or a later one"
    elif plan is None:  # a finished run: the plan its config states, short of which it ended
        config = getattr(run, "config", None) or {}
        in_log = plan_in_other_steps(config, getattr(run, "format", "")) is None
        plan = planned_steps(config) if in_log else None
    if finished or decay:
        import numpy as np

        # ... by more than its logging interval: a Trainer logging every 50 steps of 291 has
        # its last row at 250 (the notebooks' tables of four corpus runs that finished); and the
        # rate a row logs is the one its interval trains with, so a decay ends an interval after
        # the last row (a cosine over 8 epochs logged once an epoch reaches 0 at row 8; the
        # corpus's csv-pest-fusion-vit-resnet-valacc-8 ends at row 7)
        margin = min((float(np.median(np.diff(s))) for s in columns if s.size > 1), default=0)
    if plan is None or not ends or max(ends) >= min(ENDS_EARLY * plan, plan - margin):
        return None
    from phasewatch.early_end import why_short
    from phasewatch.step_units import at

    unit = getattr(run, "step_unit", "step") or "step"
    source = f" (where its learning rate's {decay} ends)" if decay else ""
    why = why_short(run)
    return (f"the log ends at {at(max(ends), unit)}, before the {at(plan, unit)}{least} its run "
            f"plans{source}: {why}, and its phases are those of the steps logged")
