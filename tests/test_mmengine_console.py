"""OpenMMLab's text log (mmengine's `Epoch(train) [E][I/N]  lr: ...  loss: ...` and `Epoch(val)
[E][N/N]  coco/bbox_mAP: ...` lines, mmcv 1.x's `Epoch [E][I/N]\tlr: ..., loss: ...`) was an
unknown log format: only its `vis_data/scalars.json` was read."""

from __future__ import annotations

import json
from functools import partial

import pytest
from _files import write as _write_log

from phasewatch.api import analyze
from phasewatch.io import read_run

PREFIX = "01/08 08:56:43 - mmengine - INFO - "
PER_EPOCH = 391


def mAP(epoch: int) -> float:
    return round(0.4 * epoch / (epoch + 2), 4)


def loss(step: int) -> float:
    return round(2.0 / (1 + step / 200), 4)


def text_log(epochs: int = 6) -> str:
    lines = [PREFIX + "Checkpoints will be saved to /work_dirs/retinanet."]
    for epoch in range(1, epochs + 1):
        for i in (50, 100, 150, 200, 250, 300, 350):
            step = (epoch - 1) * PER_EPOCH + i
            lines.append(PREFIX + f"Epoch(train)  [{epoch}][{i:3d}/{PER_EPOCH}]  lr: 1.0000e-02  "
                         f"eta: 1 day, 0:12:31  time: 0.4082  data_time: 0.1034  memory: 1841  "
                         f"grad_norm: 3.1000  loss: {loss(step)}  recall@thr=0.5: 0.3333  "
                         "loss_cls: 0.4100")
        lines.append(PREFIX + f"Saving checkpoint at {epoch} epochs")
        lines.append(PREFIX + f"Epoch(val)  [{epoch}][ 50/500]    eta: 0:00:10  time: 0.0260  "
                     "data_time: 0.0010  memory: 410")
        lines.append(PREFIX + f"Epoch(val) [{epoch}][500/500]    coco/bbox_mAP: {mAP(epoch)}  "
                     f"coco/bbox_mAP_50: 0.6000  data_time: 0.0084  time: 0.0263")
    return "\n".join(lines) + "\n"


def scalars_json(epochs: int = 6) -> str:
    rows = []
    for epoch in range(1, epochs + 1):
        for i in (50, 100, 150, 200, 250, 300, 350):
            step = (epoch - 1) * PER_EPOCH + i
            rows.append({"lr": 0.01, "data_time": 0.1034, "grad_norm": 3.1, "loss": loss(step),
                         "loss_cls": 0.41, "recall@thr=0.5": 0.3333, "time": 0.4082,
                         "epoch": epoch, "iter": step,
                         "memory": 1841, "step": step})
        rows.append({"coco/bbox_mAP": mAP(epoch), "coco/bbox_mAP_50": 0.6, "data_time": 0.0084,
                     "time": 0.0263, "step": epoch})
    return "\n".join(json.dumps(row) for row in rows) + "\n"


write = partial(_write_log, name="20240108_085528.log")


def test_the_text_log_reads_as_its_scalars_json(tmp_path):
    run = read_run(write(tmp_path, text_log()))
    twin = read_run(write(tmp_path, scalars_json(), name="scalars.json"))
    assert run.format == "mmengine_console" and twin.format == "mmengine"
    assert sorted(run.metrics) == sorted(twin.metrics)
    for name in twin.metrics:
        assert run.series(name).index.tolist() == twin.series(name).index.tolist(), name
        assert run.series(name).tolist() == pytest.approx(twin.series(name).tolist()), name
    # each epoch's validation at the last training step before it, not at step 1, 2, ...
    assert run.series("coco/bbox_mAP").index.tolist() == [
        (e - 1) * PER_EPOCH + 350 for e in range(1, 7)]
    assert analyze(write(tmp_path, text_log(), name="b.log")).metric == "coco/bbox_mAP"


def test_an_iteration_based_loop(tmp_path):
    lines = []
    for it in range(50, 1001, 50):
        lines.append(PREFIX + f"Iter(train) [{it:4d}/1000]  lr: 1.0e-02  eta: 0:10:00  time: 0.3"
                     f"  data_time: 0.01  memory: 3000  loss: {loss(it)}  decode.loss_ce: 0.3")
        if it % 250 == 0:
            lines.append(PREFIX + f"Iter(val) [500/500]    aAcc: 90.1  mIoU: {it / 50:.2f}  "
                         "mAcc: 60.0  data_time: 0.002  time: 0.05")
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert run.series("mIoU").index.tolist() == [250, 500, 750, 1000]
    assert run.series("loss").index.tolist() == list(range(50, 1001, 50))


def test_mmcv_1x_lines(tmp_path):
    prefix = "2021-10-30 06:18:30,618 - mmdet - INFO - "
    lines = []
    for epoch in range(1, 5):
        for i in (50, 100):
            lines.append(prefix + f"Epoch [{epoch}][{i}/120]\tlr: 1.000e-02, eta: 1 day, 2:00:00, "
                         f"time: 0.512, data_time: 0.051, memory: 3000, loss_cls: 0.61, "
                         f"loss: {loss(epoch * 120 + i)}")
        lines.append(prefix + f"Epoch(val) [{epoch}][500]\tbbox_mAP: {mAP(epoch)}, bbox_mAP_50: "
                     "0.2850, bbox_mAP_copypaste: 0.105 -1.000 0.285 0.244 0.194 0.143")
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert run.series("bbox_mAP").index.tolist() == [(e - 1) * 120 + 100 for e in range(1, 5)]
    assert "bbox_mAP_copypaste" not in run.metrics and "eta" not in run.metrics
