"""A note when the run is first seen after training began, from near its worst.

Hugging Face's Trainer evaluates first at `eval_steps`, not at step 0, unless told
(`eval_on_start=True`). A fine-tune whose held-out score falls in its first steps and recovers
is then read from the bottom of the fall: trial 31's TRL SFT run evaluated at step 20 first
(0.01), and `analyze` reported "improvement 20 -> 380, 0.01 -> 0.62, +30.7 sd", while the same
model scored 0.66 at step 0. The data cannot tell that start from an untrained model's, so the
phases stay what the data show; the note says the score before training is unknown.

It is said only where a hidden fall is what the data look like, not of every run first
logged after step 0 whose first phase is a rise from there (184 of the 317 corpus series, most
of them learning curves): that value is also within 2 noise sds of the run's worst, and the
rise starts slowly (its first step is less than half the largest step between neighbouring
values in the run's first third): a run first seen on a flat bottom that then climbs, as a
readaptation does; a learning curve is steepest at its start. A first record at step 1 is the
first update's, made from the model before training. Corpus (13 sets + sample_logs +
real_logs): 28 of 317 series got the note, 22 of 318 from the first record at 1% of the run
(`HIDDEN_SHARE`); trial 31's sft1 does.

The note speaks in the metric's own direction (a loss improves by falling, so what would not
show is a rise in the first steps, and the fall may be the recovery), and its advice is the
metric's own (trial 32b finding 13): `eval_on_start=True` for a Hugging Face Trainer's
evaluations (`eval_*`, `eval/*`); a training metric (GRPO's reward, scored on the training
batches: there is no evaluation to start with) is logged from the first step instead, whose
batch the model before any update scored (`logging_first_step=True`).
"""

from __future__ import annotations

import numpy as np

from phasewatch import step_units
from phasewatch.io.sb3_console import EVAL_ROWS
from phasewatch.phase_stats import UP_PHASES
from phasewatch.presets import ROLE_CANDIDATES, aliases_for
from phasewatch.results import Analysis

NEAR_WORST_SD = 2.0  # the first evaluation within this many noise sds of the run's worst
SLOW_START = 0.5  # its first step below this fraction of the largest in the first third
# A first record this early in the run (a fraction of its last step) hides no phase: a train
# loss logged every 5 steps of 8710 (llamafactory-luojiu) or every 0.01 epoch of 3 was told a
# fall "before step 5 would not show" (reader 40a). SFT's disruption lasts a tenth of the run
# or so; trial 31's held-out score fell and recovered by its first evaluation at 5% of the run.
HIDDEN_SHARE = 0.01
CONTINUED_INTERVALS = 20  # a log whose first record is this many logging intervals in
CONTINUED_HEAD = 6  # ... the intervals between its first few records


def note_unseen_start(analysis: Analysis, steps: np.ndarray, y: np.ndarray,
                      unit: str = "step", log_steps: np.ndarray | None = None) -> Analysis:
    """`analysis` with a warning where its run (`steps`, `y` higher-is-better, as analysed)
    starts after step 0 from near its worst and rises slowly from there (module docstring);
    steps said in the run's `unit` (an epoch-counted console log's first row is "epoch
    0.0236", not "step 236"). `log_steps`, the steps of every record of the log: where the log
    itself begins far into the run (`continued_from`), the advice is to read the log before it."""
    if y.size < 3 or not analysis.phases or steps[0] <= 1:  # step 1: the first update's batch
        return analysis
    if steps[0] <= HIDDEN_SHARE * steps[-1]:
        return analysis
    first = analysis.phases[0]
    if first.name not in UP_PHASES or first.start_step != int(steps[0]):
        return analysis
    sd = analysis.extra.get("noise_sd") or 0.0
    if y[0] > np.min(y) + NEAR_WORST_SD * sd:
        return analysis
    gaps = np.diff(y[:max(3, y.size // 3)])
    if gaps[0] >= SLOW_START * np.max(gaps):
        return analysis
    first = step_units.at(int(steps[0]), unit)
    hidden, seen = ("rise", "fall") if analysis.direction == "min" else ("fall", "rise")
    analysis.warnings.append(
        f"{analysis.metric} is first logged at {first}, after training began, and improves "
        f"from near its worst there: its value before training is unknown, so a {hidden} before "
        f"{first} would not show and the {seen} may be a recovery "
        f"({start_advice(analysis.metric, continued_from(log_steps), unit)})")
    return analysis


def continued_from(log_steps: np.ndarray | None) -> int | None:
    """The step a log begins at where it continues a run begun before it (resumed from a
    checkpoint, a later stage started from one), else None: its first record lies more than
    `CONTINUED_INTERVALS` of its own first logging intervals past step 0. A run logged from its
    start has its first record one interval in (a loss every 50 steps: first at 50); a QLoRA
    run resumed from checkpoint-2600 logged every 10 steps from 2610, and "log it at step 0
    too: eval_on_start=True" sent its user to a setting the earlier run's log answers
    (hfconsole-phi2-qlora-10ev)."""
    if log_steps is None or log_steps.size < 3 or log_steps[0] <= 0:
        return None
    head = log_steps[:CONTINUED_HEAD]
    interval = float(np.median(np.diff(head)))
    return int(log_steps[0]) if interval > 0 and log_steps[0] > CONTINUED_INTERVALS * interval \
        else None


# what Stable-Baselines3's EvalCallback logs: no option evaluates at step 0 (csv-sb3-dqn-exp01-
# evalreward-12's reward was told of the Hugging Face Trainer's eval_on_start)
SB3_EVALUATIONS = frozenset(EVAL_ROWS.values())


def start_advice(metric: str, continued: int | None = None, unit: str = "step") -> str:
    """How to log `metric`'s value before training: a Hugging Face Trainer's evaluation at step
    0 (`eval_on_start`), Stable-Baselines3's with `evaluate_policy` before `learn()`, a
    training metric (a train role's name: GRPO's `reward`, `loss`) at the first step, scored
    before any update (`logging_first_step`); else at step 0. For a log that continues an
    earlier run from step `continued` (`continued_from`), that run's log."""
    if continued is not None:
        return (f"the log itself begins at {step_units.at(continued, unit)}, far into its run "
                "(a resume from a checkpoint, a later stage): the log of the part before holds "
                "the values before; read that log too")
    if metric in SB3_EVALUATIONS:
        return ("log it at step 0 too: Stable-Baselines3's EvalCallback first evaluates after "
                "eval_freq steps; evaluate_policy(model, eval_env) before learn() gives the value "
                "before training")
    if metric.lower().startswith(("eval_", "eval/")):
        return "log it at step 0 too: for a Hugging Face Trainer's evaluations, eval_on_start=True"
    roles = {metric} & set(ROLE_CANDIDATES) | set(aliases_for([metric]))  # a role's own name too
    if any(role.startswith("train/") for role in roles):
        return ("a training metric: log it from the first step too, whose batch the model before "
                "any update scored; for a Hugging Face Trainer, logging_first_step=True")
    return "log it at step 0 too"
