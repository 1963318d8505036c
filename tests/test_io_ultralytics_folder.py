"""An Ultralytics YOLO run folder holds its arguments beside `results.csv` (`args.yaml`;
YOLOv5's train.py: `opt.yaml`): the run's config, and with it the planned epochs that say a run
ended early and that the live monitor judges what is early against."""

from __future__ import annotations

import json

import pytest

from phasewatch.analysis import analyze_run
from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.whole_plan import plan_and_decay
from tests.yolo_columns import DETECT as V8_COLUMNS
from tests.yolo_columns import v5_results

# the first lines of an args.yaml as the trainer writes it (`yaml_save(vars(self.args))`)
ARGS = ("task: detect\nmode: train\nmodel: yolov8s.pt\ndata: data.yaml\nepochs: {epochs}\n"
        "time: {time}\npatience: {patience}\nbatch: 8\nimgsz: 640\nsave: true\nsave_period: -1\n"
        "lr0: 0.01\nname: train-6\n")


def v8_run(folder, epochs_logged: int, epochs: int | None = 100, time: str = "null",
           levels: list[float] | None = None, patience: int = 10):
    """A YOLOv8 run folder: `epochs_logged` rows of results.csv (epochs from 1; mAP50-95
    `levels`, by default a rise to epoch 10 with a small wobble), and an args.yaml planning
    `epochs` (none: no args.yaml) with `patience`."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [",".join(V8_COLUMNS)]
    levels = levels or [0.5 * min(e, 10) / 10 + 0.002 * (e % 3) for e in range(1, epochs_logged + 1)]
    for epoch, level in zip(range(1, epochs_logged + 1), levels):
        rows.append(",".join(str(v) for v in (
            epoch, 10.0 * epoch, 1.2 - 0.02 * epoch, 1.1, 1.1, 0.8, 0.7, level + 0.2, level,
            1.3, 1.2, 1.2, 0.001, 0.001, 0.001)))
    (folder / "results.csv").write_text("\n".join(rows) + "\n")
    if epochs is not None:
        (folder / "args.yaml").write_text(ARGS.format(epochs=epochs, time=time,
                                                      patience=patience))
    return folder / "results.csv"


def test_args_yaml_is_the_runs_config_and_its_epochs_the_plan(tmp_path):
    path = v8_run(tmp_path / "runs" / "detect" / "train", epochs_logged=18, epochs=100)
    run = read_run(path)
    assert run.config["epochs"] == 100 and run.config["lr0"] == 0.01
    assert plan_and_decay(run) == (100, None)  # epochs counted from 1: the last is epoch 100
    warnings = analyze_run(run).warnings
    assert any("the log ends at epoch 18, before the epoch 100 its run plans" in w
               for w in warnings), warnings


def test_a_run_that_reached_its_epochs_is_not_said_to_end_early(tmp_path):
    analysis = analyze_run(read_run(v8_run(tmp_path / "train", epochs_logged=30, epochs=30)))
    assert not any("before the epoch" in w for w in analysis.warnings), analysis.warnings


def test_a_time_budget_makes_epochs_no_plan(tmp_path, capsys):
    """`time` (hours) overrides `epochs`: the trainer recomputes them after its first epoch
    and the file keeps the number it started with. `epochs` was dropped from the run's config
    unsaid; it is shown as args.yaml says, and a warning says the budget may end the run
    before it."""
    path = v8_run(tmp_path / "train", epochs_logged=18, epochs=100, time="0.5")
    run = read_run(path)
    assert run.config["time"] == 0.5 and run.config["epochs"] == 100
    assert plan_and_decay(run) == (None, None)
    said = ("args.yaml sets `epochs: 100` and a training-time budget, `time: 0.5` (hours), "
            "which may end the run first")
    assert sum(said in w for w in run.warnings) == 1, run.warnings
    assert main(["inspect", str(path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["epochs"] == 100 and shown["planned_steps"] is None
    assert any(said in w for w in shown["warnings"])
    assert not any("before the epoch" in w for w in analyze_run(run).warnings)
    whole = read_run(v8_run(tmp_path / "whole", epochs_logged=100, epochs=100, time="0.5"))
    assert not any("before the epoch" in w for w in analyze_run(whole).warnings)


def test_yolov5_opt_yaml_plans_epochs_from_0(tmp_path):
    folder = tmp_path / "exp"
    v5_results(folder, [0.55 * min(epoch, 20) / 20 for epoch in range(40)])
    (folder / "opt.yaml").write_text("weights: yolov5s.pt\ncfg: ''\nhyp:\n  lr0: 0.01\n"
                                     "  momentum: 0.937\nepochs: 300\nbatch_size: 16\n")
    run = read_run(folder)
    assert run.config["hyp"] == {"lr0": 0.01, "momentum": 0.937}
    assert plan_and_decay(run) == (299, None)  # range(300): the last epoch is 299


def test_watch_names_the_plan_from_args_yaml(tmp_path, capsys):
    path = v8_run(tmp_path / "train", epochs_logged=18, epochs=100)
    code = main(["watch", str(path), "--format", "jsonl"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "from the run's config `epochs` 100" in err, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["planned"]["steps"] == 100, summary


@pytest.mark.parametrize("text", ["epochs: [", "- a list\n- not a mapping\n"])
def test_an_unreadable_args_yaml_leaves_the_run_without_a_plan(tmp_path, text):
    path = v8_run(tmp_path / "train", epochs_logged=18, epochs=None)
    (tmp_path / "train" / "args.yaml").write_text(text)
    assert plan_and_decay(read_run(path)) == (None, None)


def _ends_early(run) -> str:
    """What the run's reader (an early stop it read) or `analyze` (a log short of its plan)
    says of its early end."""
    return next(w for w in [*run.warnings, *analyze_run(run).warnings]
                if w.startswith(("the log ends at", "the trainer's early stopping")))


def test_a_run_ended_by_its_trainers_early_stopping_is_said_so(tmp_path):
    """Ultralytics' EarlyStopping stops once `patience` epochs pass without a higher fitness
    (0.1 mAP50 + 0.9 mAP50-95): a log ending 5 epochs after its best, with patience 5, was
    stopped by it, not by a crash."""
    levels = [0.1 * e for e in range(1, 11)] + [0.95, 0.96, 0.97, 0.98, 0.99]  # best: epoch 10
    note = _ends_early(read_run(v8_run(tmp_path / "a", 15, epochs=50, levels=levels,
                                       patience=5)))
    assert note == "the trainer's early stopping ended the run at epoch 15, before the epoch " \
           "50 it plans (patience 5 in args.yaml: no higher Ultralytics' fitness, 0.1 mAP50 + " \
           "0.9 mAP50-95, in the 5 epochs after epoch 10)", note
    # one epoch short of the patience: not the early stopping's doing (a crash, a kill)
    note = _ends_early(read_run(v8_run(tmp_path / "b", 14, epochs=50, levels=levels[:14],
                                       patience=5)))
    assert "stopped early (an early-stopping callback, a crash)" in note, note


def test_equal_best_fitnesses_either_one_can_be_the_early_stoppings(tmp_path):
    """Ultralytics keeps the first of equal best fitnesses (`>`), YOLOv5 and early
    Ultralytics releases the last (`>=`): a patience counted from either is the stopper's."""
    levels = [0.1 * e for e in range(1, 11)] + [0.5, 1.0] + [0.5] * 5  # 10 and 12 tie
    for last, best in ((15, 10), (17, 12)):
        run = read_run(v8_run(tmp_path / str(last), last, epochs=50, levels=levels[:last],
                              patience=5))
        assert f"in the 5 epochs after epoch {best})" in _ends_early(run)


