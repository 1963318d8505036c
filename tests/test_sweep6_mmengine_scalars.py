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


def _scalars(epochs: int, by_epoch: bool = True) -> str:
    """An mmpretrain run's scalars.json: one training row an epoch (its log interval is longer
    than the epoch), then the validation row, as mmengine's LocalVisBackend writes them."""
    lines = []
    for epoch in range(1, epochs + 1):
        it = epoch * ITERS_PER_EPOCH
        lines.append({"lr": 0.02, "data_time": 0.004, "loss": 1.7 * math.exp(-epoch / 8) + 0.05,
                      "time": 0.12, "epoch": epoch, "iter": it, "memory": 3060, "step": it})
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
