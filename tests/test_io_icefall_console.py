"""A k2 / icefall recipe's `log-train-<date>`: a line every `log_interval` batches (`Epoch E,
batch B, loss[loss=X, ..., over N frames. ], tot_loss[...], batch size: S, lr: X`) and a line at
each validation (`Epoch E, validation: loss=X, ..., over N frames.`). The loose `name=value`
reader took it, with the validation's `loss` and the batches' in one series named `loss`."""

from __future__ import annotations

import json
import math

import pytest
from _files import notebook_cell, read_as, write

from phasewatch.cli import main
from phasewatch.io import read_run

HEAD = "2024-01-08 10:{m:02d}:{s:02d},345 INFO [train.py:{n}] "


def valid_loss(epoch: int) -> float:
    """A validation loss at its best at epoch 6 that rises after it, while the train loss
    keeps falling: the model overfits its training utterances."""
    return 0.15 + 0.3 * math.exp(-epoch / 1.5) + max(0, epoch - 6) * 0.01


def tracker(loss: float, frames: float, utterances: bool = False) -> str:
    utt = (" utt_duration=812.4, utt_pad_proportion=0.0412, over 61.00 utterances."
           if utterances else "")
    return (f"loss={loss:.4g}, simple_loss={loss * 1.2:.4g}, pruned_loss={loss * 0.4:.4g}, "
            f"over {frames:.2f} frames.{utt} ")


def icefall_log(epochs: int = 10, batches: int = 300, every: int = 50, global_idx: bool = False,
                done: bool = False) -> str:
    lines = [HEAD.format(m=0, s=0, n=1000) + "Training started",
             HEAD.format(m=0, s=1, n=1001) + "{'num_epochs': 30, 'log_interval': 50}"]
    step = 0
    for epoch in range(1, epochs + 1):
        for batch in range(0, batches, every):
            loss = 0.1 + 0.5 * math.exp(-(step + batch) / 600)
            index = f"global_batch_idx: {step + batch}, " if global_idx else ""
            lr = "cur_lr" if global_idx else "lr"
            lines.append(HEAD.format(m=epoch, s=batch % 60, n=1120)
                         + f"Epoch {epoch}, batch {batch}, {index}loss[{tracker(loss * 1.1, 4932)}"
                         f"], tot_loss[{tracker(loss, 982214.35, utterances=True)}], "
                         f"batch size: 61, {lr}: 2.25e-02, grad_scale: 16.0")
        lines.append(HEAD.format(m=epoch, s=59, n=1150) + "Computing validation loss")
        lines.append(HEAD.format(m=epoch, s=59, n=1160)
                     + f"Epoch {epoch}, validation: loss={valid_loss(epoch):.4g}, "
                     f"simple_loss=0.2288, pruned_loss=0.0749, over 39451.00 frames. ")
        lines.append(HEAD.format(m=epoch, s=59, n=1170)
                     + "Maximum memory allocated so far is 21380MB")
        step += batches
    if done:
        lines.append(HEAD.format(m=59, s=0, n=1300) + "Done!")
    return "\n".join(lines) + "\n"


def test_batches_and_validations_are_read_apart_at_the_batch_over_the_epochs(tmp_path, capsys):
    path = write(tmp_path, icefall_log(), name="log-train-2024-01-08-10-00-00")
    run = read_as(path, "icefall_console")
    assert sorted(run.metrics) == [
        "train/current_loss", "train/current_pruned_loss", "train/current_simple_loss",
        "train/grad_scale", "train/learning_rate", "train/tot_loss", "train/tot_pruned_loss",
        "train/tot_simple_loss", "validation/loss", "validation/pruned_loss",
        "validation/simple_loss"]
    # epoch 1's batches 0-250, then each epoch on one after the last batch logged before it
    assert run.series("train/tot_loss").index.tolist()[:8] == [0, 50, 100, 150, 200, 250,
                                                                251, 301]
    assert run.series("validation/loss").index.tolist()[:2] == [250, 501]
    assert run.series("validation/loss").iloc[5] == pytest.approx(valid_loss(6), rel=1e-3)
    assert (run.own_name("train/loss"), run.own_name("eval/loss")) == ("train/tot_loss",
                                                                      "validation/loss")
    assert not run.finished
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("validation/loss", "min")
    assert result["phases"][-1]["name"] == "overfit"


def test_the_global_batch_index_is_the_step_where_printed_and_done_ends_the_run(tmp_path):
    """Also the yesno recipe's validation line, `validation loss=X` with no colon."""
    text = icefall_log(4, global_idx=True, done=True).replace("validation: ", "validation ")
    run = read_run(write(tmp_path, text))
    assert run.series("train/tot_loss").index.tolist()[5:8] == [250, 300, 350]
    assert run.series("validation/loss").index.tolist() == [250, 550, 850, 1150]
    assert run.series("train/learning_rate").iloc[0] == pytest.approx(0.0225)
    assert run.finished


