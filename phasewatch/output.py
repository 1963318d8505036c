"""Writing results: data to stdout, messages to stderr (DESIGN.md contract)."""

from __future__ import annotations

import itertools
import json
import math
import sys
from typing import Any

SCHEMA_VERSION = 1


def counted(n: int | str, noun: str) -> str:
    """'1 outlier', '3 outliers', '1.5 epochs': a count (or a count as printed) in words that
    agree with it."""
    return f"{n} {noun}" if str(n) == "1" else f"{n} {noun}s"


def digits_apart(*values) -> int:
    """Significant digits that print `values` apart where they differ: 4, or as many more as
    their smallest difference is smaller than they are, for two digits of it (a phase's start
    and end, whose difference is its change: csv-sb3-trnsys-dqn-evalreward-40's reward,
    -3.16893e8 plus a few hundred, printed "-3.169e+08 -> -3.169e+08 change +297.7")."""
    finite = sorted({v for v in values if isinstance(v, float) and math.isfinite(v)})
    gaps = [b - a for a, b in itertools.pairwise(finite)]
    size = max((abs(v) for v in finite), default=0.0)
    if not gaps or size == 0:
        return 4
    return int(min(15, max(4, math.ceil(math.log10(size / min(gaps))) + 2)))


def listed(names: list[str], shown: int) -> str:
    """The first `shown` of `names`, then how many more and, where those are under path
    prefixes, which (trial 39b: an error listed 20 of a log's 38 metrics without a word, and
    none of its `train_loss/` and `scalar_series/` ones)."""
    if len(names) <= shown:
        return ", ".join(names) or "none"
    groups: dict[str, int] = {}
    for name in names[shown:]:
        head, slash, _ = name.partition("/")
        key = f"{head}/" if slash else ""
        groups[key] = groups.get(key, 0) + 1
    under = ", ".join(f"{head} ({n})" for head, n in groups.items() if head)
    return (f"{', '.join(names[:shown])} and {len(names) - shown} more"
            + (f" (under {under})" if under else ""))


def metric_option(name: str) -> str:
    """'--metric NAME' as a shell takes it, for a message that tells the user what to type: a
    name with a space or a shell character is quoted (a Trainer's compute_metrics returned
    "Weighted F1", and "pass --metric eval_Weighted F1", typed as printed, was a usage error:
    'unrecognized arguments: F1')."""
    import shlex

    return f"--metric {shlex.quote(name)}"


def jsonable(value: Any) -> Any:
    """Plain JSON types; NaN/inf become null (JSON has no NaN), numpy scalars become Python."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def emit_json(payload: dict[str, Any], stream=None) -> None:
    """Write one JSON document with `schema_version` first."""
    stream = stream or sys.stdout
    doc = {"schema_version": SCHEMA_VERSION, **payload}
    stream.write(json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")


def emit_jsonl(obj: dict[str, Any], stream=None) -> None:
    stream = stream or sys.stdout
    stream.write(json.dumps(jsonable(obj), allow_nan=False) + "\n")
    stream.flush()


def warn(message: str) -> None:
    print(f"phasewatch: warning: {message}", file=sys.stderr)
