"""fairseq-train's console: `train_inner` lines every `--log-interval` updates, a validation
line and an epoch line after each epoch. kv_console read it by its `epoch N` token: every
`train_inner` line of an epoch at one step (the later kept, with a warning), and the validation
(`valid on 'valid' subset | loss 12.677 | ... | bleu 29.52`) lost silently."""

from __future__ import annotations

import json

import pytest
from _files import write

from phasewatch.api import analyze
from phasewatch.io import read_run

PREFIX = "2023-06-13 17:31:08 | INFO | "
PER_EPOCH = 282


def valid_loss(epoch: int) -> float:
    return 6.0 - 2.0 * epoch / (epoch + 2)


def simple_log(epochs: int = 6) -> str:
    lines = [PREFIX + "fairseq_cli.train | training on 8 devices (GPUs/TPUs)"]
    for epoch in range(1, epochs + 1):
        lines.append(PREFIX + f"fairseq.trainer | begin training epoch {epoch}")
        for update in range(100 * ((epoch - 1) * PER_EPOCH // 100 + 1), epoch * PER_EPOCH, 100):
            within = update - (epoch - 1) * PER_EPOCH
            lines.append(PREFIX + f"train_inner | epoch {epoch:03d}:    {within} / {PER_EPOCH} "
                         f"loss={9.0 / (1 + update / 300):.3f}, nll_loss=1.2, ppl=8.86, "
                         f"wps=72384.3, ups=1.21, wpb=59997.9, bsz=2186.3, num_updates={update}, "
                         f"lr=0.000157917, gnorm=0.489, clip=0, loss_scale=32768, train_wall=48, "
                         f"wall=0")
        done = epoch * PER_EPOCH
        lines.append(PREFIX + "fairseq_cli.train | begin validation on \"valid\" subset")
        lines.append(PREFIX + f"valid | epoch {epoch:03d} | valid on 'valid' subset | loss "
                     f"{valid_loss(epoch):.3f} | nll_loss 11.5 | ppl 6550.94 | bleu {20 + epoch}.5"
                     f" | wps 88225 | wpb 21176.3 | bsz 666.3 | num_updates {done} | best_bleu 30")
        lines.append(PREFIX + f"train | epoch {epoch:03d} | loss {9.0 / (1 + done / 300):.3f} | "
                     f"nll_loss 1.23 | ppl 8.82 | wps 106814 | num_updates {done} | lr 0.0001575")
    return "\n".join(lines) + "\n"


def json_log(epochs: int = 6) -> str:
    lines = []
    for epoch in range(1, epochs + 1):
        done = epoch * PER_EPOCH
        for update in (done - 182, done - 82):
            lines.append(PREFIX + "train_inner | " + json.dumps(
                {"epoch": epoch, "update": round(update / PER_EPOCH, 3), "loss": "3.1",
                 "num_updates": str(update), "lr": "0.0005", "wps": "3000"}))
        lines.append(PREFIX + "valid | " + json.dumps(
            {"epoch": epoch, "valid_loss": f"{valid_loss(epoch):.3f}", "valid_bleu": "20.1",
             "valid_wps": "88225", "valid_num_updates": str(done), "valid_best_loss": "4.1"}))
    return "\n".join(lines) + "\n"


def test_the_step_is_num_updates_and_the_validation_is_read(tmp_path):
    path = write(tmp_path, simple_log())
    run = read_run(path)
    steps = run.series("loss").index.tolist()
    assert steps == sorted(set(steps)) and len(steps) == len(range(100, 6 * PER_EPOCH, 100))
    assert run.series("valid_loss").index.tolist() == [e * PER_EPOCH for e in range(1, 7)]
    assert run.series("valid_loss").tolist() == pytest.approx(
        [valid_loss(e) for e in range(1, 7)], abs=1e-3)
    assert run.series("valid_bleu").tolist() == [21.5, 22.5, 23.5, 24.5, 25.5, 26.5]
    # throughput, the step itself and the best so far are no series
    assert not {"wps", "ups", "bsz", "wall", "num_updates", "valid_best_bleu", "valid_wps",
                "train_wps"} & set(run.metrics)
    assert {"train_loss", "lr", "gnorm"} <= set(run.metrics)
    assert analyze(path).metric.startswith("valid_")  # a held-out series, not the train loss


def test_the_json_log_format_reads_alike(tmp_path):
    run = read_run(write(tmp_path, json_log()))
    assert sorted(run.metrics) == ["loss", "lr", "valid_bleu", "valid_loss"]
    assert run.series("valid_loss").index.tolist() == [e * PER_EPOCH for e in range(1, 7)]


def test_fairseq_before_0_10_without_the_logging_prefix(tmp_path):
    text = simple_log().replace(PREFIX + "train_inner | ", "| ").replace(
        PREFIX + "valid | ", "| ").replace(PREFIX + "train | ", "| ")
    run = read_run(write(tmp_path, text))
    assert run.series("valid_loss").index.tolist() == [e * PER_EPOCH for e in range(1, 7)]
    assert len(run.series("loss")) == len(range(100, 6 * PER_EPOCH, 100))