def test_damaged_lines_are_reported_with_their_numbers(tmp_path):
    lines = icefall_log(3).splitlines()
    cut = next(i for i, line in enumerate(lines) if "Epoch 2, batch 100," in line)
    lines[cut] = lines[cut][:lines[cut].index("loss[") + 5]
    lines.insert(2, HEAD.format(m=0, s=2, n=1160) + "Epoch 1, validation: loss=0.6, over 9.00 "
                 "frames.")
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert len(run.series("train/tot_loss")) == 3 * 6 - 1
    assert any(f"lines 3, {cut + 2};" in warning for warning in run.warnings), run.warnings
    assert run.series("validation/loss").index.tolist() == [250, 501, 752]


def test_a_notebook_cell_that_ran_an_icefall_recipe_is_read(tmp_path):
    book = notebook_cell(tmp_path, "!./zipformer/train.py --num-epochs 3",
                         icefall_log(3), name="asr.ipynb", on="stderr")
    run = read_as(book, "icefall_console")
    assert len(run.series("validation/loss")) == 3


def test_an_item_damaged_inside_a_line_is_left_out_with_its_line(tmp_path):
    """A validation whose `loss=` is no number, a batch line cut inside its `tot_loss[...]`
    and an `lr:` that is no number: the lines' other items are read, and one warning names
    what was left out and where (they were dropped without a word)."""
    lines = icefall_log(3).splitlines()
    valid = next(i for i, line in enumerate(lines) if "Epoch 2, validation" in line)
    lines[valid] = lines[valid].replace("loss=", "loss=x", 1)
    cut = next(i for i, line in enumerate(lines) if "Epoch 2, batch 100," in line)
    lines[cut] = lines[cut][:lines[cut].index("tot_loss[") + 20]
    rate = next(i for i, line in enumerate(lines) if "Epoch 3, batch 50," in line)
    lines[rate] = lines[rate].replace("lr: ", "lr: n/a ", 1)
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert run.series("validation/loss").index.tolist() == [250, 752]
    assert run.series("validation/simple_loss").index.tolist() == [250, 501, 752]
    assert 351 in run.series("train/current_loss").index  # the cut line's batch loss is read
    assert 351 not in run.series("train/tot_loss").index
    assert 552 in run.series("train/tot_loss").index
    assert 552 not in run.series("train/learning_rate").index
    said = ("items of batch or validation lines whose value is no number, or in a `[...]` cut "
            f"before its `]`, were left out (line {cut + 1}: tot_loss[...] cut before its `]`; "
            f"line {valid + 1}: validation/loss; line {rate + 1}: train/learning_rate)")
    assert [w for w in run.warnings if "left out" in w] == [said]


def launches(exp, resume_at: int, global_idx: bool = False, ranks: tuple = ((), ())) -> list:
    """`exp/log` of a run of 8 epochs launched twice: the first launch stopped inside epoch 5
    (after its batch 150), the second resumed at epoch `resume_at` (`--start-epoch`), each
    launch in its own `log-train-<date>` as icefall's `setup_logger` opens them: one file on
    one GPU, `log-train-<date>-<rank>` for each of a DDP launch's `ranks` (rank 0's first;
    the other ranks' hold the same lines here)."""
    first = icefall_log(5, global_idx=global_idx).splitlines()
    first = first[:max(i for i, line in enumerate(first) if "Epoch 5, batch 150," in line) + 1]
    second = icefall_log(8, global_idx=global_idx).splitlines()
    second = second[:2] + second[min(i for i, line in enumerate(second)
                                     if f"Epoch {resume_at}, batch 0," in line):]
    (exp / "log").mkdir(parents=True)
    files = []  # each launch's file read as the run: the one process's, or rank 0's
    for date, lines, launch_ranks in (("2024-01-08-10-00-00", first, ranks[0]),
                                      ("2024-01-09-08-30-00", second, ranks[1])):
        written = [write(exp / "log", "\n".join(lines) + "\n", name=f"log-train-{date}{s}")
                   for s in [f"-{rank}" for rank in launch_ranks] or [""]]
        files.append(written[0])
    return files


