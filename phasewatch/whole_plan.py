"""The planned length of a run read whole (`inspect`, `analyze`), and the note when its log ends
before it. What a config or a logged epoch says the plan is lives in `planned`; the plan of a
run followed as it is written, refined record by record, in `live_plan`. Here the two sources a
whole log offers are put together: the plan its config (or its logged epochs) states, else where
its learning rate's decay ends (`lr_schedule`), and no further than the step a finished log
says it ended at.
"""

from __future__ import annotations

from phasewatch.lr_schedule import lr_plan
from phasewatch.planned import (
    EPOCH_METRICS,
    EPOCHS_KEY,
    PlanSource,
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
    log's plan is not past its last step (`plan_source`)."""
    source = plan_source(run, least=least)
    return None if source is None else source.steps


def plan_source(run, unit: str = "step", least: bool = False) -> PlanSource | None:
    """`run_plan` and where it comes from, as `watch` reads it at the end of the log
    (`planned.PlanSource`, whose `where` gives the words `inspect` and `watch` both say it by:
    "from the run's config `max_steps`", "from the learning rate's linear decay to 0, `lr`");
    the learning rate's decay where nothing else states a plan, and, where the log says its run
    finished before the decay's end, its last step (`PlanSource.finished_at`); None without a
    plan. The rates are fitted once."""
    source = _configured_source(run, least)
    if source is None and (decay := lr_plan(run)) is not None:
        source = PlanSource(decay[0].end, "lr", decay[1], decay=decay[0].words())
    return None if source is None else source.finished_at(finished_at(run), unit)


def finished_at(run) -> int | None:
    """The last step of a run whose log says it finished (`Run.finished`), else None."""
    ends = [int(steps[-1]) for steps, _ in run.columns().values() if steps.size]
    return max(ends) if ends and getattr(run, "finished", False) else None


def plan_and_decay(run, least: bool = False) -> tuple[int | None, str | None]:
    """`run_plan`, and where it is where the learning rate's decay ends (no config states one)
    the words the texts that give the plan name as its source ("cosine decay to 0,
    `learning_rate`,": `PlanSource.decay_words`), else None."""
    source = plan_source(run, least=least)
    if source is None:
        return None, None
    return source.steps, source.decay_words() if source.origin == "lr" else None


def _configured_source(run, least: bool = False) -> PlanSource | None:
    """`plan_source` from the config and the logged epochs alone."""
    from phasewatch.epoch_steps import EPOCH_COUNT_KEY, epoch_count

    if plan_in_other_steps(run.config, run.format) is not None:
        return None
    stated = PlanSource.of_config(run.config, run.format)
    epochs = planned_epochs(run.config)
    if stated is not None or epochs is None:
        count = None if stated is not None else epoch_count(run.config)
        plan = None if count is None else _epoch_steps_plan(run, count)
        return stated if plan is None else PlanSource(plan, "epoch_count", EPOCH_COUNT_KEY,
                                                      epochs=count)
    name = next((name for name in EPOCH_METRICS if name in run.metrics), None)
    if name is None:
        return None
    logged = run.column(name)  # its latest epoch, as watch reads it at the end
    if not logged.values.size:
        return None
    repeats = (logged.values[1:] == logged.values[:-1]) & (logged.steps[1:] > logged.steps[:-1])
    plan = epoch_plan(epochs, int(logged.steps[-1]), {name: float(logged.values[-1])},
                      rounded=bool(repeats.any()), least=least)
    return None if plan is None else PlanSource(plan, "epochs", EPOCHS_KEY, epochs=epochs)


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
