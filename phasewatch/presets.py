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

from phasewatch.direction_words import name_words, says_higher_is_better, says_lower_is_better
from phasewatch.heldout_names import (
    TRAIN_WORDS,
    as_validation,
    held_out_direction,
    held_out_match,
    hyphens_as_underscores,
    split_first,
)
from phasewatch.level_names import finest_level
from phasewatch.role_candidates import ROLE_CANDIDATES
from phasewatch.set_names import eval_sets, loader_bases, set_order

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


def named_by_its_own(role: str) -> bool:
    """Whether a performance role gathers different metrics, each known by its own name and
    direction (`PERFORMANCE_ROLES`' None: an F1, a WER, a CER are all `eval/other_score`),
    rather than one quantity under framework spellings (an accuracy). Runs compared by such a
    role are compared by their own names: a CER and a WER drawn on one axis labelled
    "eval/other_score", with no word that lower is better (hf-cer-5ev beside hf-whisper-14ev)."""
    return dict(PERFORMANCE_ROLES).get(role, "") is None


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
# accuracy (`val_accuracy`, `dev_acc`, `test_acc`...), RL loops an evaluation beside their reward,
# and most hand-written loops print a bare `Acc` of their test set. OpenRLHF's DPO and
# reward-model trainers use the same bare names for a preference accuracy, always beside the
# chosen and rejected rewards (`chosen_reward`, `reject_reward`), as TRL's `rewards/accuracies`
# is beside `rewards/chosen`, `logps/rejected`: a bare accuracy is one only beside such names
# (`PREFERENCE_WORDS`; LLaMA-Factory's trainer_log.jsonl, which copies TRL's alone, is named
# by its reader). Beside a train loss alone it is the test accuracy a hand-written loop prints.
# ... and under a `train/` prefix (OpenRLHF's `acc` in W&B; ESPnet's token accuracy on the
# training batches): a preference accuracy only beside a preference run's names
BARE_ACCURACY = frozenset({"acc", "accuracy", "train/acc"})
KERAS_STYLE_VALIDATION = ("val_accuracy", "val_acc", "dev_accuracy", "dev_acc",
                          "valid_accuracy", "valid_acc", "test_accuracy", "test_acc")
# words of the names a preference run logs beside its accuracy (OpenRLHF's `chosen_reward`,
# `reject_reward`; TRL's `rewards/chosen`, `rewards/rejected`, `rewards/margins`,
# `logps/chosen`; a DPO variant's `beta`, as the whole last part of a name: an optimiser's
# `adam_beta1` is no preference run's)
PREFERENCE_WORDS = frozenset({"chosen", "rejected", "reject", "margins", "margin", "logps"})


def beside_preference(names: Iterable[str]) -> bool:
    """Whether `names` hold one a preference run logs beside its accuracy (`PREFERENCE_WORDS`,
    or a `beta`)."""
    return any(PREFERENCE_WORDS.intersection(name_words(name))
               or name.lower().rsplit("/", 1)[-1] == "beta" for name in names)


@lru_cache(maxsize=1 << 16)
def _glob_roles(name: str) -> tuple[tuple[str, int], ...]:
    """(role, rank) of every glob candidate `name` matches (cached per distinct name: the live
    monitor asks again as names arrive)."""
    return tuple((role, rank) for role, rank, prefix, match in _GLOBS
                 if name.startswith(prefix) and match(name))


def _roles_as_spelled(spelled: str, later: int = 0) -> tuple[tuple[str, int], ...]:
    """(role, rank) of `spelled`, another spelling of a logged name: its listed roles, else the
    held-out rule's, each ranked `later` behind."""
    listed = tuple((role, rank + later) for role, rank in _EXACT.get(spelled, ()))
    if listed:
        return listed
    found = held_out_match(spelled)
    return () if found is None else ((found[0], HELD_OUT_RULE_RANK + later + found[1]),)


@lru_cache(maxsize=1 << 16)
def _named_split_roles(name: str) -> tuple[tuple[str, int], ...]:
    """(role, rank) of a metric of a named validation split
    (`heldout_names.is_named_validation_split`): those of its `validation/<rest>` spelling,
    which only eval roles have, listed or by the held-out rule (`dev-validation/node_accuracy`
    as `validation/node_accuracy`); else ()."""
    spelled = as_validation(name)
    return () if spelled == name else _roles_as_spelled(spelled)


