"""The train metric beside the analysed one: what it did over a phase's steps, and what a train
loss or a policy-gradient loss analysed on its own can and cannot show.

A held-out metric getting worse while the train loss keeps falling is the textbook overfit
(docs/detection.md). The same shape while the train loss rises too is training itself getting
worse: hf-siasio-8ev's eval loss rose 680 -> 2799 from step 1250 while its train loss went from
2114 (step 1100) to 8629 (step 1700), four times its best: a divergence, not a memorised
training set, and the analysis said "overfit" without a word of it.

The train metric is judged by its level at the span's ends, the means of its first and last
quarter of readings there (at least 2 each), against the noise of one reading from its second
differences (`noise.second_difference_sd`, which cancel a straight trend): it moved when the two
means differ by `K_SE` standard errors, and nothing is said otherwise. Two single readings were
compared before: hfconsole-dyndpo-helpful-4ev's "train/loss rose 0.6842 -> 0.6869 over the same
steps" (epochs 0.22 and 0.89) where the means of 7 readings at each end fell 0.6833 -> 0.6806,
1.3 se of a reading's noise of 0.004.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phasewatch.direction_words import name_words
from phasewatch.noise import second_difference_sd
from phasewatch.presets import (
    BARE_ACCURACY,
    HELD_OUT_ROLES,
    KERAS_STYLE_VALIDATION,
    ROLE_CANDIDATES,
    aliases_for,
    beside_preference,
)
from phasewatch.results import Analysis
from phasewatch.run import Run
from phasewatch.step_counters import metric_units, same_counter
from phasewatch.step_units import at
from phasewatch.stepseries import StepSeries

K_SE = 3.0          # standard errors between the end means for the train metric to have moved
# the least share of the train metric's range over the run a worsening must give back to be
# training getting worse (`gave_back`)
MATERIAL_SHARE = 0.05
MIN_READINGS = 4    # readings in the span: fewer leave no second difference to judge them by
# the words of a policy-gradient loss's name (`loss_pg`, `actor/pg_loss`, `policy_loss`,
# TRL's `loss/policy_avg`), and the algorithms whose `train/loss` is one (TRL GRPO's `loss`)
POLICY_WORDS = frozenset({"pg", "policy"})
POLICY_GRADIENT_ALGORITHMS = frozenset({"grpo", "ppo", "rloo", "reinforce", "reinforce_plus_plus",
                                        "reinforce_plus_plus_baseline", "remax", "dapo", "gspo",
                                        "drgrpo", "dr_grpo", "gpg", "opo"})
TRAIN_LOSS_ROLES = frozenset({"train/loss", "train/sft_loss"})
SPLIT_WORDS = frozenset({"eval", "val", "validation", "valid", "dev", "test", "heldout"})
_SAID = {"train/loss": "the train loss", "train/reward": "the train reward"}


@dataclass(frozen=True)
class TrainSeries:
    """A train metric that can be judged beside the analysed one: its `role`, the run's own name
    (`own`), `better` (+1 higher is better, -1 lower) and its finite values by step."""

    role: str
    own: str
    better: float
    series: StepSeries

    @property
    def said(self) -> str:
        """'the train loss (loss)': its role in words beside the log's own name, as every
        message names it (`move_words`); the role alone ('train/loss') is no name the log has
        (hf-social-issues-4ev: "gets better at every evaluation as train/loss does" of a log
        whose train loss is `loss`)."""
        return named(self.role, self.own)


@dataclass(frozen=True)
class TrainMove:
    """What a train metric did over a span: the means of its first and last `readings` there
    (`start`, `end`) and the standard error of their difference (`se`, 0 for readings on an
    exact line); or, `steady`, its first and last of `readings` that each moved the same way
    (se 0)."""

    of: TrainSeries
    start: float
    end: float
    readings: int
    se: float
    steady: bool = False

    @property
    def z(self) -> float:
        change = self.end - self.start
        if self.se > 0:
            return change / self.se
        return math.copysign(math.inf, change) if change else 0.0

    @property
    def improved(self) -> bool:
        return self.of.better * self.z >= K_SE

    @property
    def worse(self) -> bool:
        return self.of.better * self.z <= -K_SE

    def words(self, over: str = "the same steps") -> str:
        """What it did, as `move_words` says it."""
        return move_words(self.to_dict(), over)

    def to_dict(self) -> dict:
        """The JSON of a phase's `train_worse` (`change_se` null for readings on an exact
        line)."""
        return {"metric": self.of.own, "role": self.of.role, "start": self.start,
                "end": self.end, "readings": self.readings,
                "change_se": None if self.se == 0 else abs(self.z),
                **({"steady": True} if self.steady else {})}


def move_words(move: dict, over: str = "the same steps") -> str:
    """'the train loss (loss) rose 2433 -> 8533 over the same steps (the means of its first and
    last 4 readings there, 30.1 se apart)', of a `TrainMove.to_dict` ("fell", "rose": the values
    as logged); `over` names the steps."""
    moved = "fell" if move["end"] < move["start"] else "rose"
    return (f"{named(move['role'], move['metric'])} {moved} "
            f"{move['start']:.4g} -> {move['end']:.4g} over {over} ({how_judged(move)})")


def named(role: str, own: str) -> str:
    """'the train loss (loss)': a train metric's role in words and the log's own name."""
    return f"{_SAID.get(role, role)} ({own})"


def how_judged(move: dict) -> str:
    """'the means of its first and last 4 readings there, 30.1 se apart' (or 'at each of its 5
    readings there' of a steady move), of a `TrainMove.to_dict`: what its two values are."""
    if move.get("steady"):
        return f"at each of its {move['readings']} readings there"
    apart = "on an exact line" if move["change_se"] is None else f"{move['change_se']:.1f} se apart"
    return f"the means of its first and last {move['readings']} readings there, {apart}"


def roles_of(run: Run, own: str) -> set[str]:
    """The roles the name `own` takes on its own, or as the run resolves it."""
    return ({own} & set(ROLE_CANDIDATES) | set(aliases_for([own]))
            | {role for role in ROLE_CANDIDATES if run.own_name(role) == own})


def is_policy_loss(run: Run, own: str) -> bool:
    """Whether `own` is a policy-gradient loss: by its name's words (`loss_pg`, `actor/pg_loss`,
    `policy_loss`), its role (CHORD's `actor/usual/pg_loss`), or as the train loss of a run
    whose algorithm is a policy gradient (TRL GRPO's `loss`)."""
    words = set(name_words(own))
    if "loss" in words and words & POLICY_WORDS or "train/rl_loss" in roles_of(run, own):
        return True
    return run.algorithm in POLICY_GRADIENT_ALGORITHMS and own == run.own_name("train/loss")


def is_train_loss(run: Run, own: str) -> bool:
    """Whether `own` is a loss on the training batches: the train loss's role, or a name with
    the word loss and no split's (`loss_rep`, `raw_log_history/loss`), not a KL or an entropy
    that holds the word (`actor/kl_loss`)."""
    roles = roles_of(run, own)
    if roles:
        return bool(roles & TRAIN_LOSS_ROLES)
    words = set(name_words(own))
    return "loss" in words and not words & SPLIT_WORDS


def is_held_out(run: Run, own: str) -> bool:
    """Whether `own` is measured on held-out data (a held-out accuracy, loss or score)."""
    return bool(roles_of(run, own) & set(HELD_OUT_ROLES))


# the first part of a name that places a series on training: its batches, or the rollouts the
# policy samples from the training prompts (SB3's `rollout/ep_rew_mean`, a GRPO trainer's
# `rollout/outcome_reward_mean`); and Detectron2's statistics of each training batch's region
# proposals, put to its EventStorage only while training (`fast_rcnn/cls_accuracy`,
# `fast_rcnn/fg_cls_accuracy`, `mask_rcnn/accuracy`, `roi_head/num_fg_samples`,
# `rpn/num_pos_anchors`; its evaluations are `bbox/AP`, `segm/AP`): a Faster R-CNN run's
# `fast_rcnn/cls_accuracy` was offered as a score "that may be" the held-out one, and read as
# "an overfit ... (end: the level held after it, mean of 35 evaluations)"
TRAIN_PREFIXES = frozenset({"train", "training", "rollout", "rollouts",
                            "fast_rcnn", "mask_rcnn", "roi_head", "rpn"})


def is_train_metric(run: Run, own: str) -> bool:
    """Whether `own` is scored on the training batches by its roles (a train loss, a train
    reward, a batch's entropy: `train/` roles only): its values are readings of training, not
    evaluations, which `analyze` then says ("means of 30 readings each": "30 evaluations" of
    a QLoRA run's train loss read as a held-out set the log does not have). A bare `accuracy`
    (`acc`) only where the log says which: `bare_accuracy_on_training`. A name with no role
    is placed by its first part (`TRAIN_PREFIXES`) where no word of it names a held-out split:
    hfconsole-prorag-rl-reward-101's `rollout/outcome_reward_mean`, the reward of the policy's
    own rollouts at each RL step, read "(ends: medians of 33 evaluations each)". The first part
    is the first word where the name has no `/`: `train_acc` beside `val_acc` (the names most
    PyTorch scripts print), `train_loss_local`, read "medians of 1087 evaluations each". A
    Monitor file's columns by the file (`monitors_training`)."""
    if own.lower() in BARE_ACCURACY:  # `Accuracy` too, which takes `accuracy`'s roles
        return bare_accuracy_on_training(run)
    if run.format == "sb3_monitor":
        return monitors_training(run)
    roles = roles_of(run, own)
    if roles:
        return all(role.startswith("train/") for role in roles)
    words = name_words(own)
    first, slash, _ = own.partition("/")
    prefix = first.lower() if slash else words[0] if len(words) > 1 else ""
    return prefix in TRAIN_PREFIXES and not set(words) & SPLIT_WORDS


def monitors_training(run: Run) -> bool:
    """Whether a `Monitor` file's rows (`io.sb3_monitor`: one row per finished episode of the
    env it wraps) are training episodes: yes, unless its file name names an evaluation split
    (`eval_monitor.csv`, a Monitor of its own on EvalCallback's env). A row of the training env
    is one episode the policy trained on, a reading of training: a CartPole `0.monitor.csv`
    read "(end: the level held after it, median of 10 evaluations)" and "the starting level
    (mean of the first 5 evaluations)", as if the agent had been evaluated."""
    words = set(name_words(Path(str(run.source)).name))
    return not words & (SPLIT_WORDS | {"evaluation", "evaluations"})


def value_word(run: Run, own: str) -> str:
    """What one value of `own` is, in the text: "reading" for a series scored on the training
    batches (`is_train_metric`), else "evaluation". `Analysis.value_word` gives the same word
    from the analysis's `train_metric`, set by `note_train_beside`."""
    return "reading" if is_train_metric(run, own) else "evaluation"


def bare_accuracy_on_training(run: Run) -> bool:
    """Whether a bare `accuracy` / `acc` is scored on the training batches: beside a
    validation accuracy of Keras' or Lightning's naming (`val_accuracy`: it is the train side
    of the pair), or beside a preference run's chosen / rejected rewards (OpenRLHF's DPO and
    reward-model `acc`; LLaMA-Factory's trainer_log.jsonl copy of TRL's `rewards/accuracies`
    is read under TRL's name, which has its train role). Elsewhere it is an accuracy the log
    does not place, counted in evaluations as any other: a GRPO study's `eval_history.json` of
    accuracies on 100 held-out problems said "only 5 readings of accuracy". In any case: a
    TensorBoard tag `Accuracy` (an mmcls project's) was "scored on the training batches: ...
    not an overfit to the training data" where the same values named `accuracy` were an
    overfit."""
    names = run.metrics
    return any(name in names for name in KERAS_STYLE_VALIDATION) or beside_preference(names)


def train_series(run: Run, metric: str) -> list[TrainSeries]:
    """The train metrics to judge beside `metric`, in order: the train loss, unless it is a
    policy-gradient loss (`is_policy_loss`: it measures nothing, and an RL run's train reward is
    its training side's measure), then the train reward. Not a train metric whose steps count
    another counter than `metric`'s (per batch beside a validation per epoch: `step_counters`):
    its steps 1..100 are no epochs 1..100."""
    own_metric = run.resolve_metric(metric)
    out = []
    for role, better in (("train/loss", -1.0), ("train/reward", 1.0)):
        own = run.own_name(role)
        if own is None or own == own_metric or (role == "train/loss" and is_policy_loss(run, own)):
            continue
        if not same_counter(run, (own, own_metric)):
            continue
        series = run.column(role).dropna()
        if len(series):
            out.append(TrainSeries(role, own, better, series))
    return out


def train_move(train: list[TrainSeries], start: float, end: float) -> TrainMove | None:
    """What the first train metric with `MIN_READINGS` readings from `start` to `end` did there,
    by its level at both ends; None when none has. Readings that each move the same way are a
    move whatever their second differences say: a few of them that bend count the bend as
    noise (hf-kanana-sft-4ev's train loss 1.918, 1.683, 1.662, 1.641 is 2.4 se by its end
    means, and its held-out loss, better at each evaluation as train improves, would lose its
    improvement)."""
    for candidate in train:
        values = candidate.series.between(start, end).dropna().values.astype(np.float64)
        if values.size >= MIN_READINGS:
            return TrainMove(candidate, *end_means(values))
    return None


def end_means(values: np.ndarray) -> tuple[float, float, int, float, bool]:
    """`TrainMove`'s reading of `values` (at least MIN_READINGS): its start, end, readings, se
    and steady (the live monitor judges a short stage's train loss by it too:
    `online.train_loss`)."""
    steps = np.diff(values)
    if np.all(steps > 0) or np.all(steps < 0):
        return float(values[0]), float(values[-1]), values.size, 0.0, True
    k = max(2, values.size // 4)
    sd = second_difference_sd(values, robust=False)
    return float(values[:k].mean()), float(values[-k:].mean()), k, sd * math.sqrt(2.0 / k), False


def note_train_beside(analysis: Analysis, run: Run, train: list[TrainSeries]) -> Analysis:
    """`analysis` with what the train side says of it (`train_metric`: whether the series
    analysed is scored on the training batches, `is_train_metric`): a policy-gradient loss
    analysed is no performance measure; a train loss or a train reward analysed has its
    'overfit' named for what it is (a train reward's decline is the policy getting worse at
    what it trains on); and on a held-out metric, each overfit or disruption over whose steps
    the train metric got worse too has `train_worse` in its stats and a warning
    (`train_worse_text`)."""
    own, unit = analysis.metric, metric_units(run).get(analysis.metric, run.step_unit)
    analysis.extra["train_metric"] = is_train_metric(run, own)
    overfits = [f"{p.start_step} -> {p.end_step}" for p in analysis.phases
                if p.name == "overfit"]
    if is_policy_loss(run, own):
        # trial 39b: grpo-drgrpo-aser-reward --metric loss_pg printed "overfit 0 -> 199" and
        # "recommended stop: step 0" without a word
        reward = run.own_name("train/reward")
        instead = f" ({reward})" if reward is not None else ""
        analysis.warnings.append(
            f"{own} is a policy-gradient loss: its value is set by the batch's advantages, which "
            "are centred on zero whatever the policy earns, so it measures no performance and "
            "its phases and stop say nothing of how well the policy does; analyse the "
            f"reward{instead} or a held-out score")
    elif is_train_loss(run, own) and overfits:
        analysis.warnings.append(
            f"{own}: the 'overfit' ({', '.join(overfits)}) is the train loss getting worse after "
            "its best: an instability of training, not an overfit to the training data")
    elif "train/reward" in roles_of(run, own) and overfits:
        # wandb-trl-ppo-scores-500: a PPO batch score's "overfit 1 -> 500" beside a note that
        # this score "cannot show an overfit", and no word on what the phase then is. Rollouts,
        # not prompts: the role holds the episode returns of environment RL too (SB3's
        # rollout/ep_rew_mean, RLlib's, Baselines'), which no prompt is behind
        analysis.warnings.append(
            f"{own}: the 'overfit' ({', '.join(overfits)}) is the reward on the training batches "
            "getting worse after its best: what the policy earns in the rollouts it trains on "
            "fell, not an overfit to the training data, which a score on the training batches "
            "cannot show")
    elif analysis.extra["train_metric"] and overfits:
        # any other score of the training batches (a train accuracy, Detectron2's
        # `fast_rcnn/cls_accuracy`): its decline after its best is training's, as a loss's is
        analysis.warnings.append(
            f"{own}: the 'overfit' ({', '.join(overfits)}) is a score of the training batches "
            "getting worse after its best: an instability of training, not an overfit to the "
            "training data, which a score on the training batches cannot show")
    if not is_held_out(run, own):
        return analysis
    for phase in analysis.phases:
        if phase.name not in ("overfit", "disruption"):
            continue
        move = train_move(train, phase.start_step, phase.end_step)
        if move is not None and move.worse and gave_back(move):
            phase.stats["train_worse"] = move.to_dict()
            analysis.warnings.append(train_worse_text(own, phase.name, phase.start_step,
                                                      phase.end_step, phase.stats["train_worse"],
                                                      unit))
    return analysis


def gave_back(move: TrainMove) -> bool:
    """Whether a train metric that got worse over a phase gave back at least `MATERIAL_SHARE` of
    the range it covers over the whole run: only then is training itself getting worse. Its
    se comes from its own scatter, which on a train loss at its floor is tiny, so a change of
    nothing there is many se: json-grokking-mod113-wd0-401's train loss "rose 1.218e-06 ->
    1.737e-06 ... 22.9 se apart, so training itself got worse, a divergence of training" after
    it fell from 4.755 (train accuracy 1.0 throughout), and its orthograd variant's 0.00016 ->
    0.0081 (0.17% of its fall) was "303970.9 se apart"."""
    values = move.of.series.finite().values
    span = float(np.max(values) - np.min(values)) if len(values) else 0.0
    return abs(move.end - move.start) >= MATERIAL_SHARE * span


def train_worse_text(metric: str, name: str, start: int, end: int, move: dict,
                     unit: str = "step") -> str:
    """'eval_loss: the overfit from step 1250 to step 2000 is no overfit to the training data:
    the train loss (loss) rose ...', of a phase's
    `train_worse` (`move`); analyze's warning and watch's summary."""
    where = f"the {name} from {at(start, unit)} to {at(end, unit)}"
    if name == "overfit":
        return (f"{metric}: {where} is no overfit to the training data: {move_words(move)}, so "
                "training itself got worse, a divergence of training (an overfit is held-out "
                "worse while train improves)")
    return (f"{metric}: {where} is training's too: {move_words(move)}, so training itself got "
            "worse over the fall, not the held-out metric alone")