@pytest.mark.parametrize("resume_at, global_idx", [(5, False), (4, False), (4, True)])
def test_a_run_resumed_in_a_new_launch_is_read_as_one_run(tmp_path, capsys, resume_at,
                                                          global_idx):
    """icefall writes a file a launch: the launches are joined in time order, the resumed
    epochs superseding the abandoned launch's from where the epoch started, so the run reads
    as the same run never stopped; the folder holds that one run and `inspect` says so."""
    whole = read_run(write(tmp_path, icefall_log(8, global_idx=global_idx)))
    older, newer = launches(tmp_path / "exp", resume_at, global_idx)
    for path in (tmp_path / "exp", tmp_path / "exp" / "log", newer):
        run = read_run(path)
        for name in ("train/tot_loss", "validation/loss"):
            assert run.series(name).to_dict() == pytest.approx(whole.series(name).to_dict())
        said = ("joined from 2 files, one a launch, oldest first: log-train-2024-01-08-10-00-00,"
                " then log-train-2024-01-09-08-30-00")
        assert any(said in warning for warning in run.warnings), run.warnings
    earlier = read_run(older).series("validation/loss").index.tolist()  # the launch alone
    assert earlier == whole.series("validation/loss").index.tolist()[:4]
    assert main(["inspect", str(tmp_path / "exp")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{newer}  [icefall_console]") and "joined from 2 files" in out


def test_each_rank_of_a_ddp_launch_is_joined_with_its_own_rank(tmp_path):
    """Under DDP every rank writes `log-train-<date>-<rank>`: a launch continues the same
    rank's earlier launches only, and the folder's run is rank 0's (icefall's TensorBoard is
    rank 0's), saying that the other ranks' logs are not read."""
    from phasewatch.folders import find_runs
    from phasewatch.io.rotated import rotated_parts

    dates = ("2024-01-08-10-00-00", "2024-01-09-08-30-00", "2024-01-09-08-30-01")
    for date in dates:
        for rank in (0, 1):
            write(tmp_path, icefall_log(1), name=f"log-train-{date}-{rank}")
    parts = rotated_parts(tmp_path / "log-train-2024-01-09-08-30-01-1", "launch_date")
    assert [p.name for p in parts] == ["log-train-2024-01-08-10-00-00-1",
                                       "log-train-2024-01-09-08-30-00-1"]
    assert rotated_parts(tmp_path / "log-train-2024-01-09-08-30-01-1") == []
    assert [found.path.name for found in find_runs(tmp_path)] == [f"log-train-{dates[2]}-0"]
    warnings = read_run(tmp_path).warnings
    assert any("joined from 3 files" in warning for warning in warnings), warnings
    assert any(warning.startswith("the logs of the other DDP ranks beside it (3 files: "
                                  f"log-train-{dates[0]}-1, ") for warning in warnings), warnings


def test_one_other_ranks_log_is_one_file(tmp_path):
    """The other ranks' logs are counted in words that agree with the count (it read '1 files'
    beside a launch of 2 GPUs)."""
    for rank in (0, 1):
        write(tmp_path, icefall_log(1), name=f"log-train-2024-01-08-10-00-00-{rank}")
    said = ("the logs of the other DDP ranks beside it (1 file: log-train-2024-01-08-10-00-00-1) "
            "are not read")
    assert any(w.startswith(said) for w in read_run(tmp_path).warnings)


@pytest.mark.parametrize("ranks", [((), (0, 1, 2, 3)), ((0, 1), ())],
                         ids=["one GPU, then 4", "2 GPUs, then one"])
def test_a_run_resumed_on_another_number_of_gpus_is_one_run(tmp_path, capsys, ranks):
    """setup_logger names a one-process launch's log `log-train-<date>` and each DDP rank's
    `log-train-<date>-<rank>`: a run resumed on another number of GPUs goes on in rank 0's
    log (or the one process's), and the folder holds that one run, read as if never stopped
    (the launches were two runs, the last read without the first's epochs)."""
    from phasewatch.folders import find_runs

    whole = read_run(write(tmp_path, icefall_log(8)))
    older, newer = launches(tmp_path / "exp", 5, ranks=ranks)
    assert [found.path for found in find_runs(tmp_path / "exp" / "log")] == [newer]
    for path in (tmp_path / "exp", newer):
        run = read_run(path)
        for name in ("train/tot_loss", "validation/loss"):
            assert run.series(name).to_dict() == pytest.approx(whole.series(name).to_dict())
        said = f"joined from 2 files, one a launch, oldest first: {older.name}, then {newer.name}"
        assert any(said in warning for warning in run.warnings), run.warnings
    assert main(["analyze", str(tmp_path / "exp"), "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["source"], r["metric"]) for r in runs] == [(str(newer), "validation/loss")]


def test_an_earlier_launch_that_crashed_is_said_as_one(tmp_path):
    """A launch that ended without `Done!` crashed or was stopped, and the next resumed the
    run: said with its last step and the error it ended with (it was said as nothing); a
    launch that crashed before its first batch line holds no record and is left out, said as
    such (it was 'a rotated part of' the last launch's log)."""
    older, newer = launches(tmp_path / "exp", 5)
    with open(older, "a", encoding="utf-8") as fh:
        fh.write('Traceback (most recent call last):\n  File "./zipformer/train.py", line 1\n'
                 "torch.OutOfMemoryError: CUDA out of memory.\n")
    lines = older.read_text().count("\n")
    empty = write(tmp_path / "exp" / "log", HEAD.format(m=0, s=0, n=1000) + "Training started\n"
                  "Traceback (most recent call last):\n  File \"./zipformer/train.py\", line 1\n"
                  "RuntimeError: NCCL error\n", name="log-train-2024-01-09-08-00-00")
    crashed = (f"{older.name}: an earlier launch of the run that ended without finishing (no "
               f"end-of-training line: it ends with a Python error, line {lines}: "
               "torch.OutOfMemoryError: CUDA out of memory.) after step 1154, its last record; "
               f"{newer.name}, the launch after it, resumed the run")
    nothing = (f"{empty.name} beside it, an earlier launch of the run, holds no record: it "
               "ended before its first logged step (it ends with a Python error, line 4: "
               "RuntimeError: NCCL error); left out")
    warnings = read_run(tmp_path / "exp").warnings
    assert warnings[:2] == [crashed, nothing], warnings
    older.write_text(older.read_text().split("Traceback")[0])  # killed, or out of time
    assert read_run(newer).warnings[0].startswith(
        f"{older.name}: an earlier launch of the run that ended without finishing (no "
        "end-of-training line: it crashed or was stopped) after step 1154, its last record")
    older.write_text(icefall_log(5, done=True))  # a launch that finished is no crash
    assert not any("without finishing" in w for w in read_run(newer).warnings)


def test_a_last_line_cut_mid_write_is_left_out_and_said(tmp_path, capsys):
    """A log whose writer was killed inside its last line, `Epoch 3, validation: loss=0.1`
    (of 0.1906), read the cut value as a validation, without a word. Offline it is left out
    and said with the file and line, as a CSV's cut row is; a follow that ends on it reads
    what a replay reads."""
    lines = icefall_log(3).splitlines()[:-2]  # up to epoch 3's `Computing validation loss`
    whole = HEAD.format(m=3, s=59, n=1160) + "Epoch 3, validation: loss=0.1906, over 39451.00 frames. "
    path = write(tmp_path, "\n".join(lines + [whole[:whole.index("loss=") + 8]]),
                 name="log-train-2024-01-08-10-00-00")
    run = read_run(path)
    assert run.series("validation/loss").index.tolist() == [250, 501]
    said = [w for w in run.warnings if "does not end with a newline" in w]
    assert len(said) == 1 and said[0].startswith(f"line {len(lines) + 1}: {path.name} "), said
    assert main(["watch", str(path), "--follow", "--idle-exit", "1", "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["last_value_step"] == 501
    assert f"{path.name} does not end with a newline" in err


def test_a_rank_other_than_0_named_alone_says_whose_lines_were_read(tmp_path, capsys):
    """`log-train-<date>-1` named alone is read as named, with rank 1's earlier launches (every
    rank logs the same all-reduced validation), and it is said that its batch losses are
    rank 1's shard's and which file is the run's: nothing said so before."""
    for date in ("2024-01-08-10-00-00", "2024-01-09-08-30-00"):
        for rank in (0, 1):
            write(tmp_path, icefall_log(2), name=f"log-train-{date}-{rank}")
    named = tmp_path / "log-train-2024-01-09-08-30-00-1"
    said = ("read as DDP rank 1's log, with rank 1's earlier launches: its validation lines are "
            "those every rank logs (the same all-reduced values), but its batch losses are rank "
            "1's own data shard's; rank 0's log (log-train-2024-01-09-08-30-00-0 beside it) is "
            "the run's")
    run = read_run(named)
    assert any(w.startswith(said) for w in run.warnings), run.warnings
    assert any("joined from 2 files" in w for w in run.warnings), run.warnings
    assert not any("read as DDP rank" in w for w in read_run(tmp_path).warnings)
    assert main(["watch", str(named)]) == 0
    assert said in capsys.readouterr().err


def test_a_rank_of_one_launch_is_not_said_to_have_earlier_launches(tmp_path):
    """A run of one DDP launch: rank 1's log named alone has no earlier launch to be read
    with, and the note said "with rank 1's earlier launches" all the same."""
    for rank in (0, 1):
        write(tmp_path, icefall_log(2), name=f"log-train-2024-01-09-08-30-00-{rank}")
    warnings = read_run(tmp_path / "log-train-2024-01-09-08-30-00-1").warnings
    assert any(w.startswith("read as DDP rank 1's log: its validation lines are those every "
                            "rank logs") for w in warnings), warnings
    assert not any("earlier launches" in w or "joined from" in w for w in warnings), warnings
