"""Held-out losses and rewards under a split's prefix, whatever the sets between are called.

`role_candidates.ROLE_CANDIDATES` lists the names frameworks write; this rule covers the names
people build from a split prefix, a loss word and their own set names: `eval/nll`, `eval/perplexity`,
`val/ppl`, `val/gsm8k/loss`, fairseq's `valid_ppl`, and verl's `val-aux/<source>/loss` and
`val-aux/<source>/reward/mean@N`. verl files each data source's headline score (`acc` when
its reward function returns one, else `reward`, at the largest N) under `val-core/`, which the
listed candidates take, and every other validation metric under `val-aux/`.

A loss, NLL or perplexity takes the role `eval/loss` (lower is better); a reward, or a task
score (`TASK_SCORES`: an F1, a Dice or IoU, an AUPR, a WER or CER, a score of generated text or
of a ranking: `dev_chrf`, `val/bleu`, `test/wer`; a classifier's error rate, `test/error`),
takes `eval/other_score` (a held-out score that is neither an accuracy nor a loss; a reward is
higher-is-better, a score as its name says; scores of several kinds on one split are taken in
the order of their kinds); an accuracy or
exact match, bare or of a kind the log names (`validation/node_accuracy`, `val/top1_acc`,
`eval/gsm8k/accuracy`), takes `eval/accuracy` (higher is better), so the default follows the
documented priority, held-out accuracy first (after a segmentation overlap beside it: a
pixel accuracy; trial 32b finding 2: a log with `validation/node_accuracy` and
`validation/edge_accuracy` was judged by its `validation/loss`). Accuracies of several kinds
under one split share a rank, so the analysis names them all and says which it took
(`metric_sets.choose_series`). A token accuracy (TRL's `eval_mean_token_accuracy`) is not one:
it is the teacher-forced loss's by-product, and the eval loss beside it stays the metric. Each
rule ranks after every candidate its role lists, so a log holding a listed name keeps that
choice, and a `val-core/` reward (listed under `eval/accuracy`) stays ahead of a `val-aux/`
one. A split, set or kind called train (`eval/train/loss`, `val/train_accuracy`) is not held
out.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# split prefixes, in order of preference; `val-*` is any other verl-style section (`val-aux`)
SPLITS = ("eval", "val", "validation", "valid", "dev", "val-core", "val-*", "test")
# A score's name as its library spells it: torchmetrics' classes, which Lightning users log
# under their lowered names (`F1Score` -> `val_f1score`, `AUROC` -> `val_auroc`), and
# scikit-learn's functions (`f1_score`, `roc_auc_score`, `accuracy_score`). Without it a
# Lightning log's `val_f1score` of every epoch (csv-lightning-dnabert-valf1-20) had no role:
# the default took `val_loss` beside it, and no note named the F1.
SCORE_SUFFIX = "(?:_?score)?"
# Held-out task scores, one kind a line, in the order they are chosen when a split holds several
# (a kind of several names, per-entity F1s, is a breakdown: `signals.roles_present`): the
# order the listed spellings have (`role_candidates`: `eval_f1`, `eval_matthews_correlation`,
# `eval_pearson`, `eval_spearmanr`, `eval_roc_auc`, `eval_wer`, `eval_cer`), a Lightning
# recogniser's `val_wer` before its `val_cer` as a Whisper Trainer's `eval_wer` before its
# `eval_cer`. A segmentation overlap (Dice, the pixels' F1, then IoU or Jaccard) follows the
# F1 and is taken before a pixel accuracy beside it (`is_overlap`); an area under the
# precision-recall curve (a multi-label classifier's AUPR, an average precision) before the
# ROC's, as a log computes it beside the ROC's for rare positives. Scores of generated text or
# of a ranking come last and share one rank (several, none a headline: the loss is taken).
# An F1 may name its averaging after it, as scikit-learn's `average=` (`f1_micro`, `f1_macro`).
# A correlation of a regression's predictions with its targets by the names scripts log it
# under: Pearson's r as GLUE's `eval_pearson`, SciPy's `pearsonr` or an image-quality model's
# PLCC; Spearman's rho as `eval_spearmanr`, by its symbol (`val_rho`: a CRISPR on-target
# regressor's only held-out score, json-crispr-ontarget-valrho-35, was passed over for its train
# loss) or as SRCC; and the coefficient of determination, scikit-learn's `r2_score`.
# A trajectory forecaster's errors over its K predicted futures, as motion-forecasting
# benchmarks (Argoverse, UniTraj) report them: the Brier-weighted final displacement error of
# the best one first (`brier_fde`, `brier-minFDE`: Argoverse 2's ranking metric), then the
# average and final displacement errors (`val/minADE6`, `minFDE6`) and the miss rate
# (`miss_rate`, `MR6`): lower is better (`direction_words`); a name spelt with capitals
# (`minADE6`) ranks after one without (`presets`); `MR` only with its K (`direction_words`:
# SimCSE's `eval_MR` is an accuracy). Without them a UniTraj run's `val/` metrics
# had no role, and analyze took its train loss.
TASK_SCORES = (
    "f1(?:_(?:micro|macro|weighted|samples))?", "m?dice(?:_coef(?:ficient)?)?",
    "m?iou|jaccard(?:_?index)?",
    "mcc|matthews_correlation", "pearson(?:_?r)?|plcc", "spearman(?:_?r|_rho)?|rho|srcc", "r2",
    "aupr(?:c)?|pr_?auc|auc_?pr|average_precision|ap", "auc|roc_auc|auroc", "wer", "cer",
    r"brier[-_]?(?:min_?)?fde(?:[@_]?\d+)?", r"(?:min_?)?ade(?:[@_]?\d+)?",
    r"(?:min_?)?fde(?:[@_]?\d+)?", r"miss_?rate(?:[@_]?\d+)?|mr[@_]?\d+",
    (r"bleu(?:-?\d)?|chrf(?:\+\+)?|rouge(?:-?[l12]|lsum)?|meteor|ter|ndcg(?:@\d+)?|mrr|map"
     r"|pass@\d+|pass1"),
)
# the words before an accuracy's or a score's own: `macro_`, `node_`; torchmetrics' task in one
# word with it, as Lightning logs a MetricCollection by its classes' names
# (`val_multiclassjaccardindex`, `val_binaryaccuracy`, `val_multilabelf1score`: with no role,
# a segmenter's run was refused without --metric)
KIND = "(?:[a-z0-9]+_)*(?:binary|multiclass|multilabel)?"
# the last part of the name: (pattern, role, direction), in order of preference
LEAVES = (
    ("loss", "eval/loss", "min"),
    # the sum of the loss's terms, as a script logs it beside them (`val/total_loss` beside
    # `val/lm_loss`, `val/data_loss`): the held-out loss, where no bare `loss` is logged
    ("total_loss", "eval/loss", "min"),
    ("nll_loss", "eval/loss", "min"),  # fairseq's `valid_nll_loss`
    # a negative log-likelihood, or a cross-entropy by its name (torchmetrics' and Keras')
    ("nll|cross_?entropy", "eval/loss", "min"),
    ("perplexity", "eval/loss", "min"),
    ("ppl", "eval/loss", "min"),
    (r"reward/mean(?:@|_at_)\d+", "eval/other_score", "max"),  # verl; MLflow writes `@` as `_at_`
    # a reward, also named in the plural as a list of episode returns is (`eval_rewards`: a
    # DQN's greedy evaluations every 20 episodes beside its `train_rewards`, json-dqn-apicache)
    ("rewards?", "eval/other_score", "max"),
    # an accuracy, bare or named by its kind: `node_accuracy`, `top1_acc`; an exact match is
    # the accuracy of generated answers; scikit-learn's function name, `accuracy_score`; a
    # classifier's top-1 accuracy as timm's summary.csv (`eval_top1`) and torchvision's
    # reference scripts (`acc1`, printed `Acc@1`) name it (top-5 is no task accuracy)
    (rf"{KIND}(?:accuracy|acc|exact_match|top-?1|acc@?1){SCORE_SUFFIX}", "eval/accuracy", "max"),
    # a held-out task score (`TASK_SCORES`): the direction is the name's
    # (`presets.default_direction`: wer, cer, ter -> min)
    *((rf"{KIND}(?:{kinds}){SCORE_SUFFIX}", "eval/other_score", None) for kinds in TASK_SCORES),
    # a classifier's error rate (one minus its accuracy), lower is better: Chainer's
    # `LogReport` names an evaluator's results after it (`validation/main/...`, `test/...`), and
    # a PU-learning reproduction logs `test/uPU/error` and `test/nnPU/error` with no accuracy
    # beside them (refused without --metric); its top-1 (`val_top1_err`) too. No other kind:
    # a regression's `val_mean_squared_error` is its loss, not a task score.
    (r"(?:top-?1_)?(?:error|err)(?:_rate)?", "eval/other_score", "min"),
)
ACCURACY_LEAF = next(i for i, (_, role, _) in enumerate(LEAVES) if role == "eval/accuracy")
F1_LEAF = ACCURACY_LEAF + 1  # TASK_SCORES[0]
OVERLAP_LEAVES = frozenset(ACCURACY_LEAF + 1 + i for i, kinds in enumerate(TASK_SCORES)
                           if "dice" in kinds or "iou" in kinds)
# A leaf's rank within its split: `LEAF_RANKS` apart, a name with sets one after the name without
# (two places a leaf are all it uses); a split's ranks stay below the next split's, and every
# split's below `presets.CAPITALISED_RANK` (8 splits of 120: 960, the bare top-1's rank)
SPLIT_RANKS, LEAF_RANKS = 120, 4
assert LEAF_RANKS * len(LEAVES) < SPLIT_RANKS, "more leaves than a split's ranks hold"
# A classifier's top-1 accuracy with no split named (a CSV of `epoch,loss,top1,top5`): what a
# script computes top-1 on is its evaluation set (timm and torchvision print `Acc@1` only when
# they evaluate), so it is a held-out accuracy, ranked after every name that names a split
# (`val_top1` beside it is the one chosen). Not a bare `accuracy`, which is TRL's preference
# accuracy of the training batches (`presets`).
BARE_TOP1 = frozenset({"top1", "top-1", "acc1", "acc@1"})
BARE_TOP1_RANK = SPLIT_RANKS * len(SPLITS)
assert BARE_TOP1_RANK < 1000, "held-out ranks must stay below presets.CAPITALISED_RANK"
# words of an accuracy's kind that make it no held-out task accuracy
NOT_TASK_ACCURACY_WORDS = frozenset({"train", "training", "token"})
TRAIN_WORDS = frozenset({"train", "training"})
_LEAF = "|".join(f"(?P<leaf{i}>{pattern})" for i, (pattern, _, _) in enumerate(LEAVES))
# `val/ppl`, `val/gsm8k/loss`, `val-aux/openai/gsm8k/reward/mean@1`
_SLASHED = re.compile(r"(?P<split>eval|val|validation|valid|dev|test|val-(?P<section>[^/]+))"
                      rf"/(?:(?P<sets>.+)/)?(?:{_LEAF})")
# `eval_nll`, `valid_ppl`, `test_reward` (no sets: `eval_<x>_loss` is HF's named set, known by
# its runtime)
_JOINED = re.compile(rf"(?P<split>eval|val|validation|valid|dev|test)_(?:{_LEAF})")


@lru_cache(maxsize=1 << 16)
def held_out_match(name: str) -> tuple[str, int, str] | None:
    """(role, rank among the rule's names, direction) when `name` (any case) is a held-out loss,
    NLL, perplexity, reward, accuracy or task score by this rule; else None. Ranks: split first
    (`SPLITS`), then the leaf (`LEAVES`), a name without sets before one with; sets of one split
    and leaf share a rank, so `val/gsm8k/loss` and `val/math/loss` are several validation sets
    of one metric, and `validation/node_accuracy` and `validation/edge_accuracy` several
    accuracies. A name printed with spaces for underscores (`Validation BLEU: 21.40`, `Valid
    Perplexity`) is read as its underscored spelling, as the presets read listed names. A bare
    top-1 (`BARE_TOP1`) ranks last."""
    if name.lower() in BARE_TOP1:
        return "eval/accuracy", BARE_TOP1_RANK, "max"
    found = _split_leaf(name)
    if found is None:
        return None
    split, leaf, sets, _ = found
    _, role, direction = LEAVES[leaf]
    return role, SPLIT_RANKS * SPLITS.index(split) + LEAF_RANKS * leaf + sets, direction


def task_score_kind(name: str) -> tuple[str, int] | None:
    """(split, kind: its leaf) of a held-out task score by this rule (`TASK_SCORES`), in any
    spelling the presets read one in, else None: scores of one split and different kinds are
    different measures of one evaluation (`val_wer`, `val_cer`)."""
    found = _split_leaf(split_first(name) or as_validation(name))
    return None if found is None or found[1] <= ACCURACY_LEAF else (found[0], found[1])


def is_overlap(name: str) -> bool:
    """Whether `name` is a held-out segmentation overlap by this rule (`val_dice_coef`,
    `Validation IoU`, `eval_mean_iou`): what a segmenter is judged by, before the accuracy of
    its pixels, mostly background, that a log holds beside it (`signals.roles_present`)."""
    kind = task_score_kind(name)
    return kind is not None and kind[1] in OVERLAP_LEAVES


# The accuracies no task is judged by where a score of the same evaluation is logged beside
# them (the first word of the accuracy's kind, the score's leaf, the first word the score's kind
# must have or None): seqeval's `overall_accuracy` counts right tokens, the `O` of no entity
# among them (0.835 -> 0.859 while its entity F1 rose 0.465 -> 0.534: hf-ner-medmentions),
# beside the entity-level `overall_f1` named-entity recognition is judged by; a multi-label
# classifier's `subset_accuracy` counts the examples with every label right, beside its F1.
WEAK_ACCURACIES = (("overall", F1_LEAF, "overall"), ("subset", F1_LEAF, None))


def is_token_classifier(config: dict[str, Any]) -> bool:
    """Whether a run's config (`model_task`, or the model config HF's TensorBoardCallback
    writes) names a token classifier (each token gets a label, as a named-entity tagger's; PEFT's
    `TOKEN_CLS`): its bare accuracy counts tokens."""
    architectures = config.get("architectures")
    return (isinstance(architectures, list)
            and any(isinstance(a, str) and a.endswith("ForTokenClassification")
                    for a in architectures)) or config.get("task_type") == "TOKEN_CLS"


def score_before_accuracy(score: str, accuracy: str, tokens: bool = False) -> bool:
    """Whether the held-out task score `score` is taken before the held-out accuracy `accuracy`
    beside it (`signals.roles_present`): a segmentation overlap before any accuracy (`is_overlap`:
    a pixel accuracy, mostly background), or an F1 before the accuracy of its evaluation that
    `WEAK_ACCURACIES` names (seqeval's token accuracy, a multi-label subset accuracy), or, when
    the model labels tokens (`tokens`: `io.model_task`), before its bare accuracy: `run_ner.py`
    renames seqeval's `overall_accuracy` and `overall_f1` to `accuracy` and `f1`."""
    if is_overlap(score):
        return True
    found, held = (_split_leaf(split_first(name) or as_validation(name))
                   for name in (score, accuracy))
    if found is None or held is None or held[1] != ACCURACY_LEAF or held[0] != found[0]:
        return False
    words, score_words = held[3].split("_"), found[3].split("_")
    if tokens and found[1] == F1_LEAF and words == ["accuracy"]:
        return True
    return any(words[0] == first and found[1] == leaf and kind in (None, score_words[0])
               for first, leaf, kind in WEAK_ACCURACIES)


def accuracy_kind(name: str) -> str | None:
    """The words of a held-out accuracy's name from its kind on (`overall_accuracy`,
    `subset_accuracy`, `accuracy`), else None."""
    found = _split_leaf(split_first(name) or as_validation(name))
    return found[3] if found is not None and found[1] == ACCURACY_LEAF else None


# MXNet's `module.fit` joins a split and its metric's name with a hyphen (`Epoch[3]
# Validation-accuracy=0.91` beside `Train-accuracy`; its metrics' own names `cross-entropy`,
# `nll-loss`): a word separator, as an underscore is (a ResNet's `Validation-accuracy` had no
# role, and analyze refused the log without --metric). Only in a name's last part and before a
# word (`f1-score` too): a split's own hyphen (`val-aux/`, `dev-validation/`) and a score's
# before its number (`rouge-1`, `bleu-4`, `mAP50-95`) are kept, and every reader of names tries
# the name as spelled first (`eval_rouge-l` keeps its listed role).
_JOINING_HYPHEN = re.compile(r"(?<=[A-Za-z0-9])-(?=[A-Za-z][^/]*$)")


def hyphens_as_underscores(name: str) -> str:
    """`name` with each hyphen that joins two words of its last part as an underscore
    (`Validation-cross-entropy` -> `Validation_cross_entropy`; `val-aux/x/nll-loss` ->
    `val-aux/x/nll_loss`); any other name as it is."""
    return _JOINING_HYPHEN.sub("_", name) if "-" in name else name


@lru_cache(maxsize=1 << 16)
def _split_leaf(name: str) -> tuple[str, int, int, str] | None:
    """(split, leaf, 1 if sets are named else 0, the leaf as named: `overall_f1`) of a held-out
    name by this rule, else None."""
    if name[:1] not in "evtdEVTD" or not name:
        return None
    lowered = name.lower().replace(" ", "_")
    match = _SLASHED.fullmatch(lowered) or _JOINED.fullmatch(lowered)
    if match is None and (joined := hyphens_as_underscores(lowered)) != lowered:
        match = _SLASHED.fullmatch(joined) or _JOINED.fullmatch(joined)
    if match is None:
        return None
    parts = match.groupdict()
    section, sets = parts.get("section"), parts.get("sets")
    if section in TRAIN_WORDS or (sets and TRAIN_WORDS.intersection(sets.split("/"))):
        return None
    split = match["split"] if section is None or section == "core" else "val-*"
    leaf = next(i for i in range(len(LEAVES)) if match[f"leaf{i}"] is not None)
    kind = match[f"leaf{leaf}"].split("_")
    if leaf == ACCURACY_LEAF and NOT_TASK_ACCURACY_WORDS.intersection(kind):
        return None
    if leaf > ACCURACY_LEAF and "loss" in kind:  # a loss of a kind (`val_loss_iou`) is no score
        return None
    return split, leaf, 1 if sets else 0, match[f"leaf{leaf}"]


# TensorBoard tags written metric first, as PyTorch's TensorBoard tutorial writes them
# (`add_scalar("Loss/train", ...)`, `Accuracy/test`) and DARTS does (`Acc/valid`)
METRIC_FIRST_SPLITS = frozenset(SPLITS[:5] + ("test", "train", "training"))


def split_first(name: str) -> str | None:
    """The `<split>/<metric>` spelling, lowered, of a tag written metric first (`Loss/train` ->
    `train/loss`, `Acc/valid` -> `valid/acc`; a kind after the split: `acc/test_top1` ->
    `test/top1_acc`); None for any other name."""
    metric, slash, rest = name.lower().partition("/")
    split, _, kind = rest.partition("_")
    if not (metric and slash) or split not in METRIC_FIRST_SPLITS or "/" in kind:
        return None
    return f"{split}/{kind}_{metric}" if kind else f"{split}/{metric}"


def held_out_direction(name: str) -> str | None:
    """'min' for a held-out loss, NLL or perplexity by this rule, 'max' for a held-out reward or
    accuracy, else None (a set called `answer_qa` must not make a reward lower-is-better through
    "wer"; a score's direction is its name's)."""
    found = held_out_match(name)
    return found[2] if found else None


# A validation split named by its user: TensorBoard directories `dev-validation/`,
# `validation-ood/` beside Keras' `validation/` (a run evaluated on several held-out sets). Such a
# name takes the roles its `validation/<rest>` spelling has (`validation/epoch_loss` is eval/loss);
# "validation" must be a whole hyphen-joined word of the first path component (`invalidation/`,
# `train/dev-validation/` are not splits), and a split that calls itself train is not held out.
NAMED_VALIDATION_SPLIT = re.compile(
    r"^(?:(?P<before>[^/]+)-validation(?:-[^/]+)?|validation-(?P<after>[^/]+))$")


def is_named_validation_split(name: str) -> bool:
    """Whether a folder or tag prefix is a validation split under a name of its own
    (`dev-validation`, `validation-ood`; not `validation` itself, nor `train-validation`)."""
    match = NAMED_VALIDATION_SPLIT.match(name)
    if match is None:
        return False
    return (match.group("before") or match.group("after")).lower() not in TRAIN_WORDS


def several_accuracies(names: list[str]) -> bool:
    """Whether `names` are accuracies of different kinds on one split and set
    (`validation/node_accuracy`, `validation/edge_accuracy`), not one metric of several
    validation sets: the notice that names them calls them accuracies. A joined name's kind
    cannot be told from a set (HF's named sets log `eval_g0_accuracy`, `eval_g1_accuracy`):
    those stay validation sets. A split named by its user (`dev-validation/edge_accuracy`,
    `dev-validation/exact_match`, `dev-validation/node_accuracy`: `is_named_validation_split`)
    is read as `validation/` is: tb-mathqa-dev's three accuracies of one dev set were called
    "3 validation sets", with their mean offered as if it were one score over three sets. A tag
    written metric first is read in its split-first spelling (`heldout_names.split_first`)."""
    if len(names) < 2 or not all("/" in name for name in names):
        return False
    spelled = [split_first(name) or name for name in names]  # `acc/test_top1`: `test/top1_acc`
    if any((held_out_match(as_validation(name)) or ("",))[0] != "eval/accuracy"
           for name in spelled):
        return False  # (the accuracy leaf is this rule's only eval/accuracy)
    return len({name.lower().rsplit("/", 1)[0] for name in spelled}) == 1


def as_validation(name: str) -> str:
    """`name` under a split named by its user (`dev-validation/node_accuracy`) spelled under
    `validation/`, whose roles it takes (`presets._named_split_roles`); any other name as it is."""
    split, slash, rest = name.partition("/")
    return f"validation/{rest}" if slash and is_named_validation_split(split) else name
