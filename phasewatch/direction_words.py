"""Which way a metric is better, by the words of its name: the default direction of a name no
role, option or config gives one.

Long words are read anywhere in the name (`valloss`, `eval/mean_token_error`); short ones only as
a word of their own, split at any character that is not a letter or a digit and at a change
from lower to upper case: "answer" holds "wer" and "cancer" holds "cer", and an
`answer_accuracy` read as a word error rate made its worst checkpoint the best (trial 39b).
"""

from __future__ import annotations

import re
from itertools import pairwise

# ... and DPO's rewards and log-probabilities of the rejected answers, which it pushes down
LOWER_IS_BETTER_WORDS = ("loss", "error", "perplexity", "rejected")
# error rates and the like, by their short names: only as a word of their own; a regression's
# squared, absolute and percentage errors too (an `eval_mse` was taken as higher-is-better, its
# worst checkpoint kept); a cost and a regret, which control and bandit agents minimise (a SAC
# agent's `val_cost` was taken as higher-is-better, its costliest validation kept); a
# forecaster's pinball (quantile) loss, continuous ranked probability score and mean absolute
# scaled error (a PatchTST forecaster's `val_pinball` was taken as higher-is-better, its first,
# worst epoch kept, and its fall to a third of it called a disruption); a cross-entropy by its
# short name (OpenNMT-py's `xent`); a generative model's distance to the real data, Frechet
# (FID, and FAD for audio) or kernel (KID) (trial 61: a `val_fid` falling 100 -> 44 was taken
# as higher-is-better, called an overfit from step 0, and its worst checkpoint kept); a
# trajectory forecaster's average and final displacement errors and miss rate (its short name
# with its K: `MISS_RATE_AT_K`), and a Brier score (a UniTraj run's `val/minADE6`, falling in
# metres, was taken as higher-is-better and its fall called an overfit from step 92, the
# checkpoint kept there)
LOWER_IS_BETTER_TOKENS = frozenset({"nll", "ppl", "wer", "cer", "ter", "err", "mse", "rmse",
                                    "mae", "mape", "smape", "msle", "rmsle", "cost", "regret",
                                    "pinball", "crps", "mase", "xent", "fid", "kid", "fad",
                                    "ade", "fde", "miss", "brier"})
# A miss rate by its short name, said with its K (`val/MR6`, `mr@6`): a bare `MR` is also
# SentEval's movie-review task, whose accuracy SimCSE and its copies log as `eval_MR`, higher is
# better (read as a word of its own, the miss rate made it lower-is-better)
MISS_RATE_AT_K = re.compile(r"(?<![a-z])mr[@_-]?\d+(?![a-z])")
# ... and without its K, beside the displacement errors or Brier score of the same split (QCNet
# logs `val_MR` beside `val_minADE`, `val_minFDE` and `val_Brier`: its bare `MR`, read as
# higher-is-better, made its first, worst epoch the best): the name with the `MR` word for
# one whose words are all `DISPLACEMENT_WORDS`, one of them not a filler, is in the log
BARE_MR = re.compile(r"(?<![A-Za-z0-9])(?:MR|mr)(?![A-Za-z0-9])(?![@_-]?\d)")
DISPLACEMENT_WORDS = frozenset({"ade", "fde", "brier", "min", "b"})
DISPLACEMENT_FILLERS = frozenset({"min", "b"})
# A KL (to the reference model, or between successive policies) and a gradient norm: lower is
# better as a run's health, not as its task's score: a blow-up is what goes wrong (trial 39:
# Online DPO's objective/kl rose 1.95 -> 13.5 as the policy hacked a length-biased reward, and
# `analyze --metric objective/kl` called it an improvement; RLOO's grad_norm 1.4e4 "best").
HEALTH_WORD_RUNS = (("kl",), ("approxkl",), ("gradnorm",), ("grad", "norm"), ("gradient", "norm"))
# words that say a name is a score, higher is better, read anywhere in the name: a series a user
# may judge a run by (`choice_notes.score_like_hint`), and the other words of a higher-is-better
# name (`says_higher_is_better`)
SCORE_WORDS = ("reward", "acc", "score", "pass", "f1", "bleu", "chrf", "rouge", "exact", "match",
               "win", "success", "correct")
