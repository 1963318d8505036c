"""What `analyze` and `watch` say of the metric they chose without `--metric`: why it was taken
and which others the log holds that a user may mean (a held-out role passed over, the metric a
Trainer kept its best checkpoint by, the held-out loss beside a held-out score, series that look
like scores beside a train loss); `notes_on_choice` adds the one on a direction that is only the
default's guess (`guessed_direction`). The choice itself is `signals.choose_metric`'s; these
notes never change it."""

from __future__ import annotations

import re

import numpy as np

from phasewatch.direction_words import (
    HIGHER_IS_BETTER_TOKENS,
    SCORE_WORDS,
    name_words,
    says_higher_is_better,
)
from phasewatch.guessed_direction import guessed_direction_note
from phasewatch.kl_penalty import kl_penalty_note
from phasewatch.output import counted, listed, metric_option
from phasewatch.presets import ROLE_CANDIDATES, role_matches
from phasewatch.role_candidates import GENERATION_SCORES
from phasewatch.run import Run
from phasewatch.running_means import running_mean_note
from phasewatch.set_names import loader_bases
from phasewatch.signals import (
    MIN_FOR_TREND,
    is_performance_metric,
    metric_candidates,
    n_finite,
    roles_present,
)
from phasewatch.timing_names import is_timing
from phasewatch.train_beside import SPLIT_WORDS, is_train_metric, value_word
from phasewatch.trainer_best import best_step, declared_best_metric, kept_best_by
from phasewatch.xaxis import CARRIERS


def short_choice_note(run: Run, chosen: str) -> str | None:
    """When the metric chosen without --metric cannot show phases: too few values for a trend
    test (a run that logs its held-out metric once at the end and its scores under names no
    framework uses), or the same value at every evaluation (a CartPole DQN's per-step
    `reward`, 1 at all 39 logs, beside `total_reward`, the episode return, which rose 16 ->
    200: "plateau, change +0" was all it said). The log's longer series that move, by name,
    those that look like scores first (`score_like_series`), so the user can pass one."""
    n_chosen = n_finite(run, chosen)
    values = run.column(chosen).values
    if n_chosen >= MIN_FOR_TREND and np.ptp(values) > 0:
        return None
    own = run.resolve_metric(chosen)
    scores = score_like_series(run)
    longer = sorted(((n, name) for name in run.metrics
                     if name != own and not _bookkeeping(run, name)
                     and (n := n_finite(run, name)) >= MIN_FOR_TREND
                     and np.ptp(run.column(name).values) > 0),
                    key=lambda t: (t[1] not in scores, -t[0], t[1]))
    if not longer:
        return None
    shown = ", ".join(f"{name} ({n} values)" for n, name in longer[:5])
    more = f" and {len(longer) - 5} more" if len(longer) > 5 else ""
    if n_chosen < MIN_FOR_TREND:
        return (f"{own} was chosen by its name but has only {counted(n_chosen, 'value')}, too "
                f"few to show phases; longer series in this log: {shown}{more}: pass --metric "
                "to analyse one")
    return (f"{own} was chosen by its name but is {float(values[0]):.4g} at all {n_chosen} "
            f"{value_word(run, own)}s: it cannot show phases; series in this log that move: "
            f"{shown}{more}: pass --metric to analyse one")


# the roles of series that count or steer training and measure nothing of the model
_BOOKKEEPING_ROLES = ("train/lr", "train/grad_norm")
_COUNTERS = frozenset(name for names in CARRIERS.values() for name in names)


def _bookkeeping(run: Run, name: str) -> bool:
    """Whether `name` is no series a user judges a run by: an x-axis counter (epoch, tokens),
    the learning rate or gradient norm, a timing (an HF console log's "longer series" were
    epoch, grad_norm and learning_rate, beside the loss: reader 40a)."""
    return (name in _COUNTERS or any(run.own_name(role) == name for role in _BOOKKEEPING_ROLES)
            or is_timing(name))


