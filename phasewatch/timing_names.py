"""Series that time the run (wall clock, speed, memory), not the model: found by their names.

Their values differ between any two rows a log writes, so two rows of one at a step say nothing
of the log (`step_rows` is silent on them), and they are no score a run is judged by
(`choice_notes`).
"""

from __future__ import annotations

# words of a timing, throughput or memory series, anywhere in its name, in any case
TIMING_WORDS = ("time", "timing", "runtime", "per_second", "throughput", "memory", "mem_")


def is_timing(name: str) -> bool:
    """Whether `name` holds one of `TIMING_WORDS` (`timestamp`, `eval_runtime`,
    `eval_samples_per_second`, `profiling/Time taken: ...`, W&B's `_runtime`), or is counted
    in milliseconds (`_ms`: modded-nanogpt's `step_avg:120.1ms`, read as `step_avg_ms`)."""
    low = name.lower()
    return any(word in low for word in TIMING_WORDS) or low.endswith("_ms")