HIGHER_IS_BETTER_WORDS = SCORE_WORDS + ("auc", "margin", "return", "precision", "recall", "ndcg",
                                        "map", "chosen")
# the short names of scores, as a word of their own (`eval/em`, `val_MRR`, `val_Hits@10`), not
# inside another ("em" is in "temperature" and "memory"): question answering's exact match,
# ranking's reciprocal rank, hits at k and label-ranking precision, areas under the ROC and PR
# curves, intersection over union, image similarity. Named without a word, a verl QA run's `em`
# was told "its name does not say which way is better"
HIGHER_IS_BETTER_TOKENS = frozenset({"em", "mrr", "hits", "lrap", "auroc", "auprc", "iou", "miou",
                                     "psnr", "ssim"})
# A score word negated names a count or rate of failures, lower is better: `incorrect`,
# `inaccuracy`, `unsuccessful`, `inexact`, `mismatch` hold "correct", "acc", "success", "exact",
# "match", which read anywhere in a name made them higher-is-better, without the note a guessed
# direction gets. A word is negated when one of these prefixes starts it and a score word
# follows the prefix.
NEGATING_PREFIXES = ("in", "un", "mis", "non")
# Words of failure that hold no score word, read anywhere in a word of the name (a reading of
# public logs: an energy-DPO script's `misranked`, its share of misranked pairs, was taken as
# higher-is-better and its fall from 0.47 to 0.33 called an overfit from the first epoch).
FAILURE_WORDS = ("misrank", "misclassif", "mislabel", "mispredict", "mistake", "wrong", "fail")
# An entropy has no better direction: a collapse (a policy that stopped exploring) and a blow-up
# (one that lost its language) are both bad; a cross-entropy is a loss
NO_DIRECTION_WORD = "entropy"
# An objective (`obj`, `objective`) says nothing of its direction by itself: TRL's
# `objective/scores` is a reward model's score, higher is better. DARTS and the NAS code built on
# it log each split's mean cross-entropy as its objective beside its accuracy (TensorBoard
# `Obj/valid` beside `Acc/valid`, `valid_obj` beside `valid_acc`): an objective whose accuracy
# twin, the same name with `acc` or `accuracy` for the objective's word, is in the run is a loss
# (the twin-less `Obj/valid` was taken as higher-is-better, its fall called an overfit from
# epoch 0). Matched as a word of its own (`object` and `objs` are no objective).
_OBJECTIVE = re.compile(r"(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))"
                        r"(obj(?:ective)?|Obj(?:ective)?|OBJ(?:ECTIVE)?)(?![a-z])")
ACCURACY_TWINS = ("acc", "accuracy")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_WORD = re.compile(r"[a-z]+")


def name_words(name: str) -> list[str]:
    """The words of a metric's name, lower case (`evalWER_at_5` -> eval, wer, at)."""
    return _WORD.findall(_CAMEL.sub("_", name).lower())


def says_lower_is_better(name: str) -> bool:
    """Whether a word of `name` says lower is better (a loss, an error rate, a perplexity, a
    count or rate of failures: `failure_words`, unless a score word outside them says what is
    counted, `acc_on_failed` an accuracy on the failed cases; or a KL or gradient norm as a
    run's health: `says_lower_is_healthier`)."""
    lowered = name.lower()
    return (any(word in lowered for word in LOWER_IS_BETTER_WORDS)
            or not LOWER_IS_BETTER_TOKENS.isdisjoint(name_words(name))
            or MISS_RATE_AT_K.search(_CAMEL.sub("_", name).lower()) is not None
            or is_cross_entropy(name)
            or (bool(failure_words(name)) and not says_higher_is_better(name))
            or says_lower_is_healthier(name))


def says_higher_is_better(name: str) -> bool:
    """Whether a word of `name` says it is a score, higher is better (`HIGHER_IS_BETTER_WORDS`:
    an accuracy, a reward, an F1, a recall...; `HIGHER_IS_BETTER_TOKENS` as words of their own:
    an exact match `em`, an `MRR`...), outside its words of failure (`failure_words`: the
    "correct" in `incorrect` says nothing of a score)."""
    failures = failure_words(name)
    lowered = name.lower()
    for failure in failures:
        lowered = lowered.replace(failure, " ")
    return (any(word in lowered for word in HIGHER_IS_BETTER_WORDS)
            or not HIGHER_IS_BETTER_TOKENS.isdisjoint(set(name_words(name)) - set(failures)))


