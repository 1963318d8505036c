"""`plot --x epoch`: the legend gives the smoothing's width in the axis's unit, as it gives the
stop ("stop (epoch 2.4)"), where it said "Gaussian smooth, sd 6 steps" beside an axis in epochs;
a comparison of runs each placed by its own counter says each run's width in epochs; a run of
a few evaluations says how far apart they are in epochs."""

from __future__ import annotations

import json
import math

import pytest

from phasewatch import plot
from phasewatch.cli import main


def write_run(path, steps_per_epoch: int, every: int = 10, n: int = 40) -> str:
    """An evaluation every `every` steps: an accuracy that rises and falls, with the `epoch`
    the Trainer logs beside it (`steps_per_epoch` steps an epoch)."""
    rows = []
    for k in range(1, n + 1):
        step = k * every
        accuracy = (0.5 + 0.3 * (1 - math.exp(-k / 10)) - 0.004 * max(0, k - 24)
                    + 0.002 * ((k * 7) % 5 - 2))
        rows.append({"step": step, "epoch": step / steps_per_epoch, "eval_accuracy": accuracy})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


@pytest.fixture
def legends(monkeypatch):
    """The texts of the legends (entries and titles) of each figure `plot` saves."""
    drawn: list[list[str]] = []

    def keep(fig, path, dpi=None):
        drawn.append([text.get_text() for legend in fig.legends
                      for text in [*legend.get_texts(), legend.get_title()]])
        return path

    monkeypatch.setattr(plot, "save_figure", keep)
    return drawn


def test_the_smoothing_width_is_in_the_axis_unit(tmp_path, legends):
    run = write_run(tmp_path / "run.jsonl", 100)
    assert main(["plot", run, "-o", str(tmp_path / "steps.png")]) == 0
    assert main(["plot", run, "--x", "epoch", "-o", str(tmp_path / "epochs.png")]) == 0
    steps, epochs = legends
    assert "Gaussian smooth, sd 6 steps" in steps  # 390 steps drawn: 1/60 of them
    assert "Gaussian smooth, sd 0.06 epochs" in epochs and "stop (epoch 2.4)" in epochs
    assert not any("steps" in text for text in epochs)


def test_a_few_evaluations_are_said_apart_in_the_axis_unit(tmp_path, legends):
    run = write_run(tmp_path / "run.jsonl", 100, every=100, n=6)
    assert main(["plot", run, "--x", "epoch", "-o", str(tmp_path / "epochs.png")]) == 0
    [texts] = legends
    assert "evaluations joined by lines (1 epoch apart)" in texts


def test_runs_placed_by_their_own_counters_each_say_their_width(tmp_path, legends):
    fast = write_run(tmp_path / "fast.jsonl", 100)
    slow = write_run(tmp_path / "slow.jsonl", 50)
    assert main(["plot", fast, slow, "--kind", "compare", "--x", "epoch",
                 "-o", str(tmp_path / "compare.png")]) == 0
    [texts] = legends
    title = next(text for text in texts if text.startswith("lines: "))
    # (the legend's title is wrapped to its width)
    assert "Gaussian smooth, sd 0.06 epochs for fast" in title
    assert "Gaussian smooth, sd 0.12 epochs for slow" in title and "steps" not in title
