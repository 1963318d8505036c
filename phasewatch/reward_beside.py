"""What a reward's rise came with: the completions cut at the length limit, the KL to the
reference model and the policy's entropy over the same steps.

A reward the policy is trained on can rise for the wrong reason, and the run's other signals
often say so while the reward alone cannot. Trial 39's RLOO run on a length-biased reward
(`analyze noem/rloo_lenbias_b0`) printed "eval_reward (max) improvement 60 -> 90 (+67.3 sd)"
and "stop 130" without a word, while over those steps `completions/clipped_ratio` went 0 ->
0.99 (nearly every completion hit the length limit) and the held-out exact match, not in that
log, collapsed 0.32 -> 0; its Online DPO twin's scores rose 1.92 -> 2.53 as `objective/kl` went
0.25 -> 14.3 and the share of completions without an EOS token 0 -> 0.999 (the means of their
first and last 10 readings). Each signal is said as a fact, with what it can mean, and nothing
more: a rise that came with none of them is not vouched for either.

The reward is the train reward, or its eval twin, the same reward functions on the eval prompts
(TRL's `eval_reward` beside `reward`): the policy is trained to raise it, so it can be gamed on
new prompts as on the training ones. A held-out accuracy, exact match, loss or test score is
what the warning points to, and gets none.

Each signal is judged over the rising phase as `train_beside` judges a train loss beside an
overfit (`train_move`: the means of its first and last quarter of readings there, against the
noise of one reading from its second differences), never by two single readings, its spikes
left out as the analysed metric's are, and said when:
- the share cut at the length limit rose beyond that noise and ended above half (`MOST`), or
  was above half from the start of the rise and ended there, whether it held or fell: then the
  reward scored mostly unfinished completions throughout (hfconsole-panacea-grpo-300:
  `completions/clipped_ratio` 1 at all 300 steps, no completion terminated, while the reward
  rose 4 sd), which is said as a share that stayed, not one that went there (a share that fell
  0.99 -> 0.6 is completions getting shorter, no sign of a reward that grows with length);
and the other signals only when they moved beyond that noise and:
- the KL ended at least `KL_FOLD` times its start level and at `KL_FLOOR` nats or more: from a
  policy equal to its reference every KL grows many-fold (the corpus's GRPO runs: 0.0004 ->
  0.14, 0.001 -> 0.058 per token, their rewards rising with it; trial 39's Online DPO on a
  similarity reward, 0.08 -> 1.5 per completion, its exact match 0.29 -> 0.99), only a large
  one is far from it (the length-hacked twin's 0.25 -> 14, its exact match 0.6 -> 0);
- the entropy ended at most `ENTROPY_SHARE` of its start level.
"""

from __future__ import annotations

from dataclasses import dataclass

from phasewatch.direction_words import name_words
from phasewatch.noise import noise_scale
from phasewatch.outliers import spike_mask
from phasewatch.results import Analysis, Phase
from phasewatch.run import Run
from phasewatch.step_units import at
from phasewatch.stepseries import StepSeries
from phasewatch.train_beside import (
    K_SE,
    SPLIT_WORDS,
    TrainMove,
    TrainSeries,
    how_judged,
    is_held_out,
    roles_of,
    train_move,
)

MOST = 0.5          # the share cut at the length limit that is most completions
KL_FOLD = 10.0      # how many times its start level the KL must end at
KL_FLOOR = 5.0      # nats: the least KL that is far from the reference (per token or sequence)
ENTROPY_SHARE = 0.25  # the most of its start level an entropy that collapsed ends at
RISES = ("improvement", "readaptation")
# the share of completions cut at the length limit, as each framework logs it: TRL GRPO (and
# RLOO from 1.0) `completions/clipped_ratio` (`train/` in W&B, `eval_` on its eval prompts),
# verl `response_length/clip_ratio`, OpenRLHF `response_clip_ratio`
CLIPPED_NAMES = ("completions/clipped_ratio", "train/completions/clipped_ratio",
                 "response_length/clip_ratio", "response_clip_ratio", "train/response_clip_ratio",
                 "eval_completions/clipped_ratio", "eval/completions/clipped_ratio")
