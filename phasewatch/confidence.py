"""How far to trust the phases of a run with few evaluations (`confidence`: high, moderate,
low), stated as what calls like it were right on: a broken line fitted to 6-12 evaluations
names the phases right on most runs, not on all, and a user comparing a 7-evaluation run with
a 300-evaluation one must see the difference. (Runs of fewer than 6 evaluations get theirs from
the test that decided them: `short_series`.)

Calibrated on the tuning seeds (100-139) of both tuning generator families, 3-12-evaluation
runs of every kind (668 segmented runs); the share whose phase names were right:
- every named change (each phase that is not a plateau) at least `CLEAR_SD` noise sds:
  0.91 on 6-8 evaluations, 0.92 on 9-12 -> `high`;
- otherwise, 9-12 evaluations: 0.75 (a change under 5 sds), 0.83 (5-8 sds), 0.87 (one
  plateau) -> `moderate`;
- otherwise, 6-8 evaluations: 0.44, 0.65, 0.42 -> `low`.
The short series' own tiers were right on 0.75 (`moderate`) and 0.42-0.60 (`low`) of the same
runs, so a tier means about the same at every length. On the report seeds (0-39) of the two
tuning families and of the held-out power-law family (3-12 evaluations, every tier and length
pooled per family): `high` 0.85-0.92 right, `moderate` 0.68-0.81, `low` 0.56-0.75.
"""

from __future__ import annotations

import numpy as np

from phasewatch.results import Phase

FEW_POINTS = 12   # runs of at most this many evaluations are given a confidence
MODERATE_POINTS = 9  # ... and from this many, at least a moderate one
CLEAR_SD = 8.0    # every named change this large (noise sds): high


def few_points_confidence(phases: list[Phase], n_points: int) -> str | None:
    """The confidence of the phases of a segmented run of `n_points` evaluations, None above
    FEW_POINTS. A phase without an effect size (no noise estimate) counts as not clear."""
    if n_points > FEW_POINTS:
        return None
    changes = [abs(p.stats.get("change_sd") or 0.0) for p in phases if p.name != "plateau"]
    if changes and min(changes) >= CLEAR_SD:
        return "high"
    return "moderate" if n_points >= MODERATE_POINTS else "low"


LATTICE_TOLERANCE = 0.05  # of the step: values printed to 4-5 digits still sit on the lattice


def below_resolution(values: np.ndarray, sd: float) -> float | None:
    """The step of the lattice the values sit on (an accuracy on N items moves in whole items,
    1/N), when the noise sd estimated from them is below it, else None: a few evaluations
    that repeat their values cannot show noise smaller than one item, and effects measured
    against it are far too large (trial 35: a flat token accuracy on 4,992 tokens, +-1 token
    and then 6 tokens lower, read a noise sd of half a token and was "overfit, -12.2 sd, high
    confidence"; its checkpoints scatter by 8 tokens)."""
    distinct = np.unique(np.asarray(values, dtype=np.float64))
    if distinct.size < 2:
        return None
    step = float(np.min(np.diff(distinct)))
    if not 0 <= sd < step:
        return None
    multiples = (distinct - distinct[0]) / step
    return step if np.all(np.abs(multiples - np.round(multiples)) <= LATTICE_TOLERANCE) else None


def resolution_warning(metric: str, n: int, sd: float, step: float, lowered: bool,
                       reading: str = "evaluation") -> str:
    """The warning of a noise sd below the step the values move in (`below_resolution`), at
    any length: a longer run has no confidence to lower (`lowered` says it was), but its
    effects in sds are as far too large. A held-out accuracy on 120 items over 21 evaluations,
    0.992, 0.608, then 0.600 nineteen times, read a noise sd of 0.00098, an eighth of one item,
    and printed a fall of "399.3 sd" with no word that no sd below one item can be read from
    values that move in whole items. A noise sd of 0 (values on exact lines, whose effects
    `noise.reported_noise` gives in no sds) says only that no noise was read: csv-sb3-aiml's
    reward -3, -1, then 1 eight times was told "no effect is given in noise sds" and, beside it,
    that "its effects in sds are too large". `reading`: what one value is ("reading" for a
    series scored on the training batches, `train_beside.value_word`)."""
    said = "no noise can be read from them" if sd == 0 else "its effects in sds are too large"
    return (f"{metric}: the noise sd estimated from its {n} {reading}s ({sd:.3g}) is below the "
            f"step its values move in ({step:.3g}: they differ by whole steps of it), so "
            f"{said}{': confidence low' if lowered else ''}; --noise-sd or --eval-size give the "
            "noise")
