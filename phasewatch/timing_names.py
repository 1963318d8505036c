"""Series that time the run (wall clock, speed, memory), not the model: found by their names.

Their values differ between any two rows a log writes, so two rows of one at a step say nothing
of the log (`step_rows` is silent on them), and they are no score a run is judged by
(`choice_notes`).
"""

from __future__ import annotations

from phasewatch.direction_words import name_words

# whole words (`direction_words.name_words`) of a throughput or memory series
TIMING_WORDS = frozenset({"throughput", "memory", "mem"})


def is_timing(name: str) -> bool:
    """Whether `name` times the run: a word of it begins with "time" or "timing", or ends
    with "time" (`timestamp`, verl's `timing_s/gen`, `eval_runtime`, `profiling/Time taken:
    ...`, `train_time_ms`, W&B's `_runtime`; not `eval/sentiment_accuracy`, whose "time" is
    inside a word), is one of TIMING_WORDS, counts per second (`eval_samples_per_second`), or
    is counted in milliseconds (`_ms`: modded-nanogpt's `step_avg:120.1ms`, read as
    `step_avg_ms`)."""
    low = name.lower()
    return ("per_second" in low or low.endswith("_ms")
            or any(word.startswith(("time", "timing")) or word.endswith("time")
                   or word in TIMING_WORDS for word in name_words(name)))
