"""PFRL's and ChainerRL's `scores.txt`: the evaluations of a reinforcement-learning agent, one
row each, tab-separated.

Their `Evaluator` (`pfrl/experiments/evaluator.py`, `chainerrl/experiments/evaluator.py`)
writes a header of its basic columns, `steps episodes elapsed mean median stdev max min`, then
the agent's own statistics (a DQN's `average_q average_loss cumulative_steps n_updates rlen`),
and after each evaluation one row: the environment steps taken, the training episodes
finished, the seconds since the start, then the mean, median, standard deviation, maximum and
minimum of the evaluation episodes' returns. `mean` is the score: the evaluator keeps the agent
whose `mean` is the best so far (`save_best_so_far_agent`), higher is better. ChainerRL's
first releases wrote `steps elapsed mean median stdev` (no `episodes`, no `max` and `min`).
Read as any table with a step column (`io.csv`: `steps`), the file has no name that says a
score, and `analyze` stopped at "no performance metric found" (a DQN on CartPole,
pfrl-scores-dqn-cartpole-evalmean-20): the file named `scores.txt` with such a header declares
`mean` the run's metric, named as the file names it.
"""

from __future__ import annotations

SCORES_FILE = "scores.txt"
SCORE = "mean"
# the columns after `steps` the evaluator writes: with `episodes` (PFRL, later ChainerRL), without
_BASIC = (("episodes", "elapsed", "mean", "median", "stdev"), ("elapsed", "mean", "median", "stdev"))
NOTE = ("a PFRL / ChainerRL evaluator's scores.txt: mean (the mean return of each evaluation's "
        "episodes, the score its evaluator keeps the best agent by) is the run's metric, higher "
        "is better")


def declared_score(columns: list[str], file_name: str) -> tuple[str, str] | None:
    """(`mean`, 'max') when `columns` are the header of an evaluator's `scores.txt` named so,
    else None."""
    if file_name != SCORES_FILE or columns[:1] != ["steps"]:
        return None
    return (SCORE, "max") if any(tuple(columns[1:1 + len(basic)]) == basic
                                 for basic in _BASIC) else None
