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
The phases of such a series are read with every value kept, and a note says what its sds are.
"""

from __future__ import annotations

SB3_RUNNING_MEANS = frozenset({"rollout/ep_rew_mean", "rollout/ep_len_mean",
                               "rollout/success_rate"})
BASELINES_RUNNING_MEANS = frozenset({"eprewmean", "eplenmean", "EpRewMean", "EpLenMean",
                                     "mean 100 episode reward", "rollout/return_history",
                                     "eval/return_history"})


def is_running_mean(metric: str) -> bool:
    """Whether `metric` (the log's own name) is a framework's running mean over episodes."""
    return metric in SB3_RUNNING_MEANS or metric in BASELINES_RUNNING_MEANS


def running_mean_note(metric: str) -> str | None:
    """What to say of an analysed running mean (module docstring); None for any other series."""
    if not is_running_mean(metric):
        return None
    who = ("Stable-Baselines3's mean over its last stats_window_size episodes (100 by default)"
           if metric in SB3_RUNNING_MEANS else "OpenAI Baselines' mean over its last 100 episodes")
    evaluations = ("EvalCallback's eval/mean_reward" if metric in SB3_RUNNING_MEANS
                   else "a periodic evaluation")
    return (f"{metric} is {who}: each value shares most of its episodes with the one before, so "
            "none is left out as an outlier, and its noise sd, read from successive values, is "
            "the change one rollout makes to that mean, far below one episode's scatter: the sd "
            f"multiples overstate every change; for phases and a checkpoint to keep, analyse "
            f"{evaluations}")