def notes_on_choice(run: Run, chosen: str, named: bool, direction: str | None) -> list[str]:
    """What `analyze` and `watch` say of the metric and direction they go by: `choice_notes`
    when the metric was chosen (not `named` by --metric), TRL's score beside its KL-penalised
    reward (`kl_penalty.kl_penalty_note`), a running mean over episodes
    (`running_means.running_mean_note`) and a direction that is only a guess
    (`guessed_direction.guessed_direction_note`)."""
    notes = [] if named else choice_notes(run, chosen)
    extra = (kl_penalty_note(run, chosen, named), running_mean_note(run.own_name(chosen) or chosen),
             guessed_direction_note(run, chosen, direction))
    return notes + [note for note in extra if note is not None]


def choice_notes(run: Run, chosen: str) -> list[str]:
    """What to say of a metric chosen without --metric (analyze and watch alike)."""
    from phasewatch.score_notes import other_scores_note, score_before_accuracy_note

    notes = (trainer_best_note(run, chosen), passed_over_note(run, chosen), fallback_note(run, chosen),
             short_choice_note(run, chosen),
             periodic_scores_note(run, chosen) or scores_beside_reward_note(run, chosen),
             score_before_accuracy_note(run, chosen), loss_beside_score_note(run, chosen),
             other_scores_note(run, chosen))
    return [note for note in notes if note is not None]


# words of a series logged now and then that is no score (besides a timing: `is_timing`)
_NOT_SCORES = ("epoch", "scale", "norm", "loss")
# ... and as a word of its own: a gradient's (`grad_norm`, `actor/grad_clip`), not a grader's
# (`eval_greedy_grader_scores`, a held-out score, was left out of every hint for "grad")
_NOT_SCORE_WORDS = frozenset({"grad", "grads", "gradient", "gradients"})


def _no_score(name: str, words: tuple[str, ...] = _NOT_SCORES) -> bool:
    """Whether `name` times the run (`is_timing`), holds one of `words` or a word of
    `_NOT_SCORE_WORDS`: no score."""
    return (is_timing(name) or any(word in name.lower() for word in words)
            or not _NOT_SCORE_WORDS.isdisjoint(name_words(name)))


def periodic_scores_note(run: Run, chosen: str) -> str | None:
    """When the metric chosen without --metric is the training reward and the log also has
    series logged at a third of its steps or fewer, as evaluations are, under names no framework
    uses: name them (trial 37b: a recommender's GRPO batch reward was analysed, "improvement",
    beside ndcg@10 and recall@10 logged every 200 steps on rows marked "eval", which were flat).
    Names that say they are scores come first (`says_higher_is_better`): the note shows four,
    and in name order a Tinker RL log's test scores came after its test set's counts
    ("ac_tokens_per_turn, by_group/frac_all_bad, by_group/frac_all_good, correct and 4 more",
    its test reward among those cut off; that reward now takes the held-out role itself)."""
    if chosen != "train/reward" or run.performance_metric:
        return None
    own = run.resolve_metric(chosen)
    most = n_finite(run, chosen) // 3
    known = role_names(run)  # a role's own name (train/kl, train/loss): not a score
    periodic = [name for name in run.metrics if name != own and name not in known
                and not _no_score(name)
                and MIN_FOR_TREND <= n_finite(run, name) <= most
                and np.ptp(run.column(name).values) > 0]
    if not periodic:
        return None
    periodic.sort(key=lambda name: not says_higher_is_better(name))
    return (f"{own} is scored on the training batches, which cannot show an overfit; "
            f"{listed(periodic, 4)} are logged at a few steps only, as evaluations "
            "are: pass --metric to analyse a held-out score")


# words of a series' name that say it is scored on the training batches, as the train reward
# is: the reward's own components (`rewards/format_reward`), a train or batch statistic, an
# advantage (computed on the training batch's rollouts: TRL's
# `prompt/correctness_adv_zero_group_frac`, the share of groups whose advantages are all zero).
# Whole words (`direction_words.name_words`), not parts of one: "train" is inside "constraint",
# and a held-out `constraint_accuracy` beside a train reward was never named
_TRAIN_SIDE_WORDS = frozenset({"reward", "rewards", "train", "training", "batch", "minibatch",
                               "adv", "advantage", "advantages"})


