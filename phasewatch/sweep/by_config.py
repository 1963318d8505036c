"""The sweep table per configuration: the seeds of one configuration in one row, each phase
number as its mean, sd and count over them (`sweep --by-config`, `by_config(table)`).

A paper states "X is back at the start level N steps sooner than Y (mean +- sd over 3 seeds)";
the per-run table holds the seeds' numbers but no row of them (trial 40e: the sentence had to
be built by joining `analyze --format csv` rows in pandas). The seeds are grouped as the report's
seed groups and the comparison figure's default groups are (`row.seed_groups_of`: one arm and
metric, the same hyperparameters apart from the seed, at least two different seeds); every other
run is a configuration of its own (n 1, no sd). `_n` counts the runs that have the number: a
dip found on 1 seed of 3 has `dip_depth_n` 1, and its mean is that seed's, not a mean over 3.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from phasewatch.sweep.row import HP_PREFIX, config_without_seed, seed_groups_of

#: The numbers aggregated, in the per-run table's order (its text, flags and the trough's
#: interval are per run: `dip_low`/`dip_high` bound one run's trough, not the arm's).
NUMBERS = ("start_level", "dip_depth", "dip_trough_step", "time_to_recover", "recovered_step",
           "readapt_gain", "peak_step", "overfit_onset_step", "overfit_decline",
           "recommended_step", "recommended_value", "final_value", "best_value", "noise_sd",
           "n_changepoints", "token_divergence")
STATS = ("mean", "sd", "n")
ID_COLUMNS = ("algorithm", "metric", "direction", "step_unit", "n_runs", "seeds", "phases",
              "names")


def config_groups(table) -> list[list[int]]:
    """Row positions of `table` per configuration, in the order of their first run: the seed
    groups (`seed_groups_of`, keyed as the report keys them), then every other analysed run
    alone. Rows with an error are left out."""
    from phasewatch.plot.style import arm_key

    records = table.astype(object).where(table.notna(), None).to_dict("records")
    ok = [i for i, r in enumerate(records) if r.get("error") is None]
    hp = [c for c in table.columns if c.startswith(HP_PREFIX)]
    keys = [(arm_key(records[i]["algorithm"] or "") or "unknown", records[i]["metric"],
             config_without_seed({c: records[i][c] for c in hp})) for i in ok]
    groups = [[ok[k] for k in members]
              for members in seed_groups_of(keys, [records[i]["seed"] for i in ok])]
    grouped = {i for g in groups for i in g}
    return sorted([*groups, *([i] for i in ok if i not in grouped)], key=min)


def by_config(table):
    """One row per configuration of the sweep `table` (`sweep()`'s DataFrame): identity, the
    runs' count, seeds, phase sequences (each with its count where they differ) and names, then
    `<number>_mean`, `_sd` (ddof 1; empty for one run) and `_n` for each of `NUMBERS`, then the
    configuration's `hp.*` (a setting some members do not record: the others' value)."""
    import pandas as pd

    hp = [c for c in table.columns if c.startswith(HP_PREFIX)]
    numbers = [c for c in NUMBERS if c in table.columns]
    columns = [*ID_COLUMNS, *(f"{c}_{s}" for c in numbers for s in STATS), *hp]
    out = []
    for members in config_groups(table):
        rows = table.iloc[members]
        first = rows.iloc[0]
        seeds = [int(s) for s in rows["seed"] if pd.notna(s)]
        phases = Counter(p for p in rows["phases"] if isinstance(p, str))
        record: dict[str, Any] = {
            "algorithm": first["algorithm"], "metric": first["metric"],
            "direction": first["direction"], "step_unit": first["step_unit"],
            "n_runs": len(members), "seeds": ",".join(str(s) for s in sorted(seeds)),
            "phases": "; ".join(p if len(phases) == 1 else f"{p} ({n})"
                                for p, n in phases.most_common()),
            "names": ",".join(str(n) for n in rows["name"]),
        }
        for c in numbers:
            values = pd.to_numeric(rows[c], errors="coerce").dropna().astype(float)
            record[f"{c}_mean"] = float(values.mean()) if len(values) else None
            record[f"{c}_sd"] = float(values.std(ddof=1)) if len(values) >= 2 else None
            record[f"{c}_n"] = len(values)
        for c in hp:
            known = rows[c].dropna()
            record[c] = known.iloc[0] if len(known) else None
        out.append(record)
    frame = pd.DataFrame.from_records(out, columns=columns)
    for c in (*(f"{c}_n" for c in numbers), "n_runs"):
        frame[c] = pd.array(frame[c], dtype="Int64")
    return frame
