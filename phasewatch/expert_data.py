"""Whether a run trains on expert data, which a fall that is never recovered needs to be a
disruption.

A disruption is held-out performance falling as the expert data starts to act (DESIGN.md): a
first fall that ends on a floor early is one because the model may still learn that data and
recover. A run trained by a policy gradient alone (GRPO, PPO, RLOO, ... on its own samples) has
no expert data to learn: a fall from its start that never comes back is the policy getting worse
after its best point, the start, as a collapse is: an overfit, after which the checkpoint to keep
is the best one, not a "wait for readaptation" (verl-opd-aime-collapse-27ev: a validation score
0.0099 at step 0, -1 from step 10 to the end; a verifier's held-out accuracy 0.992 at the start of
its RL, then 0.600 at each of the 20 evaluations after it: both labelled `overfit, plateau`).
A fall that is recovered is a disruption in any run.

A held-out loss (`eval_loss`, `val_loss`: the loss on a held-out split of the data the model
trains on) has no disruption that is never recovered either: learning that data lowers it, so
its rise from the start to a level it never leaves, while the train loss falls over the same
steps, is the textbook overfit (issue 12: "a user reads 'wait for readaptation', the opposite of
what to do"). The disruption shows on the model's own task, its accuracy or reward.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from phasewatch.direction_words import name_words
from phasewatch.phases import PhaseConfig
from phasewatch.results import Phase
from phasewatch.reward_beside import is_reward
from phasewatch.run import Run
from phasewatch.stages import STAGE_EVENTS
from phasewatch.train_beside import (
    POLICY_GRADIENT_ALGORITHMS,
    TrainSeries,
    is_policy_loss,
    roles_of,
    train_move,
)

# the words of a metric about expert data: CHORD's `actor/expert/sft_loss`, an SFT loss beside
# an RL one (`sft_loss`), phasewatch's token signals (`expert/nll_train`)
EXPERT_WORDS = frozenset({"expert", "sft"})


def policy_gradient_only(run: Run) -> str | None:
    """How `run` shows it is trained by a policy gradient with no expert data ('its algorithm,
    grpo', 'it logs a policy-gradient loss, actor/pg_loss', 'it logs a train reward,
    mean_reward'), else None: a run with an SFT stage (an `sft_to_rl` switch), one that logs
    anything about expert data (`EXPERT_WORDS`) or names another algorithm (SFT, DPO, CHORD).
    The algorithm's name is read in any case (a run.json's "GRPO" is `grpo`), as
    `algorithm_names.infer_algorithm` reads a config's."""
    if any(e.name in STAGE_EVENTS for e in run.events):
        return None
    names = run.metrics
    if any(EXPERT_WORDS & set(name_words(name)) for name in names):
        return None
    if (run.algorithm or "").lower() in POLICY_GRADIENT_ALGORITHMS:
        return f"its algorithm, {run.algorithm}"
    if run.algorithm:
        return None
    for name in names:
        if is_policy_loss(run, name):
            return f"it logs a policy-gradient loss, {name}"
    reward = next((name for name in names if is_reward(run, name)), None)
    return None if reward is None else f"it logs a train reward, {reward}"


def overfit_if_unrecovered(phases: list[Phase], metric: str,
                           how: str) -> tuple[list[Phase], str | None]:
    """`phases` with each disruption that no readaptation follows called an overfit (joined to
    an overfit right before it), for a run with no expert data (`how`: `policy_gradient_only`'s
    words), and the note that says so (None when no phase was renamed)."""
    out, renamed = _unrecovered_renamed(phases)
    if not renamed:
        return phases, None
    return out, (f"{metric}: the fall from step {renamed[0].start_step} is never recovered, and "
                 f"the run is trained by a policy gradient alone ({how}), with no expert data "
                 "it could still learn: an overfit from its best point, not a disruption")


def is_held_out_loss(run: Run, own: str) -> bool:
    """Whether `own` is a loss on held-out data (the `eval/loss` role: `eval_loss`, `val_loss`,
    `valid_nll_loss`, a held-out perplexity)."""
    return "eval/loss" in roles_of(run, own)


def watched_train_loss(run: Run, own: str) -> str | None:
    """The train loss `watch` follows beside `own` as a held-out loss
    (`MonitorConfig.held_out_loss`, `MonitorConfig.train_loss`): the log's own name of the train
    loss beside a held-out loss (`is_held_out_loss`), not a policy-gradient loss (the one
    `train_series` judges it beside; `run` may be the records read before `own`'s first value);
    None when `own` is no held-out loss or the log holds no such train loss. `analyze` names the
    held-out loss's unrecovered rise an overfit only as that train loss improves
    (`held_out_loss_overfit`), and the monitor, following it, likewise; with no train loss it
    stays a disruption, live too."""
    train = run.own_name("train/loss")
    if not is_held_out_loss(run, own) or train in (None, own) or is_policy_loss(run, train):
        return None
    return train


