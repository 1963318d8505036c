"""Taxonomic levels of one classifier's evaluation: one validation set scored at each level.

A hierarchical classifier of organisms (FathomNet's marine species, iNaturalist's) predicts a
label at each rank of the taxonomy and logs an accuracy per rank: `val_order_acc`,
`val_family_acc`, `val_genus_acc`, `val_species_acc`. The names differ only by a rank word, so
the held-out rule (`heldout_names`) gives them one rank and `metric_sets` named them "4
validation sets", analysing the first by name (`val_family_acc`). They are four scores of the
same examples, not four sets. The finest level is the task, the label the classifier is asked
for; the coarser heads condition it or help it learn (a public FathomNet model's loss weighs
its species head most, 2.5 to its kingdom head's 0.5). So among
names that differ only by a rank word the default is the finest (`finest_level`), and the
notice calls them levels and says the log does not name the level the run is judged by.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Linnaean ranks, coarsest first
RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species")
# ranks whose word names nothing else in a metric's name: a domain-adversarial run's
# `val_class_acc` beside `val_domain_acc`, or a `val_order_acc` of sentence order, is no
# taxonomy; at least one of these words must be among the names' ranks
TAXONOMY_ONLY = frozenset({"kingdom", "phylum", "family", "genus", "species"})
_PARTS = re.compile(r"[_/.\- ]+")


def taxonomic_levels(names: Iterable[str]) -> list[str] | None:
    """`names` ordered coarsest level first when they are one metric at two or more taxonomic
    ranks: split into words (`_`, `/`, `.`, `-`, space), they differ at one word only, that
    word is a different rank in each (`RANKS`) and at least one rank is no other word's
    (`TAXONOMY_ONLY`); else None."""
    names = list(dict.fromkeys(names))
    if len(names) < 2:
        return None
    parts = [_PARTS.split(name.lower()) for name in names]
    if len({len(p) for p in parts}) != 1:
        return None
    varying = [i for i in range(len(parts[0])) if len({p[i] for p in parts}) > 1]
    if len(varying) != 1:
        return None
    ranks = [p[varying[0]] for p in parts]
    if not set(ranks) <= set(RANKS) or len(set(ranks)) != len(ranks) \
            or TAXONOMY_ONLY.isdisjoint(ranks):
        return None
    return [name for _, name in sorted(zip((RANKS.index(r) for r in ranks), names))]


def finest_level(names: Iterable[str]) -> str | None:
    """The finest level's name when `names` are taxonomic levels of one metric, else None."""
    levels = taxonomic_levels(names)
    return levels[-1] if levels else None