def failure_words(name: str) -> list[str]:
    """The words of `name` that count failures: a negated score word (`incorrect`,
    `unsuccessful`, `mismatch`: `NEGATING_PREFIXES` before a `SCORE_WORDS` word) or a word
    holding one of `FAILURE_WORDS` (`misranked`, `wrong`, `failures`)."""
    return [word for word in name_words(name)
            if any(failure in word for failure in FAILURE_WORDS)
            or any(word.startswith(prefix) and word[len(prefix):].startswith(SCORE_WORDS)
                   for prefix in NEGATING_PREFIXES)]


def says_lower_is_healthier(name: str) -> bool:
    """Whether `name` is a KL or a gradient norm by its words (`objective/kl`, `eval_kl`,
    `actor/grad_norm`; not `kl_coef`, a setting, nor `klass`)."""
    words = name_words(name)
    if "coef" in words or "coeff" in words or "beta" in words:
        return False
    return any(words[i:i + len(run)] == list(run) for run in HEALTH_WORD_RUNS
               for i in range(len(words)))


def is_cross_entropy(name: str) -> bool:
    """Whether `name` is a cross-entropy, a loss (`eval/cross_entropy`, torchmetrics'
    `val_CrossEntropy`, Keras' `val_crossentropy`): without a loss word in it, a Lightning run's
    `val_cross_entropy` was taken as higher-is-better and its fall called an overfit."""
    words = name_words(name)
    return "crossentropy" in words or any(
        first == "cross" and second == NO_DIRECTION_WORD for first, second in pairwise(words))


def has_no_better_direction(name: str) -> bool:
    """Whether `name` is an entropy (`entropy`, `objective/entropy`, `actor/entropy_loss`), not
    a cross-entropy (`train/CrossEntropyLoss`, `eval/cross_entropy`: `is_cross_entropy`)."""
    words = name_words(name)
    return NO_DIRECTION_WORD in words and not is_cross_entropy(name)


def lower_beside(name: str, names) -> str | None:
    """Why `name`, whose words alone say no direction, is lower-is-better by a name logged
    beside it (one of `names`): an objective beside its accuracy (`accuracy_twin`), a bare
    miss rate beside its displacement errors (`miss_rate_beside`); None when nothing beside it
    says so. One rule for `signals.choose_direction` and the note that says why."""
    if (twin := accuracy_twin(name, names)) is not None:
        return f"an objective logged beside its accuracy {twin} (as DARTS logs its cross-entropy)"
    if (error := miss_rate_beside(name, names)) is not None:
        return f"a trajectory forecaster's miss rate, logged beside {error} of its split"
    return None


def miss_rate_beside(name: str, names) -> str | None:
    """The displacement error or Brier score logged beside `name` when `name` is a bare miss
    rate (`val_MR`, `MR/val`: `BARE_MR`) and the same name with another word for the `MR` is
    one of `names` (`val_minADE`, `val_minFDE`, `val_Brier`, `val_brier_fde`), so that a
    SentEval `eval_MR` beside its other tasks (`eval_CR`, `eval_SUBJ`) stays an accuracy.
    None otherwise."""
    found = BARE_MR.search(name)
    if found is None:
        return None
    before, after = name[:found.start()], name[found.end():]
    for other in sorted(names):
        if other == name or not (other.startswith(before) and other.endswith(after)):
            continue
        middle = other[len(before):len(other) - len(after)]
        words = set(name_words(middle))
        if words and words <= DISPLACEMENT_WORDS and words - DISPLACEMENT_FILLERS:
            return other
    return None


def accuracy_twin(name: str, names) -> str | None:
    """The accuracy logged beside `name` when `name` is an objective and the same name with
    `acc` or `accuracy` for the objective's word (in its case: `Obj/valid` -> `Acc/valid`) is
    one of `names`; then `name` is a loss (see `_OBJECTIVE`). None otherwise."""
    present = set(names)
    for found in _OBJECTIVE.finditer(name):
        word = found.group(1)
        for twin in ACCURACY_TWINS:
            cased = twin.upper() if word.isupper() else twin.title() if word[0].isupper() else twin
            candidate = name[:found.start(1)] + cased + name[found.end(1):]
            if candidate in present:
                return candidate
    return None