def held_out_loss_overfit(phases: list[Phase], metric: str, train: list[TrainSeries],
                          steps: np.ndarray, y: np.ndarray, sd: float, k_sd: float
                          ) -> tuple[list[Phase], str | None]:
    """`phases` of a held-out loss (`is_held_out_loss`) with its rises that the train loss's
    improvement over the same steps makes overfits: a disruption that no readaptation follows
    (see the module's docstring), else a closing rise from its best (`held_out_rise_at_end`);
    and the note that says so (None when nothing was renamed)."""
    out, renamed = _unrecovered_renamed(phases)
    if not renamed:
        return held_out_rise_at_end(phases, metric, steps, y, sd, k_sd, train)
    losses = [t for t in train if t.role == "train/loss"]
    move = train_move(losses, renamed[0].start_step, renamed[0].end_step)
    if move is None or not move.improved:
        return phases, None
    return out, (f"{metric}: the rise from step {renamed[0].start_step} is never recovered, "
                 f"while {move.words()}: a held-out loss getting worse as the train loss "
                 "improves is an overfit from its best point, not a disruption (which shows on "
                 "the model's own task, its accuracy or reward)")


WORSE_IN_A_ROW = 3  # evaluations after the best, each worse than the one before
SHORT_FLAT_FRACTION = PhaseConfig.short_flat_fraction  # a plateau this short before the best is
# the improvement's last stretch (the knot of a broken line may fall an evaluation before it)


def held_out_rise_at_end(phases: list[Phase], metric: str, steps: np.ndarray, y: np.ndarray,
                         sd: float, k_sd: float, train: list[TrainSeries]
                         ) -> tuple[list[Phase], str | None]:
    """`phases` of a held-out loss (`is_held_out_loss`) whose closing plateau, after an
    improvement, ends in a rise from its best evaluation, with that rise split off as an overfit,
    and the note that says so (None when nothing changed). The rise must be each of the last
    `WORSE_IN_A_ROW` evaluations worse than the one before (from the best: four values in that
    order by chance 1 in 24, whatever their noise), `k_sd` noise sds from the best to the last,
    while the train loss improves over the same steps. A short run's noise, read about its
    broken line, counts the bend of its improvement: a ResNet's validation loss 1.820, 1.640,
    1.789, 1.899, 2.096 over its last five epochs, as its train loss fell from 1.58 to 0.56, was
    a plateau "+2.5 sd" between end medians of two, where its rise from the best is 4.2 sds and
    the textbook overfit. A plateau before the best shorter than SHORT_FLAT_FRACTION of the run
    is the improvement's end (the knot at epoch 6, the best at 7). `y` is oriented (higher is
    better)."""
    if len(phases) < 2 or phases[-1].name != "plateau" \
            or phases[-2].name not in ("improvement", "readaptation") or sd <= 0:
        return phases, None
    last = phases[-1]
    inside = np.flatnonzero((steps >= last.start_step) & (steps <= last.end_step))
    best = int(inside[np.argmax(y[inside])])
    tail = y[best:]
    if tail.size != WORSE_IN_A_ROW + 1 or not np.all(np.diff(tail) < 0) \
            or tail[0] - tail[-1] < k_sd * sd:
        return phases, None
    start = int(steps[best])
    move = train_move([t for t in train if t.role == "train/loss"], start, last.end_step)
    if move is None or not move.improved:
        return phases, None
    rise = Phase("overfit", start, last.end_step)
    before = phases[:-1]
    if best - inside[0] < SHORT_FLAT_FRACTION * y.size:  # the improvement ran on to the best
        before[-1] = dataclasses.replace(before[-1], end_step=start)
    else:
        before.append(dataclasses.replace(last, end_step=start))
    return before + [rise], (
        f"{metric}: worse at each of its last {WORSE_IN_A_ROW} evaluations since its best (step "
        f"{start}), {(tail[0] - tail[-1]) / sd:.1f} noise sds in all, while {move.words()}: a "
        "held-out loss getting worse as the train loss improves is an overfit from its best "
        "point")


def _unrecovered_renamed(phases: list[Phase]) -> tuple[list[Phase], list[Phase]]:
    """`phases` with each disruption that no readaptation follows called an overfit (joined to
    an overfit right before it), and the disruptions so renamed."""
    out: list[Phase] = []
    renamed = []
    for k, phase in enumerate(phases):
        trends = [later.name for later in phases[k + 1:] if later.name != "plateau"]
        if phase.name == "disruption" and trends[:1] != ["readaptation"]:
            renamed.append(phase)
            phase = dataclasses.replace(phase, name="overfit")
        if out and out[-1].name == phase.name == "overfit":
            phase = dataclasses.replace(out.pop(), end_step=phase.end_step)
        out.append(phase)
    return out, renamed
