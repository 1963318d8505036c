"""Series a framework logs as a running mean over its last episodes, not one reading each.

Stable-Baselines3 records `rollout/ep_rew_mean`, `rollout/ep_len_mean` and `rollout/success_rate`
as the mean over its episode buffer, a deque of the last `stats_window_size` episodes (100 by
default), at each logging iteration; OpenAI Baselines' PPO2 and TRPO/PPO1 log `eprewmean` /
`EpRewMean` (and the lengths) over a deque of the last 100, its deepq (and Stable Baselines 2's
DQN) `mean 100 episode reward`, the mean of the last 100 finished episodes' returns, its DDPG
`rollout/return_history` and `eval/return_history`, over a deque of the last 100 episodes. A
value shares most of its episodes with the one before (the buffer is unchanged where no episode
ended between two logs, and the value repeats exactly), so:
- no value is a failed reading its neighbours contradict: a running mean that drops for one log
  and comes back moved with its episodes, and leaving such values out as outliers left out the
  best logged value of an SB3 car-racing run with 160 others;
- the noise read from successive differences is the change one rollout makes to a mean of 100
  episodes, far below the scatter of one episode's return, and every change measured against it
  reads hundreds or thousands of sds ("+7886.8 sd" for a rise from -67 to 829).
The phases of such a series are read with every value kept, against the noise of its level
(`level_noise`: the scatter of one value about the curve, a mean of the window's episodes), with
standard errors that count a stretch of n values as about n / window independent ones
(`linear_variance`), and a note says what its sds are. A series whose name states its window
(`win_rate_100`: `stated_window`) is one too. Not modelled: the first values of a run whose
buffer fills from empty average fewer episodes than the window and scatter more.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from phasewatch.noise import differences_noise

SB3_RUNNING_MEANS = frozenset({"rollout/ep_rew_mean", "rollout/ep_len_mean",
                               "rollout/success_rate"})
BASELINES_RUNNING_MEANS = frozenset({"eprewmean", "eplenmean", "EpRewMean", "EpLenMean",
                                     "mean 100 episode reward", "rollout/return_history",
                                     "eval/return_history"})


def is_running_mean(metric: str) -> bool:
    """Whether `metric` (the log's own name) is a framework's running mean over episodes."""
    return (metric in SB3_RUNNING_MEANS or metric in BASELINES_RUNNING_MEANS
            or stated_window(metric) is not None)


def running_mean_note(metric: str, level: LevelNoise | None = None,
                      live: bool = False) -> str | None:
    """What to say of an analysed running mean (module docstring); None for any other series.
    With its `level` noise (`analyze`), what its sds are now; without (a series whose values
    share no episodes), that its sds, read from successive values, overstate; `live` (`watch`,
    before the values tell the level noise), that the monitor reads it once they do."""
    if not is_running_mean(metric):
        return None
    if metric in SB3_RUNNING_MEANS:
        who = "Stable-Baselines3's mean over its last stats_window_size episodes (100 by default)"
    elif metric in BASELINES_RUNNING_MEANS:
        who = "OpenAI Baselines' mean over its last 100 episodes"
    else:
        who = f"a mean over its last {stated_window(metric)} episodes, as its name says"
    evaluations = ("EvalCallback's eval/mean_reward" if metric in SB3_RUNNING_MEANS
                   else "a periodic evaluation")
    shared = (f"{metric} is {who}: each value shares most of its episodes with the one before, "
              "so none is left out as an outlier")
    if level is not None:
        return (f"{shared}; its changes are measured in sds of one value about the curve, "
                f"{level.sd:.4g} ({level.how}), and a mean of n values is read as n / "
                f"{level.window:.0f} independent ones: values {level.window:.0f} logs apart "
                "share no episode. A mean of the training episodes lags the policy by its window; "
                f"for a checkpoint to keep, analyse {evaluations}")
    if live:
        return (f"{shared}; the monitor measures its changes against the noise of one value "
                "about the curve once the values show it (from "
                f"{MIN_LOGS} of them for a window the name states; else once about {MIN_LOGS} "
                "windows are logged, which the monitor's last 256 values hold only for a window "
                "of up to about 21 logs: not SB3's 100 episodes logged every 4), and until then "
                "against the change one log makes to that mean, which overstates every change; "
                f"for phases and a checkpoint to keep, watch {evaluations}")
    return (f"{shared}, and its noise sd, read from successive values, is "
            "the change one rollout makes to that mean, far below one episode's scatter: the sd "
            f"multiples overstate every change; for phases and a checkpoint to keep, analyse "
            f"{evaluations}")


def live_wording(note: str, metric: str) -> str:
    """`note` as `watch` says it: the running-mean note of `metric` (the log's own name) in its
    live words (`running_mean_note`), any other note as it is."""
    return running_mean_note(metric, live=True) if note == running_mean_note(metric) else note


def with_level_note(warnings: list[str], metric: str, level: LevelNoise | None) -> None:
    """`warnings` with the note of the running mean `metric` (`running_mean_note`) saying what
    its sds now are, where its `level` noise is known."""
    if level is not None and (plain := running_mean_note(metric)) in warnings:
        warnings[warnings.index(plain)] = running_mean_note(metric, level)


# A name that states its window: a reward / return / win or success rate over the last N
# episodes (`win_rate_100`, `mean_reward_100`). Not a ranking cut-off or a top-k (`recall_100`,
# `ndcg_10`, `hits_10`, `acc_5`): only these words, and N of 10 or more.
STATED_WINDOW = re.compile(r"(?:^|[_/.])(?:ep_)?(reward|return|rew|win_rate|winrate|success_rate)"
                           r"_(\d+)$")
MIN_STATED_WINDOW = 10
MIN_LOGS = 12  # fewest values a running mean's level noise is read from; fewer: read as any series


def stated_window(metric: str) -> int | None:
    """N where the name says the series is a mean over its last N episodes (`STATED_WINDOW`)."""
    match = STATED_WINDOW.search(metric.lower())
    if match is None or int(match.group(2)) < MIN_STATED_WINDOW:
        return None
    return int(match.group(2))


@dataclass(frozen=True)
class LevelNoise:
    """The noise of a running mean's level: `sd`, the scatter of one value about the curve (a
    mean of the window's episodes), and `window`, how many logs apart two values share no
    episode (W / g for a window of W episodes logged every g); the standard error of a mean of
    n values is sd * sqrt(`mean_variance`(n, window)), about sd * sqrt(window / n), not
    sd / sqrt(n). `how` says where `sd` came from, for the note."""

    sd: float
    window: float
    how: str


def level_noise(metric: str, values: np.ndarray) -> LevelNoise | None:
    """The level noise of the running mean `metric` (`LevelNoise`), or None for any other series
    and for one whose successive values share no episodes (window under 2 logs: a log every g >=
    W / 2 episodes), which is then read as any series is.

    A rate over a stated window of N episodes (`win_rate_100`) has the binomial sd over N
    (`known_noise.binomial_sd`, root mean square over the values), and its window in logs is
    (that sd / the sd successive values differ by)^2, since a step of g episodes moves a mean
    of W by sd * sqrt(g / W). Any other running mean's window and sd are read from how the sd of
    its lag-k second differences grows with k (`_fitted_window`)."""
    if not is_running_mean(metric):
        return None
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size < MIN_LOGS or np.ptp(y) == 0:
        return None
    stated = stated_window(metric)
    if stated is not None and 0.0 <= y.min() and y.max() <= 1.0:
        from phasewatch.known_noise import binomial_sd

        sd = float(np.sqrt(np.mean([binomial_sd(float(v), stated) ** 2 for v in y])))
        step = float(np.sqrt(np.mean(np.diff(y) ** 2) / 2.0))  # most are exactly 0: no MAD
        window = min((sd / step) ** 2 if step > 0 else float(y.size), float(y.size))
        how = f"the binomial sd of a rate over {stated} episodes"
    else:
        window, sd = _fitted_window(y)
        how = ("read from how far apart its values stop sharing episodes (the sd of lag-k second "
               f"differences levels off at k = {window:.0f} logs)")
    return LevelNoise(sd, window, how) if window >= 2 and sd > 0 else None


MAX_LAGS = 40  # lags the growth of the second-difference sd is read at (geometrically spaced)


def _fitted_window(y: np.ndarray) -> tuple[float, float]:
    """(window in logs, level sd) of a running mean from its lag-k second differences
    y[t+2k] - 2 y[t+k] + y[t], which cancel a straight trend: for a mean over the last m logs
    of white episodes with level sd s, their variance is 6 s^2 h(k / m), h(u) = 2u/3 up to
    u = 1/2, (8u - 2)/6 up to 1, then 1 (the three windows no longer overlap). The sd at lag 1,
    the most precise, pins s^2 h(1 / m); m is the window (k = 1 to a sixth of the run) whose
    curve fits the robust sds at all lags best, in logs. It must level off within the lags
    read, by half of them: an sd still growing at the last lags is a curve's bend as much as a
    window (a 25-log SB3 run, 113 episodes a log, so no episode shared, read a window of 4, the
    most its lags could show); (1, 0.0) then."""
    top = max(1, y.size // 6)
    lags = np.unique(np.round(np.geomspace(1, top, MAX_LAGS)).astype(int))
    sds = np.array([_second_difference_sd(y, int(k)) for k in lags])
    if sds[0] <= 0 or np.any(sds <= 0):
        return 1.0, 0.0
    best = (math.inf, 1.0, 0.0)
    for m in lags:
        level2 = sds[0] ** 2 / _growth(1.0 / m)
        misfit = float(np.sum((np.log(sds ** 2) - np.log(level2 * _growth(lags / m))) ** 2))
        if misfit < best[0]:
            best = (misfit, float(m), math.sqrt(level2))
    return (best[1], best[2]) if best[1] <= top / 2 else (1.0, 0.0)


def _growth(u):
    """h(u) of `_fitted_window`: lag-k second differences' variance over 6 level variances."""
    u = np.asarray(u, dtype=np.float64)
    return np.where(u <= 0.5, 2.0 * u / 3.0, np.where(u <= 1.0, (8.0 * u - 2.0) / 6.0, 1.0))


def _second_difference_sd(y: np.ndarray, k: int) -> float:
    """The robust sd of y's lag-k second differences over sqrt(6) (`noise.differences_noise`'s
    estimate, its fallback for quantised values included)."""
    d = y[2 * k:] - 2.0 * y[k:-k] + y[:-2 * k]
    return differences_noise(d, float(np.ptp(y))) * math.sqrt(2.0 / 6.0)


def mean_variance(n: int, window: float) -> float:
    """The variance of the mean of `n` consecutive values of a running mean over `window` logs,
    in units of one value's (1 / n for independent values, window <= 1): each log's episodes
    count in up to `window` values, so the mean weighs them by a trapezoid."""
    if window <= 1:
        return 1 / max(n, 1)
    return linear_variance(np.full(max(n, 1), 1.0 / max(n, 1)), window)


def linear_variance(weights: np.ndarray, window: float) -> float:
    """The variance of sum(weights * values) of a running mean over `window` logs, in units of
    one value's variance: sum(weights^2) for independent values (window <= 1); else the values
    are means of `window` blocks, and the sum weighs each block by its weights summed over the
    values it counts in."""
    w = np.asarray(weights, dtype=np.float64)
    m = round(window)
    if m <= 1:
        return float(w @ w)
    total = np.concatenate([[0.0], np.cumsum(np.concatenate([w, np.zeros(m - 1)]))])
    c = total[m:] - total[:-m]  # np.convolve(w, np.ones(m)) in O(n) (a block in m values)
    c = np.concatenate([total[1:m], c])
    return float(c @ c) / m