def test_a_followed_results_csv_ends_at_its_last_planned_epoch(tmp_path):
    """The row of the last epoch args.yaml plans is the run's end (the trainer's final epoch):
    `watch --follow` ends there, "finished", with the alerts a replay of the file gives, where
    it waited for --idle-exit; a run short of its plan is not finished."""
    from watch_follower import Follower, replay

    path = v8_run(tmp_path / "train", epochs_logged=30, epochs=30)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:21]))  # the header and 20 epochs
    follower = Follower(path, stop_on=(), idle_exit=15.0)
    follower.wait_for_message("caught up")
    with open(path, "a", encoding="utf-8") as fh:
        fh.writelines(lines[21:])
    followed = follower.ends_by_itself()
    replayed, result = replay(path, stop_on=())
    assert followed == replayed
    ours = follower.watch.result
    assert (ours.reason, ours.last_step) == ("finished", 30)
    assert ours.to_dict() == result.to_dict()
    assert read_run(path).finished
    assert not read_run(v8_run(tmp_path / "short", epochs_logged=18, epochs=30)).finished


def test_the_row_the_early_stopping_stops_at_is_the_runs_end(tmp_path):
    """Row by row, as a follow reads them: the row `patience` epochs after the highest
    fitness ends the run (finished), where every fitness the trainer may have used says so
    and the highest has no tie; never a row before it."""
    levels = [0.1 * e for e in range(1, 11)] + [0.95, 0.96, 0.97, 0.98, 0.99]  # best: epoch 10
    path = v8_run(tmp_path / "a", 15, epochs=50, levels=levels, patience=5)
    assert read_run(path).finished
    for upto in range(1, 15):  # the same run read before its last row
        early = v8_run(tmp_path / f"upto{upto}", upto, epochs=50, levels=levels[:upto],
                       patience=5)
        assert not read_run(early).finished, upto
    # a tie at the highest: the releases keep the first or the last, so the end is unknown
    tied = [0.1 * e for e in range(1, 11)] + [0.5, 1.0] + [0.5] * 3
    assert not read_run(v8_run(tmp_path / "tie", 15, epochs=50, levels=tied,
                               patience=5)).finished
    # an args.yaml of a release that may weigh fitness either way (it holds `compile`): the
    # two fitnesses must both stop there; here mAP50 alone peaks later, so the 0.9/0.1 one
    # and the mAP50-95 one still agree (mAP50 is mAP50-95 + 0.2)
    dated = v8_run(tmp_path / "dated", 15, epochs=50, levels=levels, patience=5)
    (dated.parent / "args.yaml").write_text(ARGS.format(epochs=50, time="null", patience=5)
                                            + "compile: false\n")
    assert read_run(dated).finished


def test_yolov5s_validation_of_best_pt_after_training_is_not_the_last_epoch(tmp_path):
    """YOLOv5's train.py, on COCO, validates best.pt after its epochs and logs the results as
    a second row of the last epoch: read as that epoch's (the later row of a step wins), the
    best epoch's mAP ended a falling curve. It is left out and said; the last epoch keeps its
    own row."""
    levels = [0.5 * min(e, 20) / 20 - (0.01 * (e - 20) if e > 20 else 0) for e in range(30)]
    best = (29, 0.031, 0.035, 0, 0.9, 0.9, 0.9, 0.5, 0.04, 0.04, 0, 0.001, 0.001, 0.001)
    run = read_run(v5_results(tmp_path / "exp", levels, [best]))  # best.pt (epoch 20) again
    assert run.series("metrics/mAP_0.5:0.95").iloc[-1] == pytest.approx(0.41)
    assert any("line 32: a second row of epoch 29 is YOLOv5's validation of weights/best.pt"
               in w for w in run.warnings), run.warnings
    assert [p.name for p in analyze_run(run).phases] == ["improvement", "overfit"]
