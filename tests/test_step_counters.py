"""One log, two step counters: validations logged with the epoch as their step beside metrics
logged per batch at the global step (`phasewatch.step_counters`), as a PyTorch script writes
them with `writer.add_scalar(tag, value, epoch)` and `writer.add_scalar(tag, value,
global_step)`. The validations are analysed and reported on their own counter ("epoch 35",
x axis "epoch"); outputs that would put them on the batches' axis say so instead."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from watch_follower import Follower, replay

from phasewatch.cli import main
from phasewatch.io import read_run

EPOCHS, BATCHES = 40, 50


def accuracy(epoch: int) -> float:
    """A held-out accuracy that rises to epoch 15, holds, and falls from epoch 28."""
    rng = np.random.default_rng(epoch)
    level = 0.4 + 0.4 * min(epoch, 15) / 15 - 0.02 * max(0, epoch - 28)
    return float(level + 0.004 * rng.standard_normal())


def write_epoch(writer, epoch: int) -> None:
    """One epoch of a PyTorch script: the batch loss at the global step, then the epoch's
    train loss and the validation accuracy at the epoch."""
    losses = []
    for batch in range(BATCHES):
        step = (epoch - 1) * BATCHES + batch + 1
        losses.append(2.0 / step ** 0.5)
        writer.add_scalar("training/batch_loss", losses[-1], step)
    writer.add_scalar("training/loss", float(np.mean(losses)), epoch)
    writer.add_scalar("validation/accuracy", accuracy(epoch), epoch)


@pytest.fixture
def run_folder(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    writer = torch_tb.SummaryWriter(log_dir=str(tmp_path / "run"))
    for epoch in range(1, EPOCHS + 1):
        write_epoch(writer, epoch)
    writer.close()
    return tmp_path / "run"


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_validation_per_epoch_beside_batches_is_reported_in_epochs(run_folder, capsys):
    code, out, err = cli(capsys, "analyze", str(run_folder), "--format", "json")
    assert code == 0, err
    result = json.loads(out)["runs"][0]
    assert result["metric"] == "validation/accuracy" and result["step_unit"] == "epoch"
    stop = result["recommended_stop_step"]
    assert 10 <= stop <= 30  # the epoch of its best, as the log numbers it
    code, text, _ = cli(capsys, "analyze", str(run_folder))
    assert f"recommended stop: epoch {stop}" in text and f"step {stop} " not in text
    assert "count epochs, not the steps the run's other metrics count (to step 2000)" in text
    assert "training/batch_loss (to step 2000) names its steps batches" in text
    # watch, replayed: the same words, and its summary does not put the last validation
    # (epoch 40) against the batches' last step as if it stopped at 2% of the run
    code, out, err = cli(capsys, "watch", str(run_folder), "--format", "jsonl")
    assert code == 0
    alerts = [json.loads(line) for line in out.splitlines()[:-1]]
    summary = json.loads(out.splitlines()[-1])
    assert alerts and all(a["step_unit"] == "epoch" and " step " not in a["message"]
                          for a in alerts)
    assert summary["best_step"] == stop and summary["step"] == 2000
    assert summary["step_unit"] == "epoch" and summary["records_unit"] == "step"
    assert "the last at epoch 40) up to step 2000 of the other metrics" in err
    assert f"checkpoint to keep: epoch {stop}" in err
    assert "count epochs, not the steps" in err
    code, out, _ = cli(capsys, "inspect", str(run_folder))
    line = next(x for x in out.splitlines() if x.startswith("performance metric:"))
    assert code == 0 and "40 values over epochs 1-40" in line and " at epoch " in line
    assert "count epochs, not the steps the run's other metrics count" in out


def test_plot_draws_the_validation_on_an_epoch_axis_and_no_batch_panel_beside_it(run_folder,
                                                                                capsys):
    pytest.importorskip("matplotlib")
    from phasewatch.plot.phase import phase_figure

    fig = phase_figure(read_run(run_folder))
    assert fig.axes[0].get_xlabel() == "epoch" or fig.axes[-1].get_xlabel() == "epoch"
    code, _, err = cli(capsys, "plot", str(run_folder), "--metric", "validation/accuracy",
                       "--metric", "training/batch_loss", "-o", str(run_folder / "f.png"))
    assert code == 2 and "share no x axis" in err and "training/batch_loss" in err
    code, _, err = cli(capsys, "plot", str(run_folder), "--kind", "compare", "--metric",
                       "validation/accuracy", "--metric", "training/batch_loss",
                       "-o", str(run_folder / "g.png"))
    assert code == 2 and "share no x axis" in err
    code, _, err = cli(capsys, "plot", str(run_folder), "--metric", "validation/accuracy",
                       "--metric", "training/loss", "-o", str(run_folder / "h.png"))
    assert code == 0, err  # the epoch's train loss counts epochs too


def test_changepoints_refuse_to_segment_epochs_and_batches_as_one_axis(run_folder, capsys):
    """Segmented jointly, the validation accuracy (epochs 1-40) and the batch loss (steps
    1-2000) were aligned on their step numbers: epoch 5 with batch 5, "segmented the 40 steps
    where all of ... have finite values (of 2000)". A usage error now, as `plot`'s."""
    code, out, err = cli(capsys, "changepoints", str(run_folder), "--metric",
                         "validation/accuracy", "--metric", "training/batch_loss")
    assert code == 2 and out == ""
    assert "validation/accuracy counts epochs, training/batch_loss counts steps" in err
    assert "share no x axis; segment them one at a time" in err
    code, out, err = cli(capsys, "changepoints", str(run_folder), "--metric",
                         "validation/accuracy", "--metric", "training/loss")
    assert code == 0 and out.splitlines()[1].startswith("  epoch ")  # both count epochs


