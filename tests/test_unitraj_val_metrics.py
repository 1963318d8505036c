"""A trajectory forecaster's validation errors (UniTraj, written by TensorBoard's SummaryWriter as
its Lightning loggers write them): `val/minADE6`, `val/minFDE6`, `val/miss_rate`,
`val/brier_fde` had no role, and analyze without --metric took the train loss beside them. Each
is now a held-out score, lower is better, the Brier-weighted final displacement error taken
first (Argoverse 2's ranking metric); `watch` takes the same."""

from __future__ import annotations

import math

import pytest
from cli_json import analyzed, watched

from phasewatch.cli import main
from phasewatch.heldout_names import held_out_match

pytest.importorskip("tensorboard")
SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter

ERRORS = ("val/minADE6", "val/minFDE6", "val/miss_rate", "val/brier_fde")


def write_run(folder, names=ERRORS):
    """30 epochs of 100 steps: a train loss every 20 steps, the validation errors at each
    epoch's end, falling as a forecaster's do (metres, a rate)."""
    writer = SummaryWriter(str(folder))
    for step in range(0, 3000, 20):
        writer.add_scalar("train/loss", 3 * math.exp(-step / 1000) + 0.5, step)
    for epoch in range(30):
        ade = 6 * math.exp(-epoch / 8) + 2.4 + 0.02 * math.sin(epoch)
        values = {"val/minADE6": ade, "val/minFDE6": 2 * ade,
                  "val/miss_rate": 0.6 * math.exp(-epoch / 10) + 0.1, "val/brier_fde": 2 * ade + 0.5}
        for name in names:
            writer.add_scalar(name, values[name], epoch * 100 + 99)
    writer.close()
    return folder


def test_each_error_is_a_held_out_score_lower_is_better(tmp_path, capsys):
    folder = write_run(tmp_path / "run")
    assert main(["inspect", str(folder)]) == 0
    out = capsys.readouterr().out
    # (the role column names the metric that takes the role; the others rank after it)
    assert "performance metric: val/brier_fde (lower is better)" in out
    for name in ERRORS:
        assert held_out_match(name)[0] == "eval/other_score", name
        assert analyzed(capsys, folder, "--metric", name)["direction"] == "min"


def test_analyze_and_watch_take_one_without_metric(tmp_path, capsys):
    folder = write_run(tmp_path / "run")
    run = analyzed(capsys, folder)
    assert (run["metric"], run["direction"]) == ("val/brier_fde", "min")
    assert any("val/minADE6" in w and "--metric" in w for w in run["warnings"])
    summary, _ = watched(capsys, folder)
    assert summary["metric"] == "val/brier_fde"
    # without the Brier score, another of them (`val/miss_rate`: a name spelt with capitals,
    # `val/minADE6`, ranks after one without), not the train loss
    without = analyzed(capsys, write_run(tmp_path / "no_brier", ERRORS[:3]))
    assert without["metric"] in ERRORS[:3] and without["direction"] == "min"


@pytest.mark.parametrize("name,direction,score", [
    ("val/MR6", "min", True), ("val/mr@6", "min", True), ("val_MR_6", "min", True),
    # SimCSE logs SentEval's transfer accuracies by task: `eval_MR` is the accuracy on movie
    # reviews (MR), higher is better; a miss rate is said with its K, `MR6`
    ("eval_MR", "max", False), ("eval/MR", "max", False), ("mr_accuracy", "max", False),
])
def test_the_miss_rate_is_told_by_its_k(name, direction, score):
    from phasewatch.presets import aliases_for, default_direction

    assert default_direction(name) == direction
    assert (aliases_for([name]).get("eval/other_score") == name) is score
