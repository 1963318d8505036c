"""Whether the direction `analyze` and `watch` judge a metric by is only the default's guess,
and then what to say: no --direction, none the run declares, no role, and no word of the name
that says which way is better. Apart from the notes on which metric was chosen
(`choice_notes`), which never concern its direction, since a metric named by --metric gets this
note too."""

from __future__ import annotations

from phasewatch.direction_words import (
    has_no_better_direction,
    lower_beside,
    says_higher_is_better,
    says_lower_is_better,
    says_lower_is_healthier,
)
from phasewatch.presets import ROLE_CANDIDATES, bare_split_loss, default_direction
from phasewatch.run import Run
from phasewatch.trainer_best import declared_best_metric


def guessed_direction_note(run: Run, metric: str, direction: str | None) -> str | None:
    """When the direction of `metric` is the default's guess: no --direction, none declared by
    the run (nor by the config that keeps its best checkpoint by it: `trainer_best`), no role
    of it, and no word of its name says which way is better (trial 38b: a stereotype rate,
    lower is better, read as higher-is-better without a word: its "best" was the run's most
    stereotyped batch). An entropy has no better direction, whatever its role
    (trial 39: RLOO's entropy collapse 0.34 -> 0.07 was an "overfit" without a word); a KL or a
    gradient norm is lower-is-better as a run's health, not as a score of its task, which is
    said too."""
    if direction or (run.direction in ("max", "min") and run.performance_metric in (None, metric)):
        return None
    own = run.own_name(metric) or metric  # (live, the metric may not be logged yet)
    declared = declared_best_metric(run)  # greater_is_better, a CheckpointHook's rule
    if declared is not None and declared.own == own and declared.direction is not None:
        return None  # (the note said "higher" of a metric taken as lower-is-better by them)
    if has_no_better_direction(own):
        taken = "higher" if default_direction(own) == "max" else "lower"
        return (f"{own}: an entropy has no better direction (a collapse and a blow-up are both "
                f"bad): {taken} is taken to be better, so its phases say which way it moved, not "
                "whether the run did well; pass --direction to turn it")
    if says_lower_is_healthier(own):
        return (f"{own}: lower is taken to be better, as a run's health (a blow-up is bad): its "
                "best is where the policy moved least, no checkpoint to keep by itself")
    if (loss := bare_split_loss(own, run.metrics)) is not None:
        return (f"{own}, read as the held-out loss beside {loss} (a split's name alone, printed "
                "with the train loss): lower is taken to be better; pass --direction max if "
                "higher is")
    # a role's name: its direction is known; not any alias (HF's `eval_mse` is also `eval/mse`,
    # a spelling and no role: it was read as higher-is-better without a word)
    if own in ROLE_CANDIDATES or any(role in ROLE_CANDIDATES for role, name in run.aliases.items()
                                     if name == own):
        return None
    if says_lower_is_better(own) or says_higher_is_better(own):
        return None
    if (why := lower_beside(own, run.metrics)) is not None:
        return f"{own}: lower is taken to be better, as {why}; pass --direction max if higher is"
    return (f"{own}: higher is taken to be better (its name does not say which way is better); "
            "pass --direction min if lower is")