def test_follow_while_the_summary_writer_appends_equals_the_replay(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    folder = tmp_path / "run"
    writer = torch_tb.SummaryWriter(log_dir=str(folder))
    write_epoch(writer, 1)
    writer.flush()
    follower = Follower(folder, stop_on=(), idle_exit=1.5)
    follower.wait_for_message("following")
    for epoch in range(2, EPOCHS + 1):
        write_epoch(writer, epoch)
        if epoch % 5 == 0:
            writer.flush()
            time.sleep(0.02)
    writer.close()
    followed = follower.ends_by_itself()
    replayed, result = replay(folder, stop_on=())
    assert followed == replayed and replayed
    assert all(a.step_unit == "epoch" and a.own_counter for a in replayed)
    assert result.step_unit == "epoch" and result.records_unit == "step"


def stats(spans: dict[str, tuple[int, int, int]], epoch_last: dict[str, float] | None = None):
    from phasewatch.step_counters import CounterStats

    out = CounterStats()
    for name, (first, last, count) in spans.items():
        out.add(first, {name: 0.0})
        out.spans[name].last, out.spans[name].count = last, count
    out.epoch_last.update(epoch_last or {})
    return out


def test_the_rule_wants_a_value_per_epoch_and_the_logs_word_for_epochs():
    from phasewatch.step_counters import other_counters

    per_epoch = {"train/loss": (1, 5000, 5000), "val/loss": (1, 50, 50)}
    # no word in the log that the short counter counts epochs: a note, no unit
    found = other_counters(stats(per_epoch))
    assert found.units == {} and found.short == ["val/loss"]
    assert "may count epochs" in found.note and "nothing in the log says so" in found.note
    # the config's epoch count: epochs
    assert other_counters(stats(per_epoch), {"max_epochs": 50}).units == {"val/loss": "epoch"}
    # a count the counter overshoots is no evidence
    assert other_counters(stats(per_epoch), {"num_epochs": 20}).units == {}
    # an epoch counter logged at the batches that reaches the short counter's end
    tagged = {**per_epoch, "epoch": (1, 5000, 5000)}
    assert other_counters(stats(tagged, {"epoch": 49.0})).units == {"val/loss": "epoch"}
    assert other_counters(stats(tagged, {"epoch": 3.0})).units == {}
    # a batch size is no word for the steps
    sized = {**per_epoch, "train/batch_size": (1, 5000, 5000)}
    assert other_counters(stats(sized)).units == {}


def test_a_metric_logged_early_only_is_no_second_counter():
    from phasewatch.step_counters import other_counters

    # evaluations every 10 steps that stopped at step 200 of 5000 (not one per step), a
    # warm-up value logged at steps 1-3 only, a series as long as the run's others
    assert other_counters(stats({"train/batch_loss": (1, 5000, 5000),
                                 "eval/loss": (10, 200, 20), "warmup": (1, 2, 2)})).short == []
    assert other_counters(stats({"train/batch_loss": (1, 5000, 5000),
                                 "eval/loss": (1, 4000, 4000)})).short == []


def jsonl_lines(config: dict) -> list[str]:
    """A JSON-lines log of the same run: its settings first, then per batch and per epoch."""
    lines = [json.dumps(config)]
    for epoch in range(1, EPOCHS + 1):
        for batch in range(BATCHES):
            step = (epoch - 1) * BATCHES + batch + 1
            lines.append(json.dumps({"step": step, "train/loss": 2.0 / step ** 0.5}))
        lines.append(json.dumps({"step": epoch, "eval/accuracy": accuracy(epoch)}))
    return lines


def test_the_configs_epochs_say_so_and_its_plan_in_steps_is_not_the_epochs(tmp_path, capsys):
    """`max_steps` 2000 is the batches' plan: judged against it every epoch (1-40) would be
    early; `num_epochs` 40 says the short counter counts epochs. analyze, watch (replay and
    follow of the file written in pieces) agree."""
    from watch_follower import follow_while_written

    path = tmp_path / "log.jsonl"
    text = "\n".join(jsonl_lines({"max_steps": 2000, "num_epochs": 40})) + "\n"
    path.write_text(text)
    code, out, _ = cli(capsys, "analyze", str(path), "--format", "json")
    offline = json.loads(out)["runs"][0]
    assert code == 0 and offline["step_unit"] == "epoch"
    assert any("the config's num_epochs is 40" in w for w in offline["warnings"])
    code, out, err = cli(capsys, "watch", str(path), "--format", "jsonl")
    summary = json.loads(out.splitlines()[-1])
    assert code == 0 and "planned length" not in err and summary["planned"] is None
    assert summary["phases"] == [p["name"] for p in offline["phases"]]
    assert summary["best_step"] == offline["recommended_stop_step"]
    follower = follow_while_written(tmp_path / "followed.jsonl", text, size=4096)
    assert not any("planned length" in m for m in follower.messages)


def test_an_epoch_counter_at_the_batches_says_so_and_is_no_axis_for_the_epochs(tmp_path,
                                                                             capsys):
    """Lightning's way: `epoch` logged at every batch step beside the per-epoch validation.
    The validation's steps are epochs already: `--x epoch` changes nothing, and no alert is
    placed by the epoch counter read at step 32 of the batches ("at epoch 0.62")."""
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    writer = torch_tb.SummaryWriter(log_dir=str(tmp_path / "run"))
    for epoch in range(1, EPOCHS + 1):
        for batch in range(BATCHES):
            step = (epoch - 1) * BATCHES + batch + 1
            writer.add_scalar("train/loss", 2.0 / step ** 0.5, step)
            writer.add_scalar("epoch", epoch - 1 + batch / BATCHES, step)
        writer.add_scalar("val/accuracy", accuracy(epoch), epoch)
    writer.close()
    folder = str(tmp_path / "run")
    code, plain, _ = cli(capsys, "analyze", folder)
    assert code == 0 and "the log's epoch reaches 39.98 at step 2000" in plain
    code, in_epochs, _ = cli(capsys, "analyze", folder, "--x", "epoch")
    assert code == 0 and in_epochs == plain
    code, _, err = cli(capsys, "analyze", folder, "--x", "tokens")
    assert code == 2 and "val/accuracy's steps count epochs" in err and "--x epoch" in err
    code, out, _ = cli(capsys, "watch", folder, "--x", "epoch", "--format", "jsonl")
    objects = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(objects) >= 2 and not any("x" in o for o in objects)
    assert all("(at epoch" not in o["message"] for o in objects)