def scores_beside_reward_note(run: Run, chosen: str) -> str | None:
    """When the metric chosen without --metric is the training reward and the log also has
    series named as scores (`score_like_hint`) that no role claims, logged as often as it is
    (`periodic_scores_note` names those logged at a few steps only): name them, for one may be
    the held-out score the run is judged by. None whose name says it is scored on the training
    batches too (`_TRAIN_SIDE_WORDS`: the reward's own components, `rewards/format_reward`, are).
    jsonl-verifier-warmstart-rl-21ev logs `accuracy` on 120 held-out actions beside
    `mean_reward` at every evaluation: it fell 0.99 -> 0.60 at the first and stayed there
    (a collapse to one class) while `analyze` reported the reward's plateau without a word.
    Nor any filed under the reward's path before its reward word, where Tinker puts what the
    same rollouts scored (`env/all/correct` beside `env/all/reward/total`: "may be held-out")."""
    if chosen != "train/reward" or run.performance_metric:
        return None
    own = run.resolve_metric(chosen).split("/")
    home = "/".join(own[:next((i for i, part in enumerate(own) if "reward" in part.lower()), 0)])
    maybe = [name for name in score_like_series(run, excluding=_TRAIN_SIDE_WORDS)
             if not (home and name.startswith(home + "/"))]
    if not maybe:
        return None
    which = (f"{maybe[0]} may be a held-out score: pass {metric_option(maybe[0])} to analyse it"
             if len(maybe) == 1 else f"{listed(maybe, 4)} may be held-out scores: "
             "pass --metric to analyse one")
    return (f"{run.resolve_metric(chosen)} is scored on the training batches, which cannot show "
            f"an overfit; {which}")


def trainer_best_note(run: Run, chosen: str) -> str | None:
    """Why the Trainer's metric was taken (`trainer_best.declared_best_metric`), or which metric
    it kept its best checkpoint by where that is not the one analysed (`kept_best_by`)."""
    own = run.own_name(chosen)
    declared = declared_best_metric(run)
    if declared is not None and declared.own == own:
        return f"taking {own}: {declared.said}; pass --metric to judge the run by another"
    kept = kept_best_by(run)
    if kept is None or kept == own:
        return None
    return (f"the Trainer kept its best checkpoint by {kept} (its best_metric, "
            f"{run.config['best_metric']:.6g} at step {best_step(run.config)}), not by "
            f"{own}: pass {metric_option(kept)} to judge the run by it")


def passed_over_note(run: Run, chosen: str) -> str | None:
    """When the metric chosen without --metric is not the first the log has
    (`signals.metric_candidates`): the ones before it had too few values (trial 34b: a verl
    log's held-out reward, logged once at the end, left for the train batches' score without a
    word), or the same value at every evaluation (trial 38c: an accuracy 0 at all 8; a pose
    model's keypoint mAP 0 at all 50 epochs, passed over for its box mAP)."""
    candidates = metric_candidates(run)
    if chosen not in candidates or candidates.index(chosen) == 0 or run.performance_metric:
        return None
    def why(name: str) -> str:
        n = n_finite(run, name)
        if n < MIN_FOR_TREND:
            return f"{counted(n, 'value')}: too few for a trend (fewer than {MIN_FOR_TREND})"
        return (f"{float(run.column(name).values[0]):.4g} at all {n} "
                f"{value_word(run, run.resolve_metric(name))}s: it cannot move")
    skipped = "; ".join(f"{run.own_name(name)} ({why(name)})"
                        for name in candidates[:candidates.index(chosen)])
    return (f"taking {run.own_name(chosen)}, passing over {skipped}; pass --metric to analyse "
            "it anyway")


