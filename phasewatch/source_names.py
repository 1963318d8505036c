"""Runs told apart by where they were read from, when their names are alike."""

from __future__ import annotations

from pathlib import PurePath


def distinct_tails(sources: list[str]) -> list[str]:
    """Each source by its fewest trailing path parts that no other source ends with (a source
    given twice, by the parts that tell it from the rest): two folders' `metrics.csv` as
    `v0/metrics.csv` and `v1/metrics.csv`, a name a legend can hold that says which is which."""
    parts = [PurePath(source).parts for source in sources]
    tails = []
    for i, own in enumerate(parts):
        others = [other for j, other in enumerate(parts) if j != i and other != own]
        k = next((k for k in range(1, len(own) + 1)
                  if all(other[-k:] != own[-k:] for other in others)), len(own))
        tails.append("/".join(own[-k:]) if own else sources[i])
    return tails