# the share that ended with an EOS token, the rest cut at the limit: TRL Online DPO, PPO
EOS_NAMES = ("val/contain_eos_token", "train/val/contain_eos_token")
REWARD_WORDS = frozenset({"reward", "rewards", "score", "scores", "return"})
NOT_REWARD_WORDS = frozenset({"acc", "accuracy", "accuracies", "loss", "std", "margins",
                              "chosen", "rejected"})


@dataclass(frozen=True)
class Beside:
    """A signal judged beside a reward's rise: `kind` (`clipped_ratio`, `kl`, `entropy`) and
    its readings (`series`; the clipped share of an EOS share is 1 - it, named so)."""

    kind: str
    series: TrainSeries


def is_reward(run: Run, own: str) -> bool:
    """Whether `own` is a reward the policy is trained to raise: the train reward's role, a
    train-side name with a reward's words (`rewards/lenbias/mean`; not DPO's `rewards/chosen`,
    a preference accuracy, a loss or a spread), or the eval twin of one (`eval_reward` beside
    `reward`: the same reward functions on the eval prompts). A held-out score no train reward
    shares a name with (verl's `val/test_score/openai/gsm8k`, a verifier's accuracy on a test
    set) is the score the warning points to: none (verl-ppo-qwen05b-p512's test score rose 0 ->
    0.52 as its entropy fell 0.38 -> 0.09, a policy that learned the task)."""
    if "train/reward" in roles_of(run, own):
        return True
    for prefix in ("eval_", "eval/"):
        if own.startswith(prefix):
            twins = (own[len(prefix):], "train/" + own[len(prefix):])
            return any(twin in run.metrics and is_reward(run, twin) for twin in twins)
    words = set(name_words(own))
    if is_held_out(run, own) or words & SPLIT_WORDS:
        return False
    return bool(words & REWARD_WORDS) and not words & NOT_REWARD_WORDS


def beside_series(run: Run) -> list[Beside]:
    """The signals of `run` to judge a reward's rise by, those it logs: the share cut at the
    length limit (the train one first), the KL to the reference (`train/kl`), the entropy."""
    out = []
    clipped = next((n for n in CLIPPED_NAMES if n in run.metrics), None)
    eos = next((n for n in EOS_NAMES if n in run.metrics), None)
    if clipped is not None:
        out.append(Beside("clipped_ratio", TrainSeries("clipped_ratio", clipped, -1.0,
                                                       run.column(clipped).dropna())))
    elif eos is not None:
        shares, own = run.column(eos).dropna(), f"1 - {eos}"
        out.append(Beside("clipped_ratio", TrainSeries(
            "clipped_ratio", own, -1.0, StepSeries(own, shares.steps, 1.0 - shares.values))))
    for kind, role in (("kl", "train/kl"), ("entropy", "train/entropy")):
        own = run.own_name(role)
        if own is not None:
            out.append(Beside(kind, TrainSeries(role, own, -1.0 if kind == "kl" else 1.0,
                                                run.column(role).dropna())))
    return [Beside(b.kind, without_spikes(b.series)) for b in out if len(b.series.series)]


def without_spikes(train: TrainSeries) -> TrainSeries:
    """`train` without the readings its neighbours contradict (`outliers.spike_mask`, as the
    analysed metric's are left out): a KL's single-step blow-ups are no level it held
    (nb-gemma4-grpo-reward: a per-token KL near 2 from step 14, with 2262 at step 23 and 284
    at step 37 making the mean of its last 9 readings 33.5)."""
    values = train.series.values
    spikes = spike_mask(values, noise_scale(values), steps=train.series.steps)
    if not spikes.any():
        return train
    kept = StepSeries(train.own, train.series.steps[~spikes], values[~spikes])
    return TrainSeries(train.role, train.own, train.better, kept)


def came_with(beside: Beside, start: float, end: float) -> TrainMove | None:
    """How `beside` moved from `start` to `end` when that is worth saying (the module's rules),
    else None."""
    move = train_move([beside.series], start, end)
    if move is None:
        return None
    if beside.kind == "clipped_ratio":
        return move if move.end > MOST and (move.z >= K_SE or move.start > MOST) else None
    if beside.kind == "kl":
        fold = move.end >= KL_FOLD * move.start if move.start > 0 else True
        return move if move.z >= K_SE and fold and move.end >= KL_FLOOR else None
    collapsed = move.start > 0 and move.end <= ENTROPY_SHARE * move.start
    return move if move.z <= -K_SE and collapsed else None


