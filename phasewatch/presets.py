"""Metric-name presets: each framework's own names for the roles DESIGN.md defines.

A role is a canonical metric name (what the reference trainer writes). Readers call
`aliases_for(metrics)` so `run.series("eval/accuracy")` finds e.g. `eval_accuracy` in a TRL log;
the original names stay in the run. Candidates are ordered: the first present wins.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Collection, Iterable, KeysView, Mapping
from functools import lru_cache

from phasewatch.direction_words import says_lower_is_better
from phasewatch.heldout_names import held_out_direction, held_out_match
from phasewatch.set_names import eval_sets, loader_bases, set_order

# canonical name -> candidate names in other frameworks, most specific first (fnmatch globs;
# `*` also matches "/"). Names checked against the frameworks' sources / real logs:
# - TRL GRPO: `reward`, `reward_std`, `kl`, `entropy`, `rewards/<fn>/mean` (>= 0.17; older:
#   `rewards/<fn>`), `completions/mean_length` (older: `completion_length`); HF Trainer `loss`,
#   `learning_rate`, `grad_norm`, eval rows `eval_<x>`; HF's W&B / TensorBoard callbacks rename
#   these `train/<x>` and `eval/<x>`.
# - verl: `critic/score/mean`, `critic/rewards/mean`, `actor/entropy` (older: `actor/entropy_loss`,
#   which held the mean entropy), `actor/kl_loss` (older: `critic/kl`), `actor/pg_loss`,
#   `response_length/mean`; validation `val/test_score/<source>` (older) and
#   `val-core/<source>/<var>/<metric>@N` (newer; MLflow stores `@` as `_at_`).
# - verl SFT (fsdp_sft_trainer): `train/loss`, `train/lr(1e-3)` (lr x 1000; the verl readers
#   convert it to `train/lr`), validation `val/loss`. `actor/ppo_kl` is the KL between the
#   rollout (old) policy and the updated one within a PPO step, not the KL to the reference
#   model (`actor/kl_loss`, `critic/kl`): it has its own role.
# - OpenRLHF PPO: `reward`, `return`, `policy_loss`, `entropy_loss` (the mean entropy, which the
#   loss subtracts), `response_length`, `kl`, `actor_lr`, `actor_grad_norm`, evaluation
#   `eval_<dataset>_pass1` (W&B / TensorBoard: `train/<x>`, `eval/<x>`). SFT: `gpt_loss`, eval
#   `eval gpt_loss` (with a space). DPO / RM: `acc` (preference accuracy), eval `acc_mean`.
# - TRL DPO: `rewards/accuracies`, `rewards/margins` (eval rows `eval_rewards/...`).
# - TRL PPO, RLOO 0.x, Online DPO: `objective/scores` (the reward model's), `objective/rlhf_reward`
#   (score - KL penalty), `objective/kl`, `objective/entropy`, `loss/policy_avg`; older PPOTrainer:
#   `env/reward_mean` (`ppo/mean_scores`), `ppo/loss/policy`; W&B prefixes `train/`. RLOO 1.x: GRPO's.
# - LLaMA-Factory trainer_log.jsonl: `loss`, `lr` (older: `learning_rate`), `eval_loss`,
#   `reward` (PPO), `accuracy` (TRL's DPO `rewards/accuracies`: preference accuracy on the
#   training pairs, not a held-out task accuracy).
# - Trinity-RFT: `eval/<taskset>/accuracy/mean@N`, `bench/<taskset>/accuracy/mean@N`,
#   `rollout/accuracy/mean`, verl-style `actor/*`, `critic/*`, `response_length/mean`; CHORD
#   (`mix_chord`): `actor/loss`, `actor/mu`, `actor/usual/pg_loss`, `actor/expert/sft_loss`
#   (`sft_phi_loss` with the phi weighting), both scaled by their batch weights.
# - OLMo (console, W&B): `train/CrossEntropyLoss`, held-out `eval/<label>/CrossEntropyLoss`.
# - nanoGPT (and the many scripts copied from it) prints `step N: train loss X, val loss Y` at
#   each evaluation, `iter N: loss X, time Tms, mfu M%` between: names with a space.
# - Tinker cookbook (metrics.jsonl): SFT `train_mean_nll`, held-out `test/nll` (its NLL
#   evaluator's default name); RL `env/all/reward/total`, held-out `test/env/all/reward/total`.
# - OpenMMLab (mmengine `vis_data/scalars.json`): training rows `loss`, `lr`; validation rows
#   mmpretrain `accuracy/top1`, mmdet `coco/bbox_mAP` (2.x `bbox_mAP`), mmseg `mIoU`, mmpose
#   `coco/AP` (its CocoMetric; `PCK`, `AUC`, `NME` beside it have no role).
#   detectron2 (`metrics.json`, TensorBoard, console): `total_loss`, COCO evaluation `bbox/AP`,
#   `segm/AP` (x100), semantic segmentation `sem_seg/mIoU`.
# - Seq2seq evaluation with generation (`predict_with_generate`): LLaMA-Factory's
#   `ComputeSimilarity` (and ChatGLM-Efficient-Tuning's, ChatGLM's p-tuning script) return
#   `rouge-1`, `rouge-2`, `rouge-l`, `bleu-4`, scaled x100; HF's run_summarization /
#   run_translation examples `rouge1`, `rouge2`, `rougeL`, `rougeLsum` / `bleu`. The Trainer
#   prefixes them `eval_` (TensorBoard / W&B: `eval/`).
# Generation scores of a seq2seq evaluation (`predict_with_generate`), taken as the held-out
# accuracy after any accuracy: LLaMA-Factory's and ChatGLM's `rouge-l`, `bleu-4` (x100), HF
# examples' `rougeL`, `bleu`. Scores of generated text, as a WER is: the held-out loss beside
# them is named when one is taken (`choice_notes.loss_beside_score_note`).
GENERATION_SCORES: tuple[str, ...] = (
    "eval_rouge-l", "eval/rouge-l", "eval_bleu-4", "eval/bleu-4",
    "eval_rougeL", "eval/rougeL", "eval_bleu", "eval/bleu",
)
ROLE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "eval/accuracy": (
        "eval/accuracy", "eval_accuracy", "eval/acc", "eval_acc",
        # Keras (`CSVLogger`, `History`) and Lightning (`CSVLogger`, TensorBoard) validation
        "val_accuracy", "val_acc", "val/accuracy", "val/acc", "validation/accuracy",
        "val_accuracy_epoch", "val_acc_epoch",  # Lightning, logged on step and on epoch
        # Keras' TensorBoard callback: `validation/` event files with `epoch_<metric>` tags
        "validation/epoch_accuracy", "validation/epoch_acc",
        # a "dev" or "valid" split (NLP research code; fairseq's `valid_<x>`)
        "dev_accuracy", "dev_acc", "dev/accuracy", "dev/acc", "valid_accuracy", "valid_acc",
        "valid/accuracy", "valid/acc",
        # OpenMMLab validation rows (mmengine scalars.json): mmpretrain `accuracy/top1`, mmdet 3.x
        # `coco/bbox_mAP` (`coco/segm_mAP`), mmdet 2.x `bbox_mAP`, mmseg `mIoU`, mmpose
        # `coco/AP`; detectron2's COCOEvaluator (metrics.json, TensorBoard) `bbox/AP` (`segm/AP`),
        # `sem_seg/mIoU`
        "accuracy/top1", "coco/bbox_mAP", "coco/segm_mAP", "bbox_mAP", "segm_mAP", "mIoU",
        "coco/AP",
        "bbox/AP", "segm/AP", "sem_seg/mIoU",
        # an exact match is the accuracy of generated answers (SQuAD's newer `exact_match`,
        # a generation callback's score)
        "eval_exact_match", "eval/exact_match",
        "val-core/*/acc/mean@*", "val-core/*/acc/mean_at_*",
        "val-core/*/reward/mean@*", "val-core/*/reward/mean_at_*",
        "val/test_score/*",
        # Trinity: `mean@k`, or with `monitor.detailed_stats` only `mean@k/{mean,max,min,std}`
        # (the `/mean` first: a bare glob would pick `/max`); MLflow writes `@` as `_at_`
        "eval/*/accuracy/mean@*/mean", "eval/*/accuracy/mean@*",
        "eval/*/accuracy/mean_at_*/mean", "eval/*/accuracy/mean_at_*",
        "bench/*/accuracy/mean@*/mean", "bench/*/accuracy/mean@*",
        "eval_*_pass1", "eval/*_pass1",
        "eval/reward", "eval_reward", "eval/score", "eval_score",
        "eval/mean_reward",  # Stable-Baselines3's EvalCallback: the return on its eval episodes
        "eval/rewards/mean", "eval_rewards/mean",
        "test/env/all/reward/total",  # Tinker cookbook RL, held-out
        *GENERATION_SCORES,
        # a held-out split called test, after every validation spelling (the split a run is
        # judged by when it has no validation one): Keras / PyTorch scripts' `test_acc`, HF's
        # `trainer.predict` rows, W&B panels `test/accuracy`
        "test_accuracy", "test_acc", "test/accuracy", "test/acc",
        "test_exact_match", "test/exact_match",
    ),
    "expert/nll_train": ("expert/nll_train",),
    "expert/nll_heldout": ("expert/nll_heldout",),
    "train/loss": ("train/loss", "loss", "train_loss", "train loss",  # nanoGPT's eval print
                   "actor/loss", "actor/pg_loss", "policy_loss",
                   "train/policy_loss", "gpt_loss", "train/gpt_loss",
                   # home-made loops: TensorBoard `training/loss`, printed `avg_loss=`
                   "training/loss", "avg_loss", "train/avg_loss",
                   # Lightning's `self.log(..., on_step=True, on_epoch=True)`: both series
                   "train_loss_step", "train_loss_epoch",
                   "loss/policy_avg", "train/loss/policy_avg", "ppo/loss/policy",  # TRL PPO, RLOO
                   "train_mean_nll",  # Tinker cookbook SFT
                   "total_loss",  # detectron2 (metrics.json, console, TensorBoard)
                   "train/CrossEntropyLoss"),  # OLMo
    # Trinity-RFT's CHORD (`mix_chord` policy loss, logged under `actor/`)
    "train/sft_loss": ("train/sft_loss", "actor/expert/sft_loss", "actor/expert/sft_phi_loss"),
    "train/rl_loss": ("train/rl_loss", "actor/usual/pg_loss"),
    "train/mu": ("train/mu", "actor/mu"),
    "train/reward": (
        "train/reward", "reward", "train/rewards/mean", "critic/score/mean", "critic/rewards/mean",
        "rollout/accuracy/mean", "rollout/reward", "rewards/accuracy_reward/mean",
        "rewards/accuracy_reward", "return", "train/return",
        # home-made loops: `reward/mean`, `train/mean_reward`, `mean_reward`, `reward_mean`
        "reward/mean", "train/mean_reward", "mean_reward", "reward_mean", "train/reward_mean",
        "env/all/reward/total",  # Tinker cookbook RL
        # TRL PPO / RLOO 0.x / Online DPO: the score, as GRPO's `reward` is, before the score
        # less beta x KL (trial 39: Online DPO's task 0.29 -> 0.99, scores 0.87 -> 0.995, its
        # rlhf_reward fell: "overfit", stop at step 15); then TRL's older PPOTrainer
        "objective/scores", "train/objective/scores", "objective/rlhf_reward",
        "train/objective/rlhf_reward", "env/reward_mean", "ppo/mean_scores",
        # Stable-Baselines3 (progress.csv, console tables), OpenAI Baselines: the mean return of
        # the last 100 training episodes
        "rollout/ep_rew_mean", "EpRewMean", "eprewmean",
        # last, any train-side mean reward under its method's own prefix (a self-distillation
        # trainer's `train/self_distillation/reward_mean` beside its distillation loss)
        "train/*/reward_mean", "train/*/mean_reward",
    ),
    "train/entropy": (
        "train/entropy", "entropy", "actor/entropy", "entropy_loss", "train/entropy_loss",
        "actor/entropy_loss", "objective/entropy", "train/objective/entropy",  # TRL PPO, RLOO
    ),
    "train/preference_accuracy": (
        "rewards/accuracies", "train/rewards/accuracies", "acc", "train/acc", "acc_mean",
        "train/acc_mean", "accuracy"),
    "train/preference_margin": ("rewards/margins", "train/rewards/margins"),
    "eval/preference_accuracy": (
        "eval_rewards/accuracies", "eval/rewards/accuracies", "eval/acc_mean", "eval_acc_mean"),
    "train/policy_step_kl": ("actor/ppo_kl",),
    "eval/response_length": (
        "eval/response_length", "eval/completions/mean_length", "eval_completions/mean_length"),
    # the train batches' (TRL GRPO's `completion_length` was eval/response_length: trial 39b)
    "train/response_length": (
        "train/response_length", "completions/mean_length", "train/completions/mean_length",
        "completion_length", "train/completion_length", "response_length/mean", "response_length"),
    "train/kl": ("train/kl", "kl", "actor/kl_loss", "critic/kl", "objective/kl", "train/objective/kl"),
    "train/grad_norm": ("train/grad_norm", "grad_norm", "actor/grad_norm", "actor_grad_norm",
                        "train/actor_grad_norm"),
    "train/lr": (
        "train/lr", "learning_rate", "train/learning_rate", "lr", "actor/lr", "actor_lr",
        "train/actor_lr",
    ),
    "eval/loss": ("eval/loss", "eval_loss", "val/loss", "eval gpt_loss", "eval/eval gpt_loss",
                  "eval/eval_loss", "val_loss", "val loss",  # nanoGPT: `step N: ..., val loss X`
                  "validation/loss", "validation_loss",
                  "validation/epoch_loss", "dev_loss", "dev/loss", "valid_loss", "valid/loss",
                  "val_loss_epoch", "val_losses", "test/nll",  # Tinker cookbook's NLL evaluator
                  "eval/*/CrossEntropyLoss",  # OLMo's evaluators, by label
                  "test_loss", "test/loss"),  # a test split, after every validation spelling
    # Held-out scores that are neither an accuracy nor a loss, taken before the loss: HF's
    # SQuAD `eval_f1`, `eval_exact` (`exact_match` in the newer metric), GLUE's Matthews and
    # Pearson / Spearman correlations, ASR's `eval_wer` / `eval_cer`; and their `test` spellings.
    # The direction is the name's (`default_direction`: wer, cer -> min).
    "eval/other_score": (
        "eval_f1", "eval/f1", "eval_exact", "eval/exact",
        "eval_matthews_correlation", "eval/matthews_correlation", "eval_pearson", "eval/pearson",
        "eval_spearmanr", "eval/spearmanr", "eval_roc_auc", "eval/roc_auc", "eval_auc",
        "eval/auc", "eval_wer", "eval/wer", "eval_cer", "eval/cer",
        "test_f1", "test/f1", "test_exact", "test/exact",
        "test_matthews_correlation", "test_pearson", "test_spearmanr", "test_roc_auc",
        "test_auc", "test/auc", "test_wer", "test/wer", "test_cer", "test/cer",
    ),
}

# Metrics that can serve as the performance series, in order of preference, with direction.
# None: the direction is the log's own name's (`default_direction`). A held-out score (a WER,
# an F1) before the held-out loss: it is what the run is judged and reported by (a Whisper
# fine-tune's eval loss rises from its first evaluation while its WER falls to the end, and the
# Trainer kept its best checkpoint by the WER: readers 40a, 40b).
PERFORMANCE_ROLES: tuple[tuple[str, str | None], ...] = (
    ("eval/accuracy", "max"),
    ("eval/other_score", None),
    ("eval/loss", "min"),
    ("train/reward", "max"),
)
# The performance roles measured on held-out data (all but the train reward), in the same order:
# `watch` holds the records until one of them has enough values to be chosen as `analyze` would.
HELD_OUT_ROLES: tuple[str, ...] = tuple(role for role, _ in PERFORMANCE_ROLES
                                        if role != "train/reward")

# What `analyze` takes when a log has none of the performance roles: an SFT run that logged only
# its train loss (5 of the 58 real logs of benchmarks/real_corpus) can still show a disruption,
# an improvement and a plateau, though not an overfit to its training data; the analysis says so.
FALLBACK_ROLES: tuple[tuple[str, str], ...] = (("train/loss", "min"),)


def default_direction(metric: str) -> str:
    """'min' for losses, NLL, error rates, perplexity, WER, DPO's `rewards/rejected` and
    `logps/rejected`; else 'max' (DESIGN.md contract). A
    held-out loss or reward by `heldout_names` takes its leaf's direction (`val-aux/<set>/reward`
    stays 'max' whatever the set is called)."""
    held_out = held_out_direction(metric)
    if held_out is not None:
        return held_out
    return "min" if says_lower_is_better(metric) else "max"


def _compile() -> tuple[dict[str, list[tuple[str, int]]], list[tuple[str, int, str, Callable]], tuple[str, ...]]:
    """The candidates as a lookup built once: exact names -> [(role, rank)], and the globs
    with the literal prefix every name they match starts with (a name that starts with none
    of them, `k123` or `metric_5`, is never matched against a pattern)."""
    exact: dict[str, list[tuple[str, int]]] = {}
    globs: list[tuple[str, int, str, Callable]] = []
    for role, candidates in ROLE_CANDIDATES.items():
        for rank, pattern in enumerate(candidates):
            if any(c in pattern for c in "*?["):
                cut = min(pattern.index(c) for c in "*?[" if c in pattern)
                globs.append((role, rank, pattern[:cut], re.compile(fnmatch.translate(pattern)).match))
            else:
                exact.setdefault(pattern, []).append((role, rank))
    prefixes = tuple(sorted({g[2] for g in globs} | {"eval_"}))
    return exact, globs, prefixes


_EXACT, _GLOBS, _PREFIXES = _compile()
# Keras and Lightning name a classifier's train accuracy `accuracy` / `acc` beside its validation
# accuracy (`val_accuracy`, `dev_acc`, `test_acc`...), RL loops an evaluation beside their reward
# (grpo-axiomforge: 150 problems every 5 iterations); OpenRLHF and LLaMA-Factory use the same
# bare names for a preference accuracy, with neither beside it.
BARE_ACCURACY = frozenset({"acc", "accuracy"})
KERAS_STYLE_VALIDATION = ("val_accuracy", "val_acc", "dev_accuracy", "dev_acc",
                          "valid_accuracy", "valid_acc", "test_accuracy", "test_acc")
# A validation split named by its user: TensorBoard directories `dev-validation/`,
# `validation-ood/` beside Keras' `validation/` (a run evaluated on several held-out sets). Such a
# name takes the roles its `validation/<rest>` spelling has (`validation/epoch_loss` is eval/loss);
# "validation" must be a whole hyphen-joined word of the first path component (`invalidation/`,
# `train/dev-validation/` are not splits), and a split that calls itself train is not held out.
NAMED_VALIDATION_SPLIT = re.compile(
    r"^(?:(?P<before>[^/]+)-validation(?:-[^/]+)?|validation-(?P<after>[^/]+))$")
TRAIN_SPLIT_WORDS = frozenset({"train", "training"})


def is_named_validation_split(name: str) -> bool:
    """Whether a folder or tag prefix is a validation split under a name of its own
    (`dev-validation`, `validation-ood`; not `validation` itself, nor `train-validation`)."""
    match = NAMED_VALIDATION_SPLIT.match(name)
    if match is None:
        return False
    return (match.group("before") or match.group("after")).lower() not in TRAIN_SPLIT_WORDS


@lru_cache(maxsize=1 << 16)
def _glob_roles(name: str) -> tuple[tuple[str, int], ...]:
    """(role, rank) of every glob candidate `name` matches (cached per distinct name: the live
    monitor asks again as names arrive)."""
    return tuple((role, rank) for role, rank, prefix, match in _GLOBS
                 if name.startswith(prefix) and match(name))


@lru_cache(maxsize=1 << 16)
def _named_split_roles(name: str) -> tuple[tuple[str, int], ...]:
    """(role, rank) of a metric of a named validation split (`is_named_validation_split`):
    those of its `validation/<rest>` spelling, which only eval roles have; else ()."""
    split, slash, rest = name.partition("/")
    if not slash or not is_named_validation_split(split):
        return ()
    listed = tuple(_EXACT.get(f"validation/{rest}", ()))
    if listed:
        return listed
    # ... or the held-out rule's (trial 38b: `dev-validation/node_accuracy` was passed over for
    # `dev-validation/loss`, while `validation/node_accuracy` of the same code was taken)
    found = held_out_match(f"validation/{rest}")
    return () if found is None else ((found[0], HELD_OUT_RULE_RANK + found[1]),)


CAPITALISED_RANK = 1000  # added to a candidate's rank when the log spells it with capitals
EVAL_SET_RANK = 500  # added to a candidate's rank for one of several named held-out sets
HELD_OUT_RULE_RANK = 2 * CAPITALISED_RANK  # `heldout_names`: after every listed candidate, in any case


def _eval_set_roles(name: str, sets: list[tuple[str, str]]) -> list[tuple[str, int]]:
    """(role, rank) of a metric of a named held-out set (`eval_g0_accuracy`): those of the
    set-less spelling (`eval_accuracy`), after every candidate spelled as listed."""
    return [(role, rank + EVAL_SET_RANK) for prefix, label in sets
            if name.startswith(f"{prefix}{label}_")
            for role, rank in _EXACT.get(prefix + name[len(prefix) + len(label) + 1:], ())]


def _present(metrics: Iterable[str]) -> Collection[str]:
    """`metrics` as something with a fast `in` (a dict's keys, a set) without copying one."""
    if isinstance(metrics, (set, frozenset, KeysView, Mapping)):
        return metrics
    return set(metrics)


def _hits(present: Collection[str]) -> tuple[list[tuple[str, int, str]], list[str]]:
    """(role, rank, name) of every candidate present, and the `eval_*` names: one pass over
    the names (a prefix test each), a dict lookup per exact candidate."""
    hits = [(role, rank, pattern) for pattern, roles in _EXACT.items() if pattern in present
            for role, rank in roles]
    # a candidate spelled with capitals or spaces (W&B panels named by hand: `Reward`, `Loss`;
    # printed `Valid Loss: 5.90`), after every candidate spelled as listed
    for name in present:
        lowered = name.lower()
        for spelling in dict.fromkeys((lowered, lowered.replace(" ", "_"))):
            if spelling != name and spelling in _EXACT and spelling not in present:
                hits.extend((role, rank + CAPITALISED_RANK, name) for role, rank in _EXACT[spelling])
                break
    prefixes = _PREFIXES if "" not in _PREFIXES else None
    flagged = [n for n in present
               if prefixes is None or n.startswith(prefixes) or "validation" in n]
    sets = eval_sets(flagged)
    for name in flagged:
        hits.extend((role, rank, name) for role, rank in _glob_roles(name))
        hits.extend((role, rank, name) for role, rank in _named_split_roles(name))
        if sets:
            hits.extend((role, rank, name) for role, rank in _eval_set_roles(name, sets))
    # Lightning's loaders (`val_acc/dataloader_idx_0`): the roles of `val_acc`, as a named set's
    loaders = loader_bases(present)
    if loaders:
        by_base, _ = _hits(frozenset(loaders.values()))
        hits.extend((role, rank + EVAL_SET_RANK, name) for name, base in loaders.items()
                    for role, rank, found in by_base if found == base)
    # held-out losses and rewards under a split prefix (`val/ppl`, `val-aux/<set>/loss`) that no
    # candidate names (`eval/reward` stays eval/accuracy), after every candidate their role lists
    listed = {name for _, _, name in hits}
    for name in present:
        if name not in listed and (found := held_out_match(name)) is not None:
            rank = HELD_OUT_RULE_RANK + found[1] + (CAPITALISED_RANK if name != name.lower() else 0)
            hits.append((found[0], rank, name))
    if any(name in present or name in loaders.values() for name in KERAS_STYLE_VALIDATION) or any(
            h[0] == "train/reward" for h in hits):
        hits = [h for h in hits if not (h[0] == "train/preference_accuracy" and h[2] in BARE_ACCURACY)]
    return hits, [n for n in flagged if n.startswith("eval_") and len(n) > 5]


def role_matches(role: str, metrics: Iterable[str]) -> list[str]:
    """Every metric the role's first matching candidate pattern names: one usually, several when
    a run holds several validation sets (`val-core/aime24/...`, `val-core/math500/...`), which
    the alias alone (the first in name order) would silently choose between."""
    present = _present(metrics)
    if role in present:
        return [role]
    hits, _ = _hits(present)
    ranks = [rank for r, rank, _ in hits if r == role]
    if not ranks:
        return []
    first = min(ranks)
    return sorted({name for r, rank, name in hits if r == role and rank == first}, key=set_order)


def hf_spellings(name: str) -> tuple[str, ...]:
    """`name` in HF Trainer's other spelling: its own logs (trainer_state.json, its console,
    MLflow) write `eval_x`, `test_x` and a train row's bare `x`, which its W&B / TensorBoard /
    Trackio callbacks write `eval/x`, `test/x` and `train/x` (`rewrite_logs`); and back. So
    HF's `train_loss` (the run's final average) is the callbacks' `train/train_loss`, not
    their `train/loss` (HF's `loss`)."""
    for head in ("eval", "test"):
        for sep, other in (("_", "/"), ("/", "_")):
            if name.startswith(head + sep) and len(name) > len(head) + 1:
                return (f"{head}{other}{name[len(head) + 1:]}",)
    if name.startswith("train/"):
        return (name[len("train/"):],) if len(name) > len("train/") else ()
    return (f"train/{name}",) if name else ()


def hf_spelling(name: str, present: Collection[str]) -> str | None:
    """The one metric of `present` that is `name` in HF's other spelling (`hf_spellings`), or
    None when none is: a --metric name copied from one tracker of a Trainer run works on the
    others (`Run.resolve_metric`, `live_choice`), where the name itself is absent."""
    found = [other for other in hf_spellings(name) if other in present]
    return found[0] if len(found) == 1 else None


def aliases_for(metrics: Iterable[str]) -> dict[str, str]:
    """canonical name -> this run's own name, for each role whose candidate is present: the
    role's first candidate pattern that matches, and its first match in name order."""
    present = _present(metrics)
    hits, eval_names = _hits(present)
    best: dict[str, tuple[int, str]] = {}
    for role, rank, name in hits:
        known = best.get(role)
        if known is None or (rank, name) < known:
            best[role] = (rank, name)
    aliases = {role: best[role][1] for role in ROLE_CANDIDATES if role in best and role not in present}
    # a Lightning metric asked for without its loader (`--metric val_acc`) is its first loader's
    for own, base in sorted(loader_bases(present).items(), key=lambda item: set_order(item[0])):
        if base not in present:
            aliases.setdefault(base, own)
    # HF Trainer's `eval_x` is what its W&B / TensorBoard callbacks show as `eval/x`.
    taken = set(aliases)
    for own in sorted(eval_names):
        if f"eval/{own[5:]}" not in taken and f"eval/{own[5:]}" not in present:
            aliases[f"eval/{own[5:]}"] = own
    return aliases
