"""OpenMMLab's CheckpointHook keeps the best checkpoint by `save_best` (with its `rule`): read
from the config mmengine dumps beside its logs, it steers the metric `analyze` and `watch` take,
as a Trainer's `metric_for_best_model` does. An MMPose run logged `coco/AP` and `PCK` and kept its
best checkpoint by PCK, yet `analyze` took `coco/AP`.

The config text is what mmengine 0.10's `Config.dump` writes (checked against it: it is not a
project dependency); `scalars.json` rows as its `LocalVisBackend` writes them (a JSON object and
a line end a call).
"""

from __future__ import annotations

import json
import math

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.live import LiveWatch

ITERS = 12  # training iterations an epoch
CONFIG = """default_hooks = dict(
    checkpoint=dict(
        interval=10,
        max_keep_ckpts=1,
        rule='{rule}',
        save_best='{save_best}',
        type='CheckpointHook'),
    logger=dict(interval=50, type='LoggerHook'),
    timer=dict(type='IterTimerHook'))
train_cfg = dict(by_epoch=True, max_epochs=15, val_interval=1)
work_dir = './work_dirs/ear'
"""


def scalars(epochs=15):
    """An MMPose run's rows: coco/AP climbs to the end, PCK peaks at epoch 6 and falls."""
    rows = []
    for epoch in range(1, epochs + 1):
        it = epoch * ITERS
        rows.append({"lr": 0.0005, "data_time": 0.01, "loss": 0.002 * math.exp(-epoch / 5),
                     "loss_kpt": 0.002, "acc_pose": 0.5, "time": 0.3, "epoch": epoch,
                     "iter": it, "memory": 2000, "step": it})
        ap = 0.6 + 0.1 * (1 - math.exp(-epoch / 4)) + 0.002 * (-1) ** epoch
        pck = 0.90 + 0.05 * min(epoch, 6) / 6 - 0.008 * max(epoch - 6, 0) + 0.001 * (-1) ** epoch
        rows.append({"coco/AP": ap, "coco/AP .5": 1.0, "coco/AR": ap + 0.05, "PCK": pck,
                     "AUC": 0.09, "NME": 0.05, "data_time": 1.6, "time": 1.7, "step": epoch})
    return "".join(json.dumps(row) + "\n" for row in rows)


def run_folder(tmp_path, config="vis_data", save_best="PCK", rule="greater"):
    """work_dir/<timestamp>/vis_data/scalars.json, its config at `config`: "vis_data"
    (LocalVisBackend's `vis_data/config.py`), "work_dir" (the Runner's `<name>.py`) or None."""
    vis = tmp_path / "work_dir" / "20240105_101010" / "vis_data"
    vis.mkdir(parents=True)
    (vis / "scalars.json").write_text(scalars())
    text = CONFIG.format(save_best=save_best, rule=rule)
    if config == "vis_data":
        (vis / "config.py").write_text(text)
    elif config == "work_dir":
        (tmp_path / "work_dir" / "td-hm_hrnet-w32_ear.py").write_text(text)
    return vis / "scalars.json"


