"""TRL's reward-model score beside its KL-penalised reward (`objective/scores`,
`objective/rlhf_reward`): which one `analyze` and `watch` took, and when the two moved opposite
ways."""

from __future__ import annotations

from phasewatch.noise import noise_scale
from phasewatch.output import metric_option
from phasewatch.phase_stats import held_levels
from phasewatch.run import Run
from phasewatch.signals import MIN_FOR_TREND

# TRL's PPO, RLOO (< 1.0) and Online DPO: the reward model's score, and that score less
# beta x KL to the reference model (HF's W&B callback prefixes both `train/`)
SCORE_AND_PENALISED = (("objective/scores", "objective/rlhf_reward"),
                       ("train/objective/scores", "train/objective/rlhf_reward"))
OPPOSITE_SD = 2.0  # how far (noise sds of one evaluation) each end level must move


def kl_penalty_note(run: Run, metric: str, named: bool) -> str | None:
    """Of a run that logs both TRL's score and its KL-penalised `rlhf_reward`: why the score
    was taken (when chosen), and, analysed either, when the two moved opposite ways, the KL
    penalty outgrowing the gain (trial 39: an Online DPO run's scores rose 0.874 -> 0.995 while
    its rlhf_reward fell 0.868 -> 0.817, the KL 0.017 -> 1.95; on a length-hacked run the
    scores jumped as rlhf_reward fell 1.80 -> 1.15). Each end is `held_levels`'; a move counts
    beyond OPPOSITE_SD noise sds (`noise_scale`)."""
    own = run.own_name(metric) or metric
    pair = next((p for p in SCORE_AND_PENALISED if own in p and all(n in run.metrics for n in p)),
                None)
    if pair is None:
        return None
    score, penalised = pair
    ends = {}
    for name in pair:
        values = run.column(name).values
        if values.size < MIN_FOR_TREND:
            return None
        start, end = held_levels(values)
        ends[name] = (start, end, (end - start) / max(noise_scale(values), 1e-12))
    if ends[score][2] > OPPOSITE_SD and ends[penalised][2] < -OPPOSITE_SD:
        return (f"{score} rose {ends[score][0]:.4g} -> {ends[score][1]:.4g} while {penalised} "
                f"(the score less beta x KL to the reference model) fell "
                f"{ends[penalised][0]:.4g} -> {ends[penalised][1]:.4g}: the KL penalty outgrew "
                "the gain; the policy moved far from its reference for that score, so judge the "
                "task by a held-out metric")
    if named or own != score:
        return None
    return (f"taking {score}, the reward model's (or functions') score; {penalised} beside it "
            f"is that score less beta x KL to the reference model: pass {metric_option(penalised)} "
            "to judge the run by the penalised objective")