def loss_beside_score_note(run: Run, chosen: str) -> str | None:
    """When the metric chosen without --metric is a held-out score (`eval/other_score`: a WER,
    a BLEU, an F1) and the log also has the held-out loss with enough values for a trend: the
    two can tell different stories (a Whisper fine-tune's eval loss rises from its first
    evaluation while its WER falls to the end: readers 40a, 40b), and the loss is one option
    away. When the held-out loss is taken before several held-out scores of one rank
    (`signals.roles_present`: per-entity F1s, or an extreme classifier's MRR, mAP, F1s and
    nDCGs, none a headline), the scores are named. A seq2seq run's generation score (HF's
    `eval_bleu`, `eval_rougeL`: `role_candidates.GENERATION_SCORES`) is a held-out score too, though it
    takes the accuracy's role: hf-thesis-web-5ev's BLEU (0, 0, 0.18, 2.49, 0.007) was a
    plateau "not established" with no word of its eval loss, which rose from the first
    evaluation while the train loss fell; `val/bleu` in a W&B log got the note. A held-out loss
    that reads one value at every evaluation tells no story to judge by: json-gnn-atsp-valf1-25
    writes `val_loss` 0.0 at all 25 epochs (it was never computed), and the note sent the user
    to it."""
    if run.performance_metric:
        return None
    own = run.own_name(chosen)
    scores = role_matches("eval/other_score", run.metrics) if chosen == "eval/loss" else []
    if len(scores) > 1 and "eval/other_score" in roles_present(run):
        from phasewatch.score_notes import scores_of_other_kinds

        others = scores_of_other_kinds(run, scores[0])
        more = f"; held-out scores of other kinds: {listed(others, 4)}" if others else ""
        return (f"taking {own}, the held-out loss, before {len(scores)} held-out "
                f"scores none of which comes first ({listed(scores, 4)}){more}: pass --metric "
                "to judge the run by one")
    if not (chosen == "eval/other_score"
            or (chosen == "eval/accuracy" and is_generation_score(own))):
        return None
    loss = run.own_name("eval/loss")
    if loss is None or n_finite(run, "eval/loss") < MIN_FOR_TREND \
            or np.ptp(run.column("eval/loss").values) == 0:  # one value throughout: not logged
        return None
    return (f"taking {own}, a held-out score, before the held-out loss {loss}: "
            f"pass {metric_option(loss)} to judge the run by it")


_GENERATION_SCORE_NAMES = frozenset(re.split(r"[_/]", name, maxsplit=1)[1].lower()
                                    for name in GENERATION_SCORES)  # bleu, rougel, ...


def is_generation_score(own: str) -> bool:
    """Whether `own`, taken in the held-out accuracy's role, is a generation score
    (`role_candidates.GENERATION_SCORES`) in any spelling the role takes one in: as listed, capitalised
    (a W&B panel `Eval_BLEU`), of an evaluation set HF's Trainer names (`eval_g0_bleu`) or of a
    Lightning loader (`.../dataloader_idx_0`): the name's last word, without the loader."""
    base = loader_bases([own]).get(own, own)
    return re.split(r"[_/]", base)[-1].lower() in _GENERATION_SCORE_NAMES


# words of a series' name that make it a failure count or a spread instead of a score a user
# would judge a run by (`SCORE_WORDS`), and the endings of a score's own name
_NOT_MEANS = ("fail", "error", "std", "min", "max", "reject")
_SCORE_ENDS = ("mean", "reward", "score", "accuracy", "acc", "pass_rate")
_PREFERENCE_ROLES = ("eval/preference_accuracy", "train/preference_accuracy",
                     "train/preference_margin")


def fallback_note(run: Run, chosen: str) -> str | None:
    """What to say when the metric chosen without --metric is a train metric (`FALLBACK_ROLES`):
    the log has no held-out metric or reward phasewatch knows by name, and a train loss cannot
    show overfitting. Series whose names look like scores are named (trial 38b: a home-made
    GRPO log's `reward/selected_mean` rose 7.3 se while "no held-out metric or reward in this
    log" sent the analysis to a policy-gradient loss of 0 +- 2e-4). A preference run's accuracy
    and margin come first, what such a run is judged by, and no rejected side's reward, lower
    is better, is named a score (trial 39b: trl-orpo-recsys was told "rewards/chosen,
    rewards/rejected", its batches' log-probability rewards, and not its rewards/accuracies)."""
    if is_performance_metric(run, chosen):
        return None
    declared = declared_best_metric(run)  # the metric a best checkpoint is kept by: no train loss
    if declared is not None and declared.own == run.own_name(chosen):
        return None
    hint = f"; {may_be}" if (may_be := score_like_hint(run)) else "; pass --metric to choose another"
    return (f"no held-out metric or reward phasewatch knows by name in this log: taking its "
            f"train loss ({run.resolve_metric(chosen)}), which cannot show an overfit to the "
            f"training data{hint}")


