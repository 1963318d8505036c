"""A W&B run that logs its own step counter as a value (`phasewatch.io.wandb_counter`).

nanoGPT calls `wandb.log({"iter": iter_num, "train/loss": ..., "val/loss": ...})` without
`step=` and without `define_metric`: W&B's `_step` counts the calls (0, 1, 2, ...) while the
run's iterations are 0, 250, 500, ... (wandb-nanogpt-valloss-21 said "recommended stop: step 7"
where its console and CSV say iteration 1750). The runs here are written by the real wandb SDK.
"""

from __future__ import annotations

import json
import math
import textwrap

from wandb_offline import offline_run

from phasewatch.cli import main
from phasewatch.io import read_run

NANOGPT_SCRIPT = textwrap.dedent(
    """
    import math, sys, wandb
    run = wandb.init(mode="offline", dir=sys.argv[1], project="p", name="nanogpt",
                     settings=wandb.Settings(console="off"))
    for k in range(21):  # an evaluation every 250 iterations, as nanoGPT's eval_interval
        val = 2.1 + 4.0 * math.exp(-k / 1.2) + 0.03 * max(k - 7, 0)
        run.log({"iter": 250 * k, "train/loss": 6.0 * math.exp(-k / 5), "val/loss": val,
                 "lr": 1e-3})
        if k % 5 == 4:  # a sample's score logged by a call of its own, without the counter
            run.log({"sample/score": 0.1 * k})
    run.finish()
    """
)


def _val_loss(k: int) -> float:
    return 2.1 + 4.0 * math.exp(-k / 1.2) + 0.03 * max(k - 7, 0)