def note_reward_rise(analysis: Analysis, run: Run) -> Analysis:
    """`analysis` with, on each rise of a reward (`is_reward`), what it came with: the phase's
    `rose_with` (JSON: per signal `TrainMove.to_dict` and its `signal`) and a warning
    (`rose_with_text`)."""
    own = analysis.metric
    if not is_reward(run, own):
        return analysis
    rises = [p for p in analysis.phases if p.name in RISES]
    besides = beside_series(run) if rises else []
    for phase in rises:
        moves = [(b.kind, m) for b in besides
                 if (m := came_with(b, phase.start_step, phase.end_step)) is not None]
        if moves:
            phase.stats["rose_with"] = [{"signal": kind, **m.to_dict()} for kind, m in moves]
            analysis.warnings.append(rose_with_text(own, phase, phase.stats["rose_with"],
                                                    run.step_unit))
    return analysis


_SAID = {
    "clipped_ratio": ("the share of completions cut at the length limit ({metric}) went "
                      "{start:.3g} -> {end:.3g}"),
    "kl": "the KL to the reference model ({metric}) grew {start:.3g} -> {end:.3g}, {fold}",
    "entropy": "the entropy ({metric}) collapsed {start:.3g} -> {end:.3g}, {share}",
}
_HELD = ("the share of completions cut at the length limit ({metric}) stayed above half, "
         "{start:.3g} -> {end:.3g}")
_MEANS = {
    "clipped_ratio": "a reward that grows with length can be gamed",
    "clipped_held": ("most completions were cut before they ended, so the reward scored "
                     "unfinished answers; a rise within the limit may not hold for whole ones"),
    "kl": "a reward model is least reliable on a policy that far from its reference",
    "entropy": "a policy narrowed to near-deterministic outputs may repeat one pattern the "
               "reward favours",
}


def rose_with_text(metric: str, phase: Phase, moves: list[dict], unit: str = "step") -> str:
    """'eval_reward rose 1.933 -> 2.445 from step 60 to step 90 while the share of completions
    cut at the length limit (completions/clipped_ratio) went 0.0187 -> 0.988 (the means of its
    first and last 2 readings there, 14.3 se apart): a reward that grows with length can be
    gamed; check a score the policy is not trained on (...)', of a phase's `rose_with`."""
    said, means = [], []
    for move in moves:
        if _held(move):
            said.append(_HELD.format(**move) + f" ({how_judged(move)})")
            means.append(_MEANS["clipped_held"])
            continue
        ratio = move["end"] / move["start"] if move["start"] > 0 else None
        said.append(_SAID[move["signal"]].format(
            metric=move["metric"], start=move["start"], end=move["end"],
            fold="from none" if ratio is None else f"{ratio:.0f}-fold",
            share="" if ratio is None else f"to {ratio:.0%} of its level")
            + f" ({how_judged(move)})")
        means.append(_MEANS[move["signal"]])
    return (f"{metric} rose {phase.stats['start_value']:.4g} -> {phase.stats['end_value']:.4g} "
            f"from {at(phase.start_step, unit)} to {at(phase.end_step, unit)} while "
            f"{'; '.join(said)}: {'; '.join(means)}; check a score the policy is not trained on "
            "(a held-out accuracy or exact match)")


def _held(move: dict) -> bool:
    """Whether a `rose_with` share cut at the length limit was above half from the start of the
    rise and did not rise beyond its noise (`came_with`'s second case): it stayed above half,
    flat or falling, rather than went there. A share that fell (0.99 -> 0.6) is completions
    getting shorter: "went 0.99 -> 0.6" beside "a reward that grows with length can be gamed"
    would say the opposite of what the completions did."""
    if move["signal"] != "clipped_ratio" or move["start"] <= MOST:
        return False
    beyond_noise = move.get("steady") or move["change_se"] is None or move["change_se"] >= K_SE
    return not (move["end"] > move["start"] and beyond_noise)
