"""OpenMMLab's mmengine writes `vis_data/scalars.json`: training rows with the global iteration
as `step` (beside `epoch`, `iter`), validation rows with the *epoch* as `step` (its LoggerHook's
default `log_metric_by_epoch=True`). Read as generic JSON lines, the validation accuracy sat at
steps 1, 2, 3... beside losses at steps 69, 138, 207..., and the step counter "went back" at
every validation (sixth new-user sweep: 2 files of an mmpretrain run)."""

from __future__ import annotations

import json
import math

from phasewatch.cli import main
from phasewatch.io import read_run

ITERS_PER_EPOCH = 69


def _scalars(epochs: int, by_epoch: bool = True, before_0_7_4: bool = False) -> str:
    """An mmpretrain run's scalars.json: one training row an epoch (its log interval is longer
    than the epoch), then the validation row, as mmengine's LocalVisBackend writes them. Before
    mmengine 0.7.4 a training row had no `iter`, and an iteration-based loop's no `epoch`."""
    lines = []
    for epoch in range(1, epochs + 1):
        it = epoch * ITERS_PER_EPOCH
        row = {"lr": 0.02, "data_time": 0.004, "loss": 1.7 * math.exp(-epoch / 8) + 0.05,
               "time": 0.12, "epoch": epoch, "iter": it, "memory": 3060, "step": it}
        if before_0_7_4:
            del row["iter"]
            if not by_epoch:
                del row["epoch"]
        lines.append(row)
        accuracy = 95 - 50 * math.exp(-epoch / 6) + 0.3 * math.sin(epoch)
        lines.append({"accuracy/top1": accuracy, "data_time": 0.09, "time": 0.1,
                      "step": epoch if by_epoch else it})
    return "".join(json.dumps(line) + "\n" for line in lines)


def test_validation_rows_are_put_at_the_training_step_they_followed(tmp_path, capsys):
    log = tmp_path / "vis_data" / "scalars.json"
    log.parent.mkdir()
    log.write_text(_scalars(40))
    run = read_run(log)
    accuracy = run.series("accuracy/top1")
    assert list(accuracy.index) == [e * ITERS_PER_EPOCH for e in range(1, 41)]
    assert list(run.series("loss").index) == list(accuracy.index)
    # the validation timings do not overwrite the training rows' at the shared step
    assert run.series("data_time").iloc[-1] == 0.004 and run.series("val/data_time").iloc[-1] == 0.09
    assert not any("went back" in w for w in run.warnings)
    chosen = ["--metric", "accuracy/top1", "--direction", "max"]
    assert main(["analyze", "--format", "json", *chosen, str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["recommended_stop_step"] % ITERS_PER_EPOCH == 0
    # live, the same reading: the same stop
    assert main(["watch", "--format", "jsonl", *chosen, str(log)]) == 0
    summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()][-1]
    assert summary["best_step"] % ITERS_PER_EPOCH == 0


def test_an_iteration_based_loop_keeps_its_validation_steps(tmp_path):
    log = tmp_path / "scalars.json"
    log.write_text(_scalars(12, by_epoch=False))
    run = read_run(log)
    assert list(run.series("accuracy/top1").index) == [e * ITERS_PER_EPOCH for e in range(1, 13)]
    assert not run.warnings


def test_mmengine_before_0_7_4_without_iter_is_read_alike(tmp_path):
    """mmengine added the global `iter` to a training row in 0.7.4 (6df9621a, June 2023): an
    mmdet 3.0 balloon detector's scalars.json of that month had none, was read as generic JSON
    lines, and each validation row's epoch was 'a run started again' that dropped the records
    after it."""
    log = tmp_path / "scalars.json"
    log.write_text(_scalars(40, before_0_7_4=True))
    run = read_run(log)
    assert run.format == "mmengine"
    assert list(run.series("accuracy/top1").index) == [e * ITERS_PER_EPOCH for e in range(1, 41)]
    assert len(run.series("loss")) == 40 and not any("went back" in w for w in run.warnings)
    assert run.series("data_time").iloc[-1] == 0.004 and run.series("val/data_time").iloc[-1] == 0.09
    # an iteration-based loop of then: training rows with neither `iter` nor `epoch`, told from
    # the validation rows by their learning rate
    log.write_text(_scalars(12, by_epoch=False, before_0_7_4=True))
    run = read_run(log)
    assert run.format == "mmengine" and not run.warnings
    assert list(run.series("accuracy/top1").index) == [e * ITERS_PER_EPOCH for e in range(1, 13)]
    assert run.series("time").iloc[-1] == 0.12 and run.series("val/time").iloc[-1] == 0.1