def test_the_runs_own_counter_is_the_step_axis(tmp_path, capsys):
    folder = offline_run(NANOGPT_SCRIPT, tmp_path, timeout=90)
    run = read_run(folder)
    assert run.series("val/loss").index.tolist() == [250 * k for k in range(21)]
    assert run.series("val/loss")[1750] == _val_loss(7)
    # a row without the counter is at the counter's last value, as W&B's step_sync places it
    assert run.series("sample/score").index.tolist() == [1000, 2250, 3500, 4750]
    assert "iter" not in run.metrics  # the step, no metric
    [note] = [w for w in run.warnings if "own counter" in w]
    assert "'iter'" in note and "(0-24 here)" in note  # 21 rows and 4 of the sample's

    assert main(["analyze", str(folder), "--metric", "val/loss", "--format", "json"]) == 0
    analysis = json.loads(capsys.readouterr().out)["runs"][0]
    best = min(range(21), key=_val_loss)
    assert analysis["recommended_stop_step"] == 250 * best  # not W&B's row number, `best`
    # the counter is decided on the first row, so a replay as if live reads the same steps
    assert main(["watch", str(folder), "--metric", "val/loss", "--format", "jsonl"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["event"] == "summary" and summary["best_step"] == 250 * best


KERAS_SCRIPT = textwrap.dedent(
    """
    import sys, wandb
    run = wandb.init(mode="offline", dir=sys.argv[1], project="p", name="keras",
                     settings=wandb.Settings(console="off"))
    for epoch in range(1, 7):
        run.log({"epoch": epoch, "loss": 1.0 / epoch, "val_loss": 1.2 / epoch})
    for i in range(4):  # a counter that the first row does not carry is no axis
        run.log({"step": 100 + i, "late": float(i)})
    run.finish()
    """
)


def test_an_epoch_or_a_late_counter_leaves_wandbs_step(tmp_path):
    """`epoch` loses to `_step` (as in a CSV export of the run), and a counter the first row
    does not carry is a value: the steps stay W&B's, as before."""
    run = read_run(offline_run(KERAS_SCRIPT, tmp_path, timeout=90))
    assert run.series("val_loss").index.tolist() == [0, 1, 2, 3, 4, 5]
    assert run.series("epoch").tolist() == [1, 2, 3, 4, 5, 6]
    assert run.series("late").index.tolist() == [6, 7, 8, 9]
    assert not [w for w in run.warnings if "own counter" in w]


def test_wandb_history_jsonl_follows_the_same_rule(tmp_path):
    """The `wandb-history.jsonl` of a wandb < 0.10 run folder, the same rows."""
    path = tmp_path / "wandb-history.jsonl"
    rows = [{"iter": 250 * k, "val/loss": _val_loss(k), "_step": k, "_runtime": 1.0 + k,
             "_timestamp": 1.6e9 + k} for k in range(21)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    run = read_run(path)
    assert run.format == "wandb_history"
    assert run.series("val/loss").index.tolist() == [250 * k for k in range(21)]
    assert run.metrics == ["val/loss"]
    assert any("own counter 'iter'" in w for w in run.warnings)


EPOCHS_SCRIPT = textwrap.dedent(
    """
    import sys, wandb
    run = wandb.init(mode="offline", dir=sys.argv[1], project="p", name="epochs",
                     settings=wandb.Settings(console="off"))
    for epoch in range(3):  # `iteration` starts again at 0 in each epoch
        for i in range(0, 100, 10):
            run.log({"iteration": i, "train/loss": 1.0 / (1 + 10 * epoch + i / 10)})
        run.log({"iteration": 90, "val/acc": [0.5, 0.7, 0.6][epoch]})
    for i in (50, 60):  # then a rollback to a checkpoint mid-pass: a restart, as before
        run.log({"iteration": i, "train/loss": 0.01 * i})
    run.finish()
    """
)


def test_a_counter_that_starts_again_each_epoch_is_counted_on(tmp_path, capsys):
    """`iteration` 0-90 in each of three epochs while `_step` rises: every pass is kept, the
    passes counted on (0-90, 100-190, 200-290), not read as two restarts that keep the last
    epoch only; a counter going back mid-pass is still a restart, and the last pass's
    evaluation at 290, logged before it went back to 250, is the abandoned branch's."""
    folder = offline_run(EPOCHS_SCRIPT, tmp_path, timeout=90)
    run = read_run(folder)
    assert run.series("val/acc").to_dict() == {90: 0.5, 190: 0.7}
    loss = run.series("train/loss")
    assert loss.index.tolist() == list(range(0, 250, 10)) + [250, 260]  # 260-290 superseded
    assert loss[100] == 1.0 / 11 and loss[250] == 0.5
    [note] = [w for w in run.warnings if "own counter" in w]
    assert "'iteration' started again 2 times" in note and "from 90 to 0" in note
    assert not [w for w in run.warnings if "went back from 90" in w]
    assert [w for w in run.warnings if "went back from 290 to 250" in w]

    assert main(["analyze", str(folder), "--metric", "val/acc", "--format", "json"]) == 0
    analysis = json.loads(capsys.readouterr().out)["runs"][0]
    assert main(["watch", str(folder), "--metric", "val/acc", "--format", "jsonl"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert analysis["recommended_stop_step"] == summary["best_step"] == 190


def test_wandbs_csv_export_counts_the_passes_on_alike(tmp_path):
    """W&B's "Export CSV" of that run (`_step` beside `iteration`) reads the same steps."""
    rows = []
    for epoch in range(3):
        rows += [(i, f"{1.0 / (1 + 10 * epoch + i / 10)!r}", "") for i in range(0, 100, 10)]
        rows.append((90, "", [0.5, 0.7, 0.6][epoch]))
    rows += [(50, "0.5", ""), (60, "0.6", "")]
    path = tmp_path / "export.csv"
    path.write_text("_step,iteration,train/loss,val/acc\n" + "".join(
        f"{k},{i},{loss},{acc}\n" for k, (i, loss, acc) in enumerate(rows)))
    run = read_run(path)
    assert run.series("val/acc").to_dict() == {90: 0.5, 190: 0.7}
    assert run.series("train/loss").index.tolist() == list(range(0, 250, 10)) + [250, 260]
    [note] = [w for w in run.warnings if w.startswith("'iteration' started again 2 times")]
    assert "from 90 to 0" in note
