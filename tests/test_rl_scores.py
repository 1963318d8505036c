"""PFRL's and ChainerRL's `scores.txt` (`io.rl_scores`): one tab-separated row per evaluation,
whose `mean` (the mean return of the evaluation episodes) is the run's score. Read as a plain
table it had no name that says a score, and `analyze` exited 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_json import analyzed, watched

from phasewatch.cli import main

PFRL_COLUMNS = ("steps", "episodes", "elapsed", "mean", "median", "stdev", "max", "min")
CHAINERRL_FIRST_COLUMNS = ("steps", "elapsed", "mean", "median", "stdev")
DQN_STATISTICS = ("average_q", "average_loss", "cumulative_steps", "n_updates", "rlen")


def _scores(tmp_path: Path, columns: tuple[str, ...] = PFRL_COLUMNS, name: str = "scores.txt",
            evaluations: int = 20, every: int = 1000) -> Path:
    """A `scores.txt` as the evaluator writes it: its header `'\\t'.join(column_names)`, then
    after each evaluation `'\\t'.join(str(x) for x in values)` (`record_stats`); the returns'
    mean rises from 10 to about 400 with noise, the agent's statistics after them."""
    rng = np.random.default_rng(7)
    lines = ["\t".join(columns + DQN_STATISTICS)]
    for i in range(1, evaluations + 1):
        step = i * every + int(rng.integers(0, 30))
        returns = np.clip(10 + 390 * (1 - np.exp(-i / 6)) + 40 * rng.standard_normal(10), 8, 500)
        stats = {"steps": step, "episodes": 40 + 10 * i, "elapsed": 1.8 * i,
                 "mean": float(np.mean(returns)), "median": float(np.median(returns)),
                 "stdev": float(np.std(returns, ddof=1)), "max": float(np.max(returns)),
                 "min": float(np.min(returns))}
        agent = (5.0 * i, 0.2 + 0.05 * i, step, step - 500, step)
        lines.append("\t".join(str(x) for x in [stats[c] for c in columns] + list(agent)))
    folder = tmp_path / "results" / "220430170357"
    folder.mkdir(parents=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("columns", [PFRL_COLUMNS, CHAINERRL_FIRST_COLUMNS])
def test_the_evaluators_mean_return_is_the_metric(capsys, tmp_path, columns):
    path = _scores(tmp_path, columns)
    run = analyzed(capsys, path)
    assert (run["metric"], run["direction"]) == ("mean", "max")
    assert any("scores.txt" in w and "mean" in w for w in run["warnings"]), run["warnings"]
    assert run["phases"][0]["name"] == "improvement"
    assert run["phases"][0]["start_step"] > 1000  # the steps are the file's `steps`
    summary, _ = watched(capsys, path)
    assert (summary["metric"], summary["direction"]) == ("mean", "max")
    assert main(["inspect", str(path), "--format", "json"]) == 0
    performance = json.loads(capsys.readouterr().out)["performance"]
    assert (performance["metric"], performance["direction"]) == ("mean", "max")


def test_a_table_of_other_columns_or_another_name_declares_nothing(capsys, tmp_path):
    """The header and the name are both the evaluator's: a script's own `scores.txt` of other
    columns, or the evaluator's table under another name, is read as any table (no metric
    is guessed from a bare `mean`)."""
    other = _scores(tmp_path, ("steps", "mean", "elapsed"))
    renamed = _scores(tmp_path / "b", name="dqn.tsv")
    for path in (other, renamed):
        assert main(["analyze", str(path)]) == 2
        assert "no performance metric found" in capsys.readouterr().err
