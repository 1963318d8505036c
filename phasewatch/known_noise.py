"""The noise of one evaluation when the user knows it (`--noise-sd`, `--eval-size`).

A run of 3-12 evaluations cannot measure its own noise: second differences of 6-12 values spread
over a factor of two or more around the truth, and that spread, not a bias, is what makes shallow
dips and short declines pass for noise while flat runs get false turns. The user often knows the
noise from outside the run: the sd of repeated evaluations of one checkpoint (evaluate the
starting checkpoint 3-5 times with different seeds), or, for an accuracy on a fixed set of N
prompts, the binomial sd sqrt(p (1 - p) / N). Given, that sd replaces the estimate everywhere the
detector judges a change against the noise (`KnownNoise.sd`: the one place it is computed).

The binomial sd is the root mean square over the run's evaluations of the sd at each value: the
noise variance averaged over the levels the run spends its evaluations at. Each value is shrunk
by half an item, (x + 1/2) / (N + 1) (the Jeffreys estimate), so a rate at 0 or 1 still gets the
sd of a rate half an item from the bound (about 0.71 / N), not 0, which would make the first item
that changes a significant move. Not the sd at the median value: a rate that sits at 1.0 for half
its evaluations would get that ~0.71 / N for its rise through the middle too (tuning seeds,
rates reaching 0 or 1: worst presence 0.93 -> 0.96 and boundary hits 0.84 -> 0.87 with the root
mean square; the largest sd of any value gave 0.96 / 0.90 there but 0.84 hits instead of 0.86
on accuracies on 100-1000 prompts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from phasewatch.errors import UsageError
from phasewatch.noise import constant_floor_sd
from phasewatch.values import PRACTICAL_CHANGE

MIN_POOLED_VALUES = 4  # a run's values needed for a second-difference sd (`pooled_sd`)


def checked_noise_options(noise_sd: float | None, eval_size: int | None) -> None:
    """A usage error for a noise sd that is not a finite number > 0, an eval size that is not
    an integer >= 1, or both given (one noise, two answers)."""
    if noise_sd is not None and eval_size is not None:
        raise UsageError("--noise-sd and --eval-size both give the noise of one evaluation; "
                         "give one of them (--eval-size for a rate on a fixed set of items, "
                         "--noise-sd otherwise)")
    if noise_sd is not None and (isinstance(noise_sd, bool) or not isinstance(noise_sd, (int, float))
                                 or not math.isfinite(noise_sd) or noise_sd <= 0):
        raise UsageError(f"--noise-sd {noise_sd!r}: the noise sd of one evaluation must be a finite "
                         "number > 0, in the metric's own units (e.g. the sd of 3-5 evaluations "
                         "of one checkpoint with different seeds)")
    if eval_size is not None and (isinstance(eval_size, bool) or not isinstance(eval_size, int)
                                  or eval_size < 1):
        raise UsageError(f"--eval-size {eval_size!r}: the number of items a rate is evaluated on "
                         "must be a whole number >= 1 (e.g. 500 for accuracy on 500 prompts)")


def binomial_sd(rate: float, eval_size: int) -> float:
    """sd of a rate measured on `eval_size` items, at `rate` shrunk towards 1/2 by half an item
    (Jeffreys): sqrt(p (1 - p) / N) with p = (rate N + 1/2) / (N + 1)."""
    p = (float(rate) * eval_size + 0.5) / (eval_size + 1)
    return math.sqrt(p * (1.0 - p) / eval_size)


@dataclass(frozen=True)
class KnownNoise:
    """The noise sd of one evaluation of a run, in the metric's own units, and where it came
    from: `given` (`--noise-sd`), `binomial` (`--eval-size` items), `logged` (the binomial
    noise of the evaluation set the log states, `logged_binomial`) or `floor` (a series constant
    for any practical purpose, `constant_floor`)."""

    sd: float
    source: str
    eval_size: int | None = None



def known_noise(noise_sd: float | None, eval_size: int | None, values: np.ndarray,
                metric: str) -> KnownNoise | None:
    """The run's noise sd from the options, or None when neither is given (the detector then
    estimates it). `values` are the metric's values as logged: an eval size is only for a rate,
    so they must lie in [0, 1]; its sd is the root mean square of `binomial_sd` over them."""
    checked_noise_options(noise_sd, eval_size)
    if noise_sd is not None:
        return KnownNoise(float(noise_sd), "given")
    if eval_size is None:
        return None
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size and (y.min() < 0.0 or y.max() > 1.0):
        raise UsageError(f"--eval-size {eval_size}: {metric} ranges over "
                         f"[{y.min():.4g}, {y.max():.4g}], not a rate in [0, 1], so it has no "
                         "binomial noise; give its noise with --noise-sd instead (the sd of "
                         "repeated evaluations of one checkpoint)")
    variances = [binomial_sd(float(v), eval_size) ** 2 for v in (y if y.size else [0.5])]
    return KnownNoise(float(np.sqrt(np.mean(variances))), "binomial", eval_size)


def constant_floor(values: np.ndarray, metric: str) -> tuple[KnownNoise, str] | None:
    """(a noise of `PRACTICAL_CHANGE` of the magnitude, a warning saying so) for a series whose
    whole range is within that fraction of its magnitude, else None: it is constant for any
    practical purpose, and judged against its float-level scatter every wiggle was a phase (a
    4-way multiple-choice model at chance: an eval loss ln 4 = 1.3863 at all 62 evaluations,
    range 7.1e-4, read "improvement -31.0 sd, overfit +29.3 sd", reader 40b). Judged against this
    noise as if the user gave it, nothing of it is a phase."""
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    floor = constant_floor_sd(y)
    if not floor:
        return None
    magnitude, span = float(np.max(np.abs(y))), float(np.ptp(y))
    note = (f"{metric} stays within {span:.2g} over its {y.size} evaluations, "
            f"{span / magnitude:.2%} of its level {magnitude:.4g}: constant for any practical purpose, so it is judged "
            f"against a noise of {PRACTICAL_CHANGE:.1%} of that level ({floor:.2g}), the smallest "
            "change taken as real")
    return KnownNoise(floor, "floor"), note


def pooled_sd(runs_values: list[np.ndarray]) -> tuple[float, int]:
    """(sd, runs used): one noise sd for several runs of one metric evaluated on the same set
    (`analyze --pool-noise`), the median over the runs of each one's second-difference sd
    (`noise.second_difference_sd`, largest difference left out). The median, not a pool of
    all the differences: each run's turns put a few large second differences into it, which
    a pooled root mean square or MAD counts as noise (simulated groups of 4 runs of 3-12
    evaluations sharing one sd: median 1.15x / 1.23x the truth, against 1.00x for the median
    of the runs, whose spread, a log-sd of 0.27, is half a single run's). Runs of fewer than
    MIN_POOLED_VALUES values are left out; a usage error when fewer than 2 runs remain."""
    from phasewatch.noise import second_difference_sd

    sds = [second_difference_sd(np.asarray(v, dtype=np.float64), robust=False)
           for v in runs_values if np.isfinite(np.asarray(v, dtype=np.float64)).sum()
           >= MIN_POOLED_VALUES]
    sds = [sd for sd in sds if sd > 0]
    if len(sds) < 2:
        raise UsageError(f"--pool-noise needs 2 or more runs with {MIN_POOLED_VALUES} or more "
                         f"evaluations of the metric ({len(sds)} here); give the noise with "
                         "--noise-sd instead, or leave the option out")
    return float(np.median(sds)), len(sds)


def pooled_noise_of(paths: Iterable[str], read: Callable[[str], tuple[Any, str | None]],
                    direction: str | None, keep_outliers: bool) -> tuple[float, int]:
    """(sd, runs) of `--pool-noise`: `pooled_sd` over the values `analyze` judges in each run
    (its metric and direction, outliers left out unless kept). `read(path)` gives the run and
    the metric asked for, as the command reads them; a run that cannot be read is left out
    here (the analysis reports it)."""
    from phasewatch.errors import PhasewatchError
    from phasewatch.signals import choose_direction, choose_metric, prepare

    values = []
    for path in paths:
        try:
            run, metric = read(path)
            metric = choose_metric(run, metric)
            values.append(prepare(run, metric, choose_direction(run, metric, direction),
                                  keep_outliers=keep_outliers).values)
        except PhasewatchError:
            continue
    return pooled_sd(values)


# HF's Trainer logs with every evaluation `<prefix>_runtime` (seconds, 4 decimals) and
# `<prefix>_samples_per_second` (3 decimals), their ratio taken on the evaluation set's size, and
# with some versions `<prefix>_samples` itself (`speed_metrics`); `<prefix>` is `eval`, a named
# set's `eval_<set>` or `test`, spelt `eval/...` by its W&B / TensorBoard callbacks.
RUNTIME, RATE, SAMPLES = "runtime", "samples_per_second", "samples"
SIZE_TOLERANCE = 0.02  # relative spread of samples_per_second x runtime about a whole number
QUANTUM_TOLERANCE = 0.05  # largest |value x N - k| of a rate on N items (4-decimal logs: N < 1000)
QUANTISED_NOISE_RATIO = 2.0  # binomial sd over the estimate that earns the warning


def logged_eval_size(columns: dict[str, tuple[np.ndarray, np.ndarray]],
                     metric: str) -> tuple[int, str] | None:
    """(items, how it was read) of the evaluation set `metric` was measured on, when the log
    says: HF's `<prefix>_samples`, else `<prefix>_samples_per_second` x `<prefix>_runtime`
    at the same evaluations, one whole number to `SIZE_TOLERANCE` at every one; else None."""
    prefixes = sorted((name[:-len(RUNTIME)] for name in columns
                       if name.endswith(RUNTIME) and name[:-len(RUNTIME)].endswith(("_", "/"))
                       and metric.startswith(name[:-len(RUNTIME)])), key=len, reverse=True)
    if not prefixes:
        return None
    prefix = prefixes[0]  # the longest: a named set's `eval_g0_` before `eval_`
    if prefix + SAMPLES in columns:
        sizes = np.asarray(columns[prefix + SAMPLES][1], dtype=np.float64)
        sizes = sizes[np.isfinite(sizes)]
        if sizes.size and np.all(sizes == sizes[0]) and sizes[0] >= 1 and sizes[0] % 1 == 0:
            return int(sizes[0]), prefix + SAMPLES
    if prefix + RATE not in columns:
        return None
    (run_steps, runtime), (rate_steps, rate) = columns[prefix + RUNTIME], columns[prefix + RATE]
    _, i, j = np.intersect1d(run_steps, rate_steps, return_indices=True)
    products = np.asarray(runtime, dtype=np.float64)[i] * np.asarray(rate, dtype=np.float64)[j]
    products = products[np.isfinite(products)]
    if not products.size:
        return None
    size = round(float(np.median(products)))
    if size < 1 or np.any(np.abs(products - size) > max(0.5, SIZE_TOLERANCE * size)):
        return None
    return size, f"{prefix}{RATE} x {prefix}{RUNTIME}"


def _counted_rate(columns: dict[str, tuple[np.ndarray, np.ndarray]], metric: str,
                  y: np.ndarray) -> tuple[int, str] | None:
    """(N, how it was read) when `metric` (finite values `y`) is a rate in [0, 1] whose every
    value is a count of items out of the N its log says its evaluation set has
    (`logged_eval_size`), else None."""
    if not y.size or y.min() < 0.0 or y.max() > 1.0:
        return None
    found = logged_eval_size(columns, metric)
    if found is None:
        return None
    counts = y * found[0]
    return found if np.max(np.abs(counts - np.round(counts))) <= QUANTUM_TOLERANCE else None


def logged_binomial(columns: dict[str, tuple[np.ndarray, np.ndarray]], metric: str,
                    values: np.ndarray) -> tuple[KnownNoise, str] | None:
    """(the binomial noise, a warning saying so) of a rate counted on the N items its log says
    its evaluation set has (`_counted_rate`), for a series too short to estimate its own noise:
    an accuracy at 3 evaluations, 4410, 4513 and 4649 of 5000 correct, was a "plateau, not
    established" with no noise at all, where each step is 5 binomial sds (reader 40b). The
    binomial sd is an upper bound for greedy answers on a fixed set (see `quantised_rate_note`):
    a move it calls significant is one."""
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if (found := _counted_rate(columns, metric, y)) is None:
        return None
    size, how = found
    noise = known_noise(None, size, y, metric)
    note = (f"{metric}: {y.size} evaluations are too few to estimate the noise; it is judged "
            f"against the binomial noise of the {size} samples the log's evaluation set has "
            f"({how}), {noise.sd:.3g} (an upper bound when the answers are greedy on a fixed set)"
            f"{undone_excursion(y, noise.sd)}")
    return KnownNoise(noise.sd, "logged", size), note


def undone_excursion(y: np.ndarray, sd: float) -> str:
    """Where the readings themselves contradict a noise sd `sd` the run is judged against (the
    binomial of its logged set, `logged_binomial`), the words that say so, else "": the
    largest move off both neighbours that the next evaluation undoes, when it exceeds the
    phases' own significance (`phases.significant_gap`). The binomial bounds the sampling of a
    fixed set, not how much checkpoints differ: an AI-text detector's accuracy on 36,000 items,
    0.787, 0.805, 0.760, 0.827, was "improvement +18.6 sd" against a binomial 0.0021 while its
    third evaluation sat 21 of those sds below both neighbours (hf-ai-text-detect-4ev)."""
    from phasewatch.phases import significant_gap  # phases imports this module's users

    if not sd > 0 or y.size < 3:
        return ""
    before, after = y[1:-1] - y[:-2], y[1:-1] - y[2:]
    off = np.where(before * after > 0, np.minimum(np.abs(before), np.abs(after)), 0.0)
    i = int(np.argmax(off))
    if off[i] <= significant_gap(sd):
        return ""
    return (f"; but its evaluation {i + 2} of {y.size}, {y[i + 1]:.4g}, sits {off[i]:.3g} "
            f"({off[i] / sd:.0f} of those sds) off both its neighbours, a move the next one "
            "undoes: its checkpoints vary more than the set's sampling, and the sds here "
            "understate the run's own noise")


def quantised_rate_note(columns: dict[str, tuple[np.ndarray, np.ndarray]], metric: str,
                        values: np.ndarray, estimated_sd: float) -> str | None:
    """A warning when `metric`, a rate in [0, 1], is a count of items out of the N its log says
    its evaluation set has (`logged_eval_size`; every value k/N) and the binomial noise of N
    items (`known_noise`, as `--eval-size N` gives it) is over `QUANTISED_NOISE_RATIO` times
    the noise sd estimated from the data, which is below one item (1/N): the series moves in
    steps larger than its estimated noise and holds few distinct values (trial 32b finding 3:
    an accuracy on 14 items takes only k/14, and a step function's differences gave 0.0213
    against a binomial 0.119, so each 2-item jump read as +6.7 sd). Not where the estimate
    spans an item or more: greedy evaluations of a fixed set of hundreds of items vary less
    between checkpoints than the binomial sd, an upper bound there (corpus: 9 such series
    of 302, 196-1849 items, 2.1-4.7x, are not warned of; 2 of 5 and 14 items are). The
    detection is unchanged: the user is told, and how to judge the run against the binomial
    noise."""
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size < 3 or estimated_sd < 0 or (found := _counted_rate(columns, metric, y)) is None:
        return None
    size, how = found
    counts = y * size
    if estimated_sd >= 1.0 / size:
        return None
    binomial = known_noise(None, size, y, metric)
    if binomial is None or binomial.sd <= QUANTISED_NOISE_RATIO * estimated_sd:
        return None
    distinct = np.unique(np.round(counts)).size
    # an estimate of 0: the values repeat exactly (one item's change, then the same count)
    against = (f"{binomial.sd / estimated_sd:.1f}x the {estimated_sd:.3g} estimated from the data"
               if estimated_sd > 0 else "where the data's own estimate is 0")
    return (f"{metric} takes {distinct} value{'s' if distinct != 1 else ''}, multiples of "
            f"1/{size}, and the log's evaluation set has {size} samples ({how}): its binomial "
            f"noise is {binomial.sd:.3g}, {against}; --eval-size {size} judges the run against it")