def score_like_hint(run: Run) -> str:
    """'series that may be one: rewards/accuracies, reward/selected_mean and 2 more; pass
    --metric rewards/accuracies to analyse the first, a score of the training batches' (or
    ""): the series of `run` that may be the score it is judged by, though no role names them.
    A preference run's accuracy and margin first, then names that look like scores, with enough
    values for a trend and moving; a mean or a named score before the rest
    (`reward/selected_mean` before `reward/valid_rate`). No token accuracy (`_is_token_accuracy`).
    The option to type is given whole, as the other notes give it, so that a user need not
    assemble the command (a Keras CSVLogger log without validation, `epoch,accuracy,loss`:
    "pass --metric accuracy to analyse it"). Where
    the log places the first on the training batches (`train_beside.is_train_metric`: a
    preference run's accuracy, a score under `train/` or `rollout/`), it says so: its
    phases are training's, as a train loss's are; a bare `accuracy` the log does not place (a
    list of held-out accuracies may be named so too) is not called either."""
    maybe = score_like_series(run)
    if not maybe:
        return ""
    first = maybe[0]
    which = "it" if len(maybe) == 1 else "the first"
    where = ", a score of the training batches" if is_train_metric(run, first) else ""
    return (f"series that may be one: {listed(maybe, 4)}; pass {metric_option(first)} to "
            f"analyse {which}{where}")


def score_like_series(run: Run, excluding: frozenset[str] = frozenset()) -> list[str]:
    """`score_like_hint`'s series, in its order, without those with a word (`name_words`) in
    `excluding`.
    Those named as measured on a held-out split (`eval_greedy_rewards`) come before the rest,
    after a preference run's accuracy and margin."""
    known = role_names(run)
    preference = [own for role in _PREFERENCE_ROLES if (own := run.own_name(role))
                  and n_finite(run, role) >= MIN_FOR_TREND and np.ptp(run.column(role).values) > 0]
    scores = [name for name in run.metrics if name not in known
              and (any(word in name.lower() for word in SCORE_WORDS)
                   or not HIGHER_IS_BETTER_TOKENS.isdisjoint(name_words(name)))  # `em`, `mrr`
              and not _no_score(name, _NOT_SCORES + _NOT_MEANS)
              and not _is_token_accuracy(name)
              and n_finite(run, name) >= MIN_FOR_TREND and np.ptp(run.column(name).values) > 0]
    maybe = [name for name in preference + scores if excluding.isdisjoint(name_words(name))]
    maybe.sort(key=lambda name: (name not in preference, not held_out_named(name),
                                 not name.lower().endswith(_SCORE_ENDS)))
    return maybe


def role_names(run: Run) -> set[str]:
    """The log's own names of the roles it has (`ROLE_CANDIDATES`: a train loss, a KL, a
    learning rate...): no score a hint should name. Not every alias: `run.aliases` also spells
    each HF `eval_x` as `eval/x`, which is no role, and a hint that left those out sent a PPO
    run's user to its training `episode_rewards` and never named its `eval_greedy_rewards`
    (json-openenv-ppo-evalgreedy-20)."""
    return {own for role, own in run.aliases.items() if role in ROLE_CANDIDATES}


def held_out_named(name: str) -> bool:
    """Whether `name` begins with a held-out split's word (`eval_...`, `val/...`)."""
    words = name_words(name)
    return bool(words) and words[0] in SPLIT_WORDS


def _is_token_accuracy(name: str) -> bool:
    """Whether `name` is a token accuracy (TRL's `mean_token_accuracy`, W&B's
    `train/mean_token_accuracy`, OpenAI fine-tuning's `training_token_accuracy`): the share of
    next tokens the teacher-forced model ranks first on the batches its loss is taken on, the
    loss's by-product, as `heldout_names` says of its eval spelling. Named as a score a run
    "may be" judged by, beside a train loss that "cannot show an overfit", it sent the user to
    the same batches' mirror of that loss (trainer-state-gsm8k-lora-trainloss-62 and
    trainer-state-symptom-sft-trainloss-109: TRL SFT runs without evaluation, told "series that
    may be one: mean_token_accuracy")."""
    words = re.split(r"[^a-z0-9]+", name.lower())
    return "token" in words and any(word.startswith("acc") for word in words)
