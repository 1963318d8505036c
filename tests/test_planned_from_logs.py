"""The planned run length a log states reaches `watch`, which judges "early" against it
(`phasewatch.planned`): verl's banner `Total training steps: N`, the Hugging Face Trainer's
console banner `Num Epochs = E` (its console rows count epochs x 10,000), and a Hugging Face
run set by epochs (`max_steps` -1) whose rows log their epoch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import phasewatch
from phasewatch import read_run
from phasewatch.live import LiveWatch
from phasewatch.planned import PlanSource, epoch_plan, planned_epochs, planned_steps


def inspected_plan(path) -> int | None:
    """`phasewatch inspect --format json`'s planned_steps, from a subprocess as a user runs it."""
    out = subprocess.run([sys.executable, "-m", "phasewatch", "inspect", str(path), "--format",
                          "json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["planned_steps"]


def verl_log(path, banner: bool, steps: int = 30) -> None:
    """A verl console log whose validation accuracy falls from the first step on."""
    rng = np.random.default_rng(0)
    lines = ["(TaskRunner pid=7) Training from scratch"]
    if banner:
        lines.append(f"(TaskRunner pid=7) Total training steps: {steps}")
    for step in range(1, steps + 1):
        acc = 0.60 - 0.006 * step + rng.normal(0, 0.01)
        lines.append(f"(TaskRunner pid=7) step:{step} - val-core/gsm8k/acc/mean@1:{acc:.4f} - "
                     "actor/pg_loss:0.01")
    path.write_text("\n".join(lines) + "\n")


def test_verl_banner_gives_the_plan_and_watch_stops_a_decline_from_the_start(tmp_path):
    with_banner, without = tmp_path / "with.log", tmp_path / "without.log"
    verl_log(with_banner, banner=True)
    verl_log(without, banner=False)
    assert planned_steps(read_run(with_banner).config) == 30
    assert planned_steps(read_run(without).config) is None
    assert inspected_plan(with_banner) == 30 and inspected_plan(without) is None
    stops = [a for a in phasewatch.watch(with_banner) if "planned run" in a.message]
    # the same values: told the plan, a fall from the start still going on past the run's
    # early part is an overfit; without it, it may be a disruption still falling
    assert stops and stops[0].step < 30
    assert not [a for a in phasewatch.watch(without) if "planned run" in a.message]


def test_older_verl_is_planned_from_its_epochs_and_the_batches_an_epoch_takes(tmp_path):
    """verl before `Total training steps` printed its config dump (`'total_epochs': 15`) and
    `Size of train dataloader: 14`: 210 steps. A step count the user set wins (-1: unset)."""
    head = ["(main_task pid=9) {'trainer': {'default_local_dir': 'ckpt',",
            "(main_task pid=9)              'total_epochs': 15,",
            "(main_task pid=9)              'total_training_steps': -1}}",
            "(main_task pid=9) Size of train dataloader: 14",
            "(main_task pid=9) step:1 - critic/score/mean:0.1"]
    log = tmp_path / "old.log"
    log.write_text("\n".join(head) + "\n")
    assert planned_steps(read_run(log).config) == 210
    log.write_text("\n".join(head).replace("'total_training_steps': -1", "'total_training_steps': 50") + "\n")
    assert planned_steps(read_run(log).config) == 50


def test_watch_says_an_older_verl_plan_was_counted_from_its_epochs(tmp_path):
    """Such a log prints neither `Total training steps` nor a `total_training_steps` it set
    (-1): `watch` names the two lines it multiplied, not lines the log does not hold."""
    head = ["(main_task pid=9) {'trainer': {'total_epochs': 15, 'total_training_steps': -1}}",
            "(main_task pid=9) Size of train dataloader: 14"]
    steps = [f"(main_task pid=9) step:{k} - val/test_score/gsm8k:0.{k}" for k in range(1, 6)]
    log = tmp_path / "old.log"
    log.write_text("\n".join(head + steps) + "\n")
    said = subprocess.run([sys.executable, "-m", "phasewatch", "watch", str(log)],
                          capture_output=True, text=True, check=True).stderr
    assert "planned length: 210 steps, stated by the log: verl's console, its `Size of train " \
           "dataloader` x the config's `total_epochs`" in said
    log.write_text("\n".join(head + steps).replace("Size of train dataloader: 14",
                                                   "Total training steps: 210") + "\n")
    run = read_run(log)
    assert PlanSource.of_config(run.config, run.format).where() == \
        "stated by the log: verl's console, its `Total training steps` or `total_training_steps`"


def test_hf_console_banner_gives_the_plan_in_the_logs_step_units(tmp_path):
    log = tmp_path / "train.log"
    rows = [f"{{'loss': {2.0 - 0.1 * k:.3f}, 'learning_rate': 1e-05, 'epoch': {0.25 * k:.2f}}}"
            for k in range(1, 9)]
    log.write_text("\n".join([
        "[INFO|trainer.py:2314] 2024-12-04 06:05:15,244 >> ***** Running training *****",
        "[INFO|trainer.py:2315] 2024-12-04 06:05:15,244 >>   Num examples = 900",
        "[INFO|trainer.py:2316] 2024-12-04 06:05:15,244 >>   Num Epochs = 2",
        "[INFO|trainer.py:2321] 2024-12-04 06:05:15,244 >>   Total optimization steps = 28",
        *rows]) + "\n")
    run = read_run(log)
    assert run.format == "hf_console"
    assert planned_steps(run.config) == 20_000  # 2 epochs; the last row is at epoch 2.0
    assert int(run.steps[-1]) == 20_000


def test_hf_console_banner_of_a_run_that_max_steps_ends_within_its_epoch(tmp_path):
    """`max_steps=25` on 1,000 examples at a batch of 10: the banner says `Num Epochs = 1`
    (rounded up) but 25 of an epoch's 100 steps, so the plan is a quarter epoch; the epoch's
    evaluation banner after it (`Num examples = 200`) changes nothing."""
    log = tmp_path / "train.log"
    banner = ["***** Running training *****", "  Num examples = 1,000", "  Num Epochs = 1",
              "  Total train batch size (w. parallel, distributed & accumulation) = 10",
              "  Total optimization steps = 25"]
    rows = [f"{{'loss': {2.0 - 0.1 * k:.3f}, 'epoch': {0.05 * k:.2f}}}" for k in range(1, 6)]
    evaluation = ["***** Running Evaluation *****", "  Num examples = 200", "  Batch size = 8"]
    log.write_text("\n".join(banner + rows[:2] + evaluation + rows[2:]) + "\n")
    assert planned_steps(read_run(log).config) == 2_500


def test_a_run_set_by_epochs_is_planned_from_the_epoch_it_logs(tmp_path):
    """HF's TensorBoard callback writes its TrainingArguments as JSON text (`max_steps` -1,
    `num_train_epochs` 3) and `train/epoch` beside each row: 100 steps an epoch, 300 planned.
    Told the plan, a held-out accuracy falling from the first evaluation is stopped once the
    fall outlasts the run's early part."""
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    writer = torch_tb.SummaryWriter(log_dir=str(tmp_path / "run"))
    writer.add_text("args", json.dumps({"num_train_epochs": 3, "max_steps": -1}), 0)
    rng = np.random.default_rng(1)
    for step in range(10, 301, 10):
        writer.add_scalar("train/epoch", step / 100, step)
        writer.add_scalar("eval/accuracy", 0.6 - 0.0006 * step + rng.normal(0, 0.01), step)
    writer.close()
    watch = LiveWatch(tmp_path / "run")
    alerts = list(watch.alerts())
    assert watch.monitor.config.planned_steps == 300
    assert inspected_plan(tmp_path / "run") == 300
    stops = [a for a in alerts if "planned run" in a.message]
    assert stops and 120 <= stops[0].step < 300


def test_the_epoch_plan_needs_the_epochs_and_an_epoch_logged():
    config = {"num_train_epochs": "2", "max_steps": -1}
    assert planned_steps(config) is None and planned_epochs(config) == 2.0
    assert epoch_plan(2.0, 50, {"train/epoch": 0.25}) == 400
    assert epoch_plan(2.0, 0, {"train/epoch": 0.0}) is None  # the start says nothing
    assert epoch_plan(2.0, 50, {"loss": 1.0}) is None
    assert planned_epochs({"max_steps": -1}) is None
    assert planned_steps({"max_steps": 120, "num_train_epochs": 2}) == 120  # stated: it wins


def test_a_trl_on_policy_run_is_planned_from_the_updates_its_episodes_make():
    """wandb-trl-ppo-scores-500: TRL's PPOTrainer logs `num_train_epochs` 3 (unused), `max_steps`
    -1, `num_total_batches` 500 (the updates `total_episodes` 500 makes, one logged step each)
    and an `epoch` that is the share of its prompts seen (0.05 at step 500): the run of 500
    updates, all logged, was planned to end at step 30000."""
    config = {"num_train_epochs": 3.0, "max_steps": -1, "total_episodes": 500,
              "num_total_batches": 500}
    assert planned_steps(config) == 500
    steps = np.arange(1, 501)
    run = phasewatch.Run.from_columns({"train/epoch": (steps, steps / 10_000),
                                       "train/reward": (steps, np.full(500, 0.1))},
                                      "ppo", "wandb", config=config)
    from phasewatch.whole_plan import run_plan

    assert run_plan(run) == 500


def test_a_log_that_ends_before_its_plan_says_so(tmp_path):
    # trial 33: a CHORD run read at step 1320 of its 2000 printed phases and a recommended stop
    # with nothing saying the run had not ended (32b: a GRPO W&B log at step 70 of 400)
    def native(folder, last):
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({
            "schema_version": 1, "name": "r", "algorithm": "sft",
            "performance_metric": "eval/accuracy", "direction": "max",
            "config": {"steps": 2000}}))
        with open(folder / "metrics.jsonl", "w") as out:
            out.writelines(json.dumps({"step": s, "eval/accuracy": 0.5 + 0.0001 * s}) + "\n"
                           for s in range(0, last + 1, 40))
        return folder

    said = "the log ends at step 1320, before the step 2000 its run plans"
    assert any(said in w for w in phasewatch.analyze(native(tmp_path / "a", 1320)).warnings)
    assert not any("before the step" in w
                   for w in phasewatch.analyze(native(tmp_path / "b", 2000)).warnings)


def test_an_early_fall_in_a_log_read_before_its_end_is_a_disruption_so_far(tmp_path):
    # trial 34: the demo SFT run read to step 70 of its planned 2000 was "plateau > overfit
    # (high confidence)", beside watch's disruption; the full run recovers from step 70 on
    def native(folder, values, plan):
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({
            "schema_version": 1, "name": "r", "algorithm": "sft",
            "performance_metric": "eval/accuracy", "direction": "max",
            "config": {"steps": plan}}))
        with open(folder / "metrics.jsonl", "w") as out:
            out.writelines(json.dumps({"step": 10 * i, "eval/accuracy": v}) + "\n"
                           for i, v in enumerate(values))
        return folder

    falling = [0.546, 0.546, 0.546, 0.548, 0.454, 0.152, 0.04, 0.022]
    early = phasewatch.analyze(native(tmp_path / "early", falling, 2000))
    assert [p.name for p in early.phases] == ["plateau", "disruption"]
    assert any("a disruption so far" in w for w in early.warnings)
    # the same values as a whole run (its plan reached), or read past 40% of its plan: a fall
    # from the start that has not recovered is an overfit
    for name, plan in (("whole", 70), ("late", 150)):
        analysis = phasewatch.analyze(native(tmp_path / name, falling, plan))
        assert [p.name for p in analysis.phases][-1] == "overfit", name
        assert not any("so far" in w for w in analysis.warnings)
    # told the plan (a log without one): the same answer as from the config
    bare = tmp_path / "bare.jsonl"
    bare.write_text("".join(json.dumps({"step": 10 * i, "eval/accuracy": v}) + "\n"
                            for i, v in enumerate(falling)))
    assert phasewatch.analyze(bare).phases[-1].name == "overfit"
    told = phasewatch.analyze(bare, planned_steps=2000)
    assert [p.name for p in told.phases] == ["plateau", "disruption"]
    # a fall that ended on a floor early in the planned run (the demo to step 100): a
    # disruption too, the floor within the first half of the run, not of the part logged so far
    floor = falling + [0.028, 0.038, 0.056]
    assert [p.name for p in phasewatch.analyze(native(tmp_path / "floor", floor, 2000)).phases] \
        == ["plateau", "disruption", "plateau"]
    assert [p.name for p in phasewatch.analyze(native(tmp_path / "floor_whole", floor, 100)).phases] \
        == ["plateau", "overfit", "plateau"]


def test_a_finished_run_whose_last_evaluation_comes_before_its_last_step_is_not_unfinished(
        tmp_path):
    # trial 34b: checkpoint-365/trainer_state.json (global_step 365 = max_steps, eval_steps 50)
    # was said to have "stopped early (an early-stopping callback, a crash)"
    def state(global_step):
        history = [{"step": s, "epoch": s / 73, "eval_accuracy": 0.8 + 0.0001 * s}
                   for s in range(50, 351, 50)]
        path = tmp_path / f"state_{global_step}.json"
        path.write_text(json.dumps({"global_step": global_step, "max_steps": 365,
                                    "log_history": history}))
        return path

    assert not any("before the step" in w for w in phasewatch.analyze(state(365)).warnings)
    said = "the log ends at step 350, before the step 365 its run plans"
    assert any(said in w for w in phasewatch.analyze(state(350)).warnings)  # still training
