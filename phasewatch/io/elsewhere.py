"""Consoles that print no metric of the model, whose trainer writes them to another file:
what to add to "unknown log format" for one, so a user is sent to the file that holds them.

rl_games (Isaac Gym, Isaac Lab) prints `fps step: 261574 fps step and policy inference:
230705 fps total: 181660 epoch: 376/500 frames: 24576000` each epoch, throughput alone, and
its best mean return only when it saves a checkpoint (`saving next best rewards:  [5771.39]`);
its rewards and losses go to the TensorBoard files of `runs/<experiment>/summaries`.
"""

from __future__ import annotations

import re

RL_GAMES = re.compile(rb"fps step: [\d.]+ fps step and policy inference: [\d.]+ fps total: "
                      rb"[\d.]+ epoch: \d+")
MIN_LINES = 2


def elsewhere_hint(head: bytes) -> str:
    """'' or where the metrics of the console whose first bytes are `head` are written."""
    if len(RL_GAMES.findall(head)) >= MIN_LINES:
        return ("; it is rl_games' console, which prints only its throughput each epoch (and "
                "its best mean reward when it saves a checkpoint): its rewards and losses are "
                "in the TensorBoard files it writes under runs/<experiment>/summaries; point "
                "phasewatch at that folder")
    return ""