@lru_cache(maxsize=1 << 16)
def _metric_first_roles(name: str) -> tuple[tuple[str, int], ...]:
    """(role, rank) of a tag written metric first (`heldout_names.split_first`: `Loss/train`,
    `Accuracy/test`): those of its `<split>/<metric>` spelling, after every name spelled as a
    candidate is; else ()."""
    spelled = split_first(name)
    return () if spelled is None else _roles_as_spelled(spelled, CAPITALISED_RANK)


@lru_cache(maxsize=1 << 16)
def _dataset_first_roles(name: str) -> tuple[tuple[str, int], ...]:
    """(role, rank) of a held-out result under the name of its dataset, as detectron2 keeps
    several test sets' results apart (`DefaultTrainer.test`: `coco_2017_val/bbox/AP` beside
    `voc_2007_test/bbox/AP` in metrics.json, TensorBoard and its console): the held-out roles of
    the name after the set (`bbox/AP`), a listed name of a framework's own namespace (one with
    a "/": a bare `accuracy` after a prefix is no result of a set), ranked as one of several
    named held-out sets; none under a train split: the split itself (`train/bbox/AP`) or a
    dataset named as one (`coco_2017_train/bbox/AP`, `balloon_train/bbox/AP`: `DATASETS.TEST`
    may list the training set beside the validation set, and its AP is no held-out result).
    Else ()."""
    head, sep, rest = name.partition("/")
    if not sep or "/" not in rest or TRAIN_WORDS.intersection(name_words(head)):
        return ()
    return tuple((role, rank + EVAL_SET_RANK) for role, rank in _EXACT.get(rest, ())
                 if role in HELD_OUT_ROLES)


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
    # a candidate spelled with capitals, spaces or hyphens (W&B panels named by hand: `Reward`,
    # `Loss`; printed `Valid Loss: 5.90`; MXNet's `Validation-accuracy`:
    # `heldout_names.hyphens_as_underscores`), after every candidate spelled as listed
    for name in present:
        lowered = name.lower()
        spaced = lowered.replace(" ", "_")
        for spelling in dict.fromkeys((lowered, spaced, hyphens_as_underscores(spaced))):
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
    for name in present:
        hits.extend((role, rank, name) for role, rank in _metric_first_roles(name))
        hits.extend((role, rank, name) for role, rank in _dataset_first_roles(name))
    # held-out losses and rewards under a split prefix (`val/ppl`, `val-aux/<set>/loss`) that no
    # candidate names (`eval/reward` stays eval/accuracy), after every candidate their role lists
    listed = {name for _, _, name in hits}
    for name in present:
        if name not in listed and (found := held_out_match(name)) is not None:
            rank = HELD_OUT_RULE_RANK + found[1] + (CAPITALISED_RANK if name != name.lower() else 0)
            hits.append((found[0], rank, name))
    if (bare := _bare_split(present, hits)) is not None:
        hits.append(("eval/loss", HELD_OUT_RULE_RANK + CAPITALISED_RANK, bare[0]))
    if any(h[0] == "train/preference_accuracy" and h[2].lower() in BARE_ACCURACY for h in hits) \
            and not beside_preference(present):
        hits = [h for h in hits
                if not (h[0] == "train/preference_accuracy" and h[2].lower() in BARE_ACCURACY)]
    return hits, [n for n in flagged if n.startswith("eval_") and len(n) > 5]


# A split's name alone as a metric's (`val`, `valid`, `validation`, `Val`, `VAL`), printed beside
# a train loss: a home-made console's `loss=0.4123 val=0.5234`, as a researcher reads it, is the
# held-out loss beside the train loss (a Mamba tracker's train.log prints `| loss=52.04 ... |
# val=48.83 |` at each epoch and saves its best model by that value as `val_loss`; read without
# a role, its train loss was analysed, and `--metric val` took higher as better, its worst epoch
# the best). Only where nothing else in the log is held out or says a score: beside an `acc`,
# a reward or an F1, a bare `val` may be the held-out counterpart of either, and no direction
# is guessed from it.
BARE_SPLITS = frozenset({"val", "valid", "validation"})
# ... as a log spells them (`val`, `Val`, `VAL`): looked up in the log's names, not each name
# lowered, which cost every role lookup a pass over a log of 200,000 names
BARE_SPELLINGS = tuple(dict.fromkeys(spell(split) for split in sorted(BARE_SPLITS)
                                     for spell in (str.lower, str.title, str.upper)))