def analysed(capsys, path, *options):
    assert main(["analyze", str(path), "--format", "json", *options]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


def test_without_a_config_coco_ap_is_taken(tmp_path, capsys):
    assert analysed(capsys, run_folder(tmp_path, config=None))["metric"] == "coco/AP"


def test_save_best_in_vis_data_config_is_the_metric_analysed(tmp_path, capsys):
    path = run_folder(tmp_path)
    run = read_run(path)
    assert run.config["default_hooks"] == {"checkpoint": {"rule": "greater", "save_best": "PCK"}}
    doc = analysed(capsys, path)
    assert (doc["metric"], doc["direction"]) == ("PCK", "max")
    assert doc["recommended_stop_step"] == 6 * ITERS
    assert any("taking PCK: its CheckpointHook kept the best checkpoint by it "
               "(save_best='PCK', rule='greater' in its config)" in w for w in doc["warnings"])


def test_the_work_dirs_dumped_config_is_read_too(tmp_path, capsys):
    assert analysed(capsys, run_folder(tmp_path, config="work_dir"))["metric"] == "PCK"


def test_the_rule_gives_the_direction(tmp_path, capsys):
    doc = analysed(capsys, run_folder(tmp_path, save_best="NME", rule="less"))
    assert (doc["metric"], doc["direction"]) == ("NME", "min")
    doc = analysed(capsys, run_folder(tmp_path / "b", save_best="AUC", rule="greater"))
    assert (doc["metric"], doc["direction"]) == ("AUC", "max")


def test_a_metric_the_log_lacks_or_auto_leaves_the_default(tmp_path, capsys):
    assert analysed(capsys, run_folder(tmp_path, save_best="auto"))["metric"] == "coco/AP"
    assert analysed(capsys, run_folder(tmp_path / "b", save_best="mAP"))["metric"] == "coco/AP"


def test_watch_takes_it_as_analyze_does(tmp_path):
    watch = LiveWatch(run_folder(tmp_path), notice=lambda m: None, info=lambda m: None,
                      stop_on=())
    list(watch.alerts())
    assert watch.result.metric == "PCK"


def test_the_text_log_reads_the_config_beside_it(tmp_path, capsys):
    path = run_folder(tmp_path)
    log = path.parent.parent / "20240105_101010.log"
    lines = []
    for epoch in range(1, 16):
        lines.append(f"01/05 10:{epoch:02d}:00 - mmengine - INFO - Epoch(train) [{epoch}][{ITERS}/"
                     f"{ITERS}]  lr: 5.0000e-04  eta: 0:00:11  time: 0.3000  data_time: 0.0100  "
                     f"memory: 2000  loss: {0.002 * math.exp(-epoch / 5):.6f}")
        pck = 0.90 + 0.05 * min(epoch, 6) / 6 - 0.008 * max(epoch - 6, 0)
        ap = 0.6 + 0.1 * (1 - math.exp(-epoch / 4))
        lines.append(f"01/05 10:{epoch:02d}:30 - mmengine - INFO - Epoch(val) [{epoch}][3/3]    "
                     f"coco/AP: {ap:.6f}  PCK: {pck:.6f}  data_time: 1.6000  time: 1.7000")
    log.write_text("\n".join(lines) + "\n")
    assert analysed(capsys, log)["metric"] == "PCK"


def test_a_config_that_does_not_parse_is_said_and_the_log_read(tmp_path, capsys):
    path = run_folder(tmp_path, config=None)
    (path.parent / "config.py").write_text("default_hooks = dict(\n    checkpoint=dict(save_best=\n")
    run = read_run(path)
    assert run.series("PCK").size == 15
    assert any("config.py, line" in w and "not read as the run's config" in w
               for w in run.warnings), run.warnings
    assert analysed(capsys, path)["metric"] == "coco/AP"


def test_save_best_under_flattened_keys_as_a_tracker_keeps_the_config(tmp_path, capsys):
    # MLflow's parameters, TensorBoard's hparams: `default_hooks.checkpoint.save_best` flat
    folder = tmp_path / "run"
    folder.mkdir()
    rows = [json.loads(line) for line in scalars().splitlines()]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "run.json").write_text(json.dumps({"name": "run", "config": {
        "default_hooks.checkpoint.save_best": "PCK", "default_hooks.checkpoint.rule": "greater"}}))
    assert analysed(capsys, folder)["metric"] == "PCK"


def test_a_config_too_deep_to_parse_is_said_not_an_internal_error(tmp_path, capsys):
    # any `.py` beside the log is parsed: one nested deeper than the parser goes raised
    # RecursionError, an internal error (exit 70), where a broken config is said
    path = run_folder(tmp_path, config=None)
    (path.parent / "config.py").write_text("x = a" + ".b" * 100_000 + "\n")  # 200 kB: under
    # the size a config is read up to (`mmengine_config.MAX_BYTES`)
    doc = analysed(capsys, path)
    assert doc["metric"] == "coco/AP"
    assert any("config.py: not read as the run's config (RecursionError)" in w
               for w in doc["warnings"]), doc["warnings"]


def test_the_save_best_metric_is_said_once_not_called_a_train_loss_or_a_guess(tmp_path, capsys):
    # PCK's name says no direction and takes no role: the notes called it "its train loss
    # (PCK), which cannot show an overfit" and its direction, the config's rule, a guess
    doc = analysed(capsys, run_folder(tmp_path))
    said = ("taking PCK: its CheckpointHook kept the best checkpoint by it (save_best='PCK', "
            "rule='greater' in its config); pass --metric to judge the run by another")
    assert [w for w in doc["warnings"] if "PCK" in w] == [said]


def test_a_config_past_the_cap_is_passed_over_with_a_note_naming_it(tmp_path, capsys):
    # a `.py` beside the log was parsed whole, whatever its size: a 54 MB one (the hooks, then
    # a list of 6 million numbers) took analyze 97 s and 6.5 GB. Read up to the cap, a file
    # that holds more is no config mmengine dumps: passed over, and said
    cap = 256 << 10  # `mmengine_config.MAX_BYTES`
    path = run_folder(tmp_path)
    config = path.parent / "config.py"
    hooks = config.read_text() + "data = ["
    config.write_text(hooks + "0," * ((cap - len(hooks) - 2) // 2) + "]\n")
    assert cap - 2 <= config.stat().st_size <= cap  # at the cap: read
    assert analysed(capsys, path)["metric"] == "PCK"
    with open(config, "a") as fh:
        fh.write("x = 1\n")
    doc = analysed(capsys, path)
    assert doc["metric"] == "coco/AP"
    assert ("config.py: not read as the run's config (larger than 256 kB: no config mmengine "
            "dumps)") in " | ".join(doc["warnings"])
