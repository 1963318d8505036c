"""What is said of several runs compared side by side, beside each run's own warnings: that
they were analysed on different metrics, each its log's own choice, or that one rate is a
fraction in some and a percentage in others.

An accuracy, an error rate or a score of generated text is a fraction in one script and a
percentage in the next: HF `evaluate`'s WER is a fraction, many Whisper fine-tuning scripts
multiply it by 100, LLaMA-Factory scales its ROUGE and BLEU by 100 (`presets`). Two runs
compared on one such name were compared without a word: hf-whisper-large-ja's eval_wer
0.79 -> 0.74 beside hf-whisper-tiny-nb's 62 -> 25, and the comparison figure drew the first
along its floor, "30x better" where it is 3x worse (trial 40b). Nothing is rescaled: the user
is told, by `analyze` and `plot` (`scale_note`).

Which names: those `heldout_names.LEAVES` reads as an accuracy or a score of generated text or
of a ranking (accuracy, exact match, F1, BLEU, chrF, ROUGE, WER, CER, pass@k...), under any
split or none, and a name whose last word is "rate" (a pass rate, a win rate). A loss, a
reward or a length has no such pair of scales, and two of them far apart are two runs' own
levels (train losses of two tokenisers, 285 -> 5 beside 1.37 -> 0.70): nothing is said of them.
Which values: every value of one run within [0, 1], and another run's typical value (its
median) above 1, at most 100 and at least `MIN_RATIO` times the first run's: a WER above 1 (a
fraction: more insertions than words) at the start of one run is no percentage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from phasewatch.direction_words import name_words
from phasewatch.heldout_names import ACCURACY_LEAF, LEAVES
from phasewatch.results import Analysis

MIN_RATIO = 5.0  # a percentage run's median over a fraction run's, at least
_RATE_PART = re.compile("|".join(f"(?:{pattern})" for pattern, _, _ in LEAVES[ACCURACY_LEAF:]))


@lru_cache(maxsize=1024)
def rate_like(name: str) -> bool:
    """Whether `name` is a rate a log may hold as a fraction or as a percentage: a part of it
    (between slashes) is an accuracy or score leaf of `heldout_names.LEAVES` (`eval_wer`,
    `eval/rouge-l`, `val-core/gsm8k/acc/mean@1`), or its last word is "rate"."""
    words = name_words(name)
    return (any(_RATE_PART.fullmatch(part) for part in name.lower().split("/"))
            or bool(words) and words[-1] == "rate")


def scale_note(metric: str, runs: Sequence[tuple[str, np.ndarray]]) -> str | None:
    """A warning when `runs` ((name, values) of each run compared on `metric`) hold it as a
    fraction in some and, by their values, as a percentage in others; else None."""
    if not rate_like(metric):
        return None
    finite = [(name, v[np.isfinite(v)]) for name, v in
              ((name, np.asarray(values, dtype=np.float64)) for name, values in runs)]
    finite = [(name, v) for name, v in finite if v.size]
    fractions = [(name, v) for name, v in finite if v.min() >= 0.0 and v.max() <= 1.0]
    if not fractions:
        return None
    level = max(float(np.median(v)) for _, v in fractions)
    percents = [(name, v) for name, v in finite if v.min() >= 0.0
                and 1.0 < (median := float(np.median(v))) <= 100.0 and median >= MIN_RATIO * level]
    if not percents:
        return None

    def said(group: list[tuple[str, np.ndarray]]) -> str:
        return ", ".join(f"{name} ({v.min():.4g} to {v.max():.4g})" for name, v in group)

    return (f"{metric} looks like a fraction in {said(fractions)} and a percentage in "
            f"{said(percents)}: compared as logged, a fraction's {level:.2g} reads as "
            f"{level:.2g}% beside them; put the runs on one scale (x100) to compare them")


def compared_warnings(analyses: Sequence[Analysis], values: Sequence[np.ndarray],
                      metric: str | None) -> list[str]:
    """What is said of the runs compared, beside each run's own warnings: that each was
    analysed on its own log's choice of metric, where those differ (trial 34b: a CSV's
    held-out accuracy beside the JSONL of the same run's train reward, compared without a word;
    eval_accuracy and eval/accuracy are one metric in HF's two spellings), else that one
    metric is a fraction in some runs and a percentage in others (`scale_note`). `values`:
    each analysis's series; `metric`: the one the user asked for, if any."""
    from phasewatch.presets import hf_spellings

    if len(analyses) < 2:
        return []
    metrics = sorted({a.metric for a in analyses})
    if metric is None and any(m != metrics[0] and metrics[0] not in hf_spellings(m)
                              for m in metrics):
        return [(f"the runs are compared on different metrics ({', '.join(metrics)}), each "
                 "its log's own choice: pass --metric NAME to compare one metric")]
    note = scale_note(metric or metrics[0], [(a.source, v) for a, v in zip(analyses, values)])
    return [note] if note else []
