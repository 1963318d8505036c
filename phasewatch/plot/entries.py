"""The entries of a comparison figure's legend: which runs are drawn as one (a label the user
gave, the seeds of one configuration) and the name each entry is drawn under (`entry_groups`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from phasewatch.errors import UsageError
from phasewatch.plot.style import ARM_LABELS, arm_key, run_styles
from phasewatch.run import Run
from phasewatch.source_names import distinct_tails


def arm_of(run: Run) -> str:
    return arm_key(run.algorithm or run.name or run.source)


def arm_label(run: Run) -> str:
    key = arm_of(run)
    return ARM_LABELS.get(key, run.name or key)


def run_label(run: Run) -> str:
    """A single run's legend entry: its name, after its algorithm where that is known (an arm's
    label, else the algorithm as its log names it: "RL (GRPO) \u00b7 trl-grpo-redteam", "dpo
    \u00b7 dyndpo"); the one of them that says anything where the name is the arm's. Every run of a
    figure is named the same way (trial 39b: "RL (GRPO)" alone beside another run's bare name,
    which of the two GRPO runs was which not said)."""
    key = arm_of(run)
    algorithm = ARM_LABELS.get(key) or (run.algorithm if run.algorithm != "synthetic" else None)
    if algorithm is None or not run.name:
        return algorithm or run.name or run.source
    if arm_key(run.name) == key:
        return ARM_LABELS.get(key, run.name)
    return f"{algorithm} \u00b7 {run.name}"


def entry_groups(runs: Sequence[Run], labels: Sequence[str | None] | None, metrics: Sequence[str]):
    """(label, RunStyle, member indices) per group, in order of first appearance. Runs the
    user gave one label are one group; of the others, the seeds of one configuration (one arm
    and metric, the same hyperparameters apart from the seed, two or more seeds: as the report
    groups them) are one group named after their arm, and every other run stands alone: two
    runs of one arm with different settings, or two runs only named alike (two folders'
    metrics.csv), are not averaged. A default name that two entries would share is neither's:
    each is told apart by its run's name, else by its source's last path parts
    (`source_names.distinct_tails`; two files' `metrics.csv` were "metrics" beside the second's
    whole path, which ran off the figure, and the first kept a name that said nothing)."""
    labels = list(labels or [])
    if len(labels) > len(runs):
        raise UsageError(f"got {len(labels)} labels for {len(runs)} runs")
    given = [labels[i] if i < len(labels) else None for i in range(len(runs))]
    entries: dict[str, list[int]] = {}  # label -> members; the user's labels as given
    for i, label in enumerate(given):
        if label:
            entries.setdefault(label, []).append(i)
    defaults = _default_entries(runs, given, metrics)
    bases = [arm_label(runs[members[0]]) for members in defaults]
    wanted = [_default_names(runs, members, base, defaults, bases, entries)
              for members, base in zip(defaults, bases)]
    taken = Counter(name for names in wanted for name in set(names))
    tails = distinct_tails([run.source for run in runs])
    for members, names in zip(defaults, wanted):
        label = next((name for name in names if taken[name] == 1 and name not in entries),
                     tails[members[0]])
        entries.setdefault(label, []).extend(members)
    order = sorted(entries, key=lambda label: min(entries[label]))
    # a known arm's fixed colour; the other groups (and a second group of one arm) take free
    # colours, then, when those run out, the colours again with other line styles
    styles = run_styles([arm_of(runs[entries[label][0]]) for label in order])
    return [(label, style, sorted(entries[label])) for label, style in zip(order, styles)]


def _default_names(runs: Sequence[Run], members: list[int], base: str,
                   defaults: list[list[int]], bases: list[str], entries) -> list[str]:
    """The names a default entry may take, in order: a single run by `run_label`; a seed group
    by its arm's name alone where it is the only entry that has it, or the one seed group among
    single runs of the arm, else with the first seed's name."""
    first = runs[members[0]]
    shared = [m for m, b in zip(defaults, bases) if b == base]
    alone = base not in entries and (len(shared) == 1 or len(members) > 1
                                     and sum(len(m) > 1 for m in shared) == 1)
    names = [base] if alone else []
    if len(members) == 1:
        names = [run_label(first)]
    elif first.name and first.name != base:
        names.append(f"{base} \u00b7 {first.name}")
    return names


def _default_entries(runs: Sequence[Run], given: list[str | None],
                     metrics: Sequence[str]) -> list[list[int]]:
    """The runs without a label, as seed groups and single runs (`sweep.row.seed_groups_of`)."""
    from phasewatch.sweep.row import (
        config_without_seed,
        hyperparameters,
        seed_groups_of,
        seed_of,
    )

    free = [i for i, label in enumerate(given) if not label]
    hps = {i: hyperparameters(runs[i]) for i in free}
    keys = [(arm_of(runs[i]), metrics[i], config_without_seed(hps[i])) for i in free]
    groups = [[free[k] for k in m]
              for m in seed_groups_of(keys, [seed_of(runs[i], hps[i]) for i in free])]
    grouped = {i for members in groups for i in members}
    return sorted([*groups, *([i] for i in free if i not in grouped)], key=min)
