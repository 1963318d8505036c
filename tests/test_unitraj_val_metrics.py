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


def write_qcnet_csv(root):
    """QCNet's Lightning CSVLogger file: a train loss, then each epoch's `val_minADE`,
    `val_minFDE`, `val_Brier` and its bare `val_MR`, falling to epoch 18, rising after it."""
    CSVLogger = pytest.importorskip("lightning.pytorch.loggers").CSVLogger
    logger = CSVLogger(str(root), name="qcnet", version=0)
    for epoch in range(30):
        rise = max(epoch - 18, 0)
        ade = 3 * math.exp(-epoch / 8) + 0.7 + 0.04 * rise + 0.01 * math.sin(epoch)
        miss = 0.5 * math.exp(-epoch / 8) + 0.1 + 0.01 * rise + 0.002 * math.sin(3 * epoch)
        logger.log_metrics({"train_reg_loss": 3 * math.exp(-epoch / 8) + 0.5}, step=epoch * 100 + 49)
        logger.log_metrics({"val_Brier": 2 * ade + 0.5, "val_minADE": ade, "val_minFDE": 2 * ade,
                            "val_MR": miss, "epoch": epoch}, step=epoch * 100 + 99)
    logger.finalize("success")
    return root / "qcnet" / "version_0" / "metrics.csv"


def write_simcse_csv(root):
    """SimCSE's SentEval transfer accuracies by task (`eval_MR` is its movie reviews), rising."""
    CSVLogger = pytest.importorskip("lightning.pytorch.loggers").CSVLogger
    logger = CSVLogger(str(root), name="simcse", version=0)
    for epoch in range(30):
        acc = 80 + 5 * (1 - math.exp(-epoch / 6)) + 0.05 * math.sin(epoch)
        logger.log_metrics({"eval_MR": acc, "eval_CR": acc + 2, "eval_SUBJ": acc + 10,
                            "eval_MPQA": acc + 5, "eval_SST2": acc + 1, "eval_TREC": acc,
                            "eval_MRPC": acc - 10, "eval_stsb_spearman": acc / 100},
                           step=(epoch + 1) * 125)
    logger.finalize("success")
    return root / "simcse" / "version_0" / "metrics.csv"


def test_a_bare_miss_rate_beside_its_displacement_errors_is_lower_is_better(tmp_path, capsys):
    """QCNet's `val_MR` was read as higher-is-better: its first, worst epoch was kept."""
    run = analyzed(capsys, write_qcnet_csv(tmp_path), "--metric", "val_MR")
    assert (run["direction"], run["recommended_stop_step"]) == ("min", 1899)
    assert any("val_MR: lower is taken to be better, as a trajectory forecaster's miss rate" in w
               for w in run["warnings"])
    summary, _ = watched(capsys, tmp_path / "qcnet" / "version_0" / "metrics.csv",
                         "--metric", "val_MR")
    assert summary["direction"] == "min"
    # the same names in TensorBoard
    writer = SummaryWriter(str(tmp_path / "tb"))
    for epoch in range(6):
        for name, value in {"val_minADE": 3 - epoch / 10, "val_MR": 0.5 - epoch / 50}.items():
            writer.add_scalar(name, value, epoch)
    writer.close()
    assert analyzed(capsys, tmp_path / "tb", "--metric", "val_MR")["direction"] == "min"


def test_senteval_movie_reviews_stay_an_accuracy(tmp_path, capsys):
    run = analyzed(capsys, write_simcse_csv(tmp_path), "--metric", "eval_MR")
    assert run["direction"] == "max"


@pytest.mark.parametrize("name,names,beside", [
    ("val_MR", ["val_minADE"], "val_minADE"), ("MR/val", ["minFDE/val"], "minFDE/val"),
    ("val_MR", ["val_brier_fde"], "val_brier_fde"), ("val_mr", ["val_b_minFDE"], "val_b_minFDE"),
    # another split's, or a name that is no displacement error, says nothing of it
    ("val_MR", ["train_minADE"], None), ("MR", ["train/minADE"], None), ("val_MR", ["val_min"], None),
    ("eval_MR", ["eval_MRPC", "eval_CR"], None),
    # with its K it is a miss rate by its own name (`MISS_RATE_AT_K`)
    ("val_MR6", ["val_minADE6"], None),
])
def test_the_names_beside_a_bare_miss_rate(name, names, beside):
    from phasewatch.direction_words import miss_rate_beside

    assert miss_rate_beside(name, names) == beside