# the words of a train loss's name that a bare split is read beside (`loss`, `train_loss`,
# `Training Loss`); not a policy's or another part's (`policy_loss`, `pos_loss`)
PLAIN_LOSS_WORDS = (["loss"], ["train", "loss"], ["training", "loss"])


def _bare_split(present: Collection[str], hits: list[tuple[str, int, str]]) -> tuple[str, str] | None:
    """(the split's name, the train loss beside it) when `present` holds one bare split name
    (`BARE_SPLITS`) and one plain train loss (`PLAIN_LOSS_WORDS`), no name of a held-out role
    among `hits` and no other name that says a score (`says_higher_is_better`); else None."""
    bare = [name for name in BARE_SPELLINGS if name in present]
    if len(bare) != 1 or any(role in HELD_OUT_ROLES for role, _, _ in hits):
        return None
    losses = [name for name in present if name_words(name) in PLAIN_LOSS_WORDS]
    if len(losses) != 1 or any(says_higher_is_better(name) for name in present if name != bare[0]):
        return None
    return bare[0], losses[0]


def bare_split_loss(name: str, metrics: Iterable[str]) -> str | None:
    """The train loss beside which `name`, a split's name alone (`val`), is read as the held-out
    loss (`BARE_SPLITS`): it takes the role `eval/loss`, lower is better; else None. One rule for
    the metric's choice (`_hits`), its direction (`signals.choose_direction`) and the words that
    say so (`guessed_direction`, `inspect`)."""
    if name not in BARE_SPELLINGS:
        return None
    present = _present(metrics)
    hits, _ = _hits(present)
    found = _bare_split(present, [hit for hit in hits if hit[2] != name])
    return found[1] if found is not None and found[0] == name else None


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


def later_matches(role: str, metrics: Iterable[str]) -> list[str]:
    """The metrics the role's later candidates name, after those of its first matching
    candidate (`role_matches`), best rank first: where the role's own name reads the same at
    every evaluation, the next may move (a pose model's box mAP `metrics/mAP50-95(B)` after its
    keypoints' `(P)`, 0 at every epoch of a model that learned no keypoint)."""
    present = _present(metrics)
    if role in present:
        return []
    hits, _ = _hits(present)
    ranked = sorted({(rank, name) for r, rank, name in hits if r == role},
                    key=lambda hit: (hit[0], set_order(hit[1])))
    first = {name for rank, name in ranked if rank == ranked[0][0]}  # `role_matches`'
    return list(dict.fromkeys(name for _, name in ranked if name not in first))


def names_of_roles(roles: Collection[str], metrics: Iterable[str]) -> set[str]:
    """Every metric of `metrics` that one of `roles` is, or that any of their candidates names,
    at any rank (`role_matches`, `later_matches` and more): one pass over the names."""
    present = _present(metrics)
    hits, _ = _hits(present)
    return {name for role, _, name in hits if role in roles} | {role for role in roles
                                                                 if role in present}


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
    role's first candidate pattern that matches, and its first match in name order, or, where
    its matches are one metric at several taxonomic levels, the finest (`level_names`)."""
    present = _present(metrics)
    hits, eval_names = _hits(present)
    best: dict[str, tuple[int, str]] = {}
    for role, rank, name in hits:
        known = best.get(role)
        if known is None or (rank, name) < known:
            best[role] = (rank, name)
    # one metric at several taxonomic levels (`val_genus_acc`, `val_species_acc`): the finest
    tied: dict[str, list[str]] = {}
    for role, rank, name in hits:
        if rank == best[role][0]:
            tied.setdefault(role, []).append(name)
    for role, names in tied.items():
        if len(names) > 1 and (finest := finest_level(names)) is not None:
            best[role] = (best[role][0], finest)
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
