"""The message for a metric the run does not have: what a user typed against what the log
holds, closest first, with a guess where one is close (`--metric eval_los`: did you mean
eval_loss?). One wording for every command, the callbacks and the live watch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def unknown_metric_message(name: str, available: Iterable[str],
                           other_names: Mapping[str, str] | None = None) -> str:
    """'no metric X in this run; did you mean Y? metrics that exist, closest first: ...' (the
    fix is in the message). `available` are the log's own names, the only ones listed: a user
    types what the log and `inspect` show. `other_names` maps other names of those metrics (a
    role name `eval/loss`) to the own name: they count for closeness only, so `eval/los` still
    leads to `eval_loss`."""
    import difflib  # only for this message: not imported by every command that reads a run

    available = list(available)
    if not available:
        return f"no metric '{name}': this run has no metrics at all"
    spellings = {own: [own] for own in available}
    for other, own in (other_names or {}).items():
        if own in spellings:
            spellings[own].append(other)

    def closeness(own: str) -> float:
        return max(difflib.SequenceMatcher(None, name.lower(), s.lower()).ratio()
                   for s in spellings[own])

    ranked = sorted(available, key=lambda m: (-closeness(m), m))
    # difflib's own cutoff (0.6): `eval_los` -> eval_loss, `nosuch` -> no guess at all
    guess = f" did you mean {ranked[0]}?" if closeness(ranked[0]) >= 0.6 else ""
    shown = ", ".join(ranked[:12]) + (f", ... ({len(ranked)} in all)" if len(ranked) > 12 else "")
    return f"no metric '{name}' in this run;{guess} metrics that exist, closest first: {shown}"
