"""llm.c's console output, read at the steps its main.log gives the same values (a GPT-2 124M
run's 19,560 steps in a Slurm job's stdout, read in a reading of public repositories, was
"unknown log format")."""

from __future__ import annotations

import math
import time

import pytest
from _files import notebook_cell, read_as
from watch_follower import Follower

from phasewatch.cli import main
from phasewatch.io import llmc_console, read_run

N = 12  # train_num_batches
VAL_EVERY = 4
TABLE = ("+-----------------------+----------------------------------------------------+\n"
         "| Parameter             | Value                                              |\n"
         "+-----------------------+----------------------------------------------------+\n"
         "| train data pattern    | dev/data/fineweb10B/fineweb_train_*.bin            |\n"
         "| val data pattern      | dev/data/fineweb10B/fineweb_val_*.bin              |\n"
         "| output log dir        | log124M                                            |\n")


def _val(step: int) -> float:
    return round(4.0 + 7.0 * math.exp(-step / 3), 6)


def _train(step: int) -> float:
    return round(4.1 + 7.0 * math.exp(-step / 3) + 0.05 * math.sin(step), 6)


def _accuracy(step: int) -> float:
    return round(0.24 + 0.005 * step, 6)


def write_run(folder, first: int = 0) -> tuple:
    """The console output and the main.log `train_gpt2.cu` writes for one run, its loop from
    step `first` (a resumed run's checkpoint) to N, as its printf0 and logger_log_* calls do."""
    console, main_log = [TABLE, "allocated 237 MiB for model parameters\n"], []
    for step in range(first, N + 1):
        if step % VAL_EVERY == 0 or step == N:
            console.append(f"val loss {_val(step):f}\n")
            main_log.append(f"s:{step} tel:{_val(step):.4f}\n")
        if step > 0 and (step % VAL_EVERY == 0 or step == N):
            progress = "".join(f"evaluating HellaSwag: {i}/40\r" for i in range(0, 40, 10))
            console.append(f"{progress}HellaSwag: {int(_accuracy(step) * 10042)}/10042 = "
                           f"{_accuracy(step):f}\n")
            main_log.append(f"s:{step} eval:{_accuracy(step):.4f}\n")
        if step == N:
            break
        lr = 6e-4 * min(1.0, (step + 1) / 4)
        console.append(f"step {step + 1:4d}/{N} | loss {_train(step):7.6f} (+nanz)| norm "
                       f"{1.5:6.4f} (+nanz)| lr {lr:.2e} | 4230.95 ms | 31.9% bf16 MFU | "
                       f"123917 tok/s\n")
        main_log.append(f"s:{step} trl:{_train(step):.4f} lr:{lr:.6f} norm:1.5000\n")
    console.append("total average iteration time: 4231.000000 ms\n")
    out, log = folder / "gpt2_train.log", folder / "main.log"
    out.write_text("".join(console))
    log.write_text("".join(main_log))
    return out, log


def test_the_console_and_main_log_of_one_run_give_the_same_values_at_the_same_steps(tmp_path):
    out, log = write_run(tmp_path)
    console, logged = read_run(out), read_run(log)
    assert console.format == "llmc_console" and logged.format == "llmc"
    for name in ("val_loss", "train_loss", "hellaswag_accuracy"):
        a, b = console.series(name), logged.series(name)
        assert a.index.tolist() == b.index.tolist(), name
        assert [round(v, 4) for v in a] == [round(v, 4) for v in b], name
    assert console.series("val_loss").index.tolist() == [0, 4, 8, 12]
    assert console.series("train_loss").index.tolist() == list(range(N))
    assert console.config.get("max_steps") == N and console.finished


def test_analyze_and_watch_read_the_console(tmp_path, capsys):
    out, _ = write_run(tmp_path)
    assert main(["analyze", str(out), "--metric", "val_loss"]) == 0
    text = capsys.readouterr().out
    assert "improvement" in text and "unknown log format" not in text
    assert main(["watch", str(out), "--metric", "val_loss"]) == 0
    assert "checkpoint to keep: step 12" in capsys.readouterr().err


def test_a_resumed_run_puts_its_first_validation_at_the_checkpoint_step(tmp_path):
    out, log = write_run(tmp_path, first=4)
    console, logged = read_run(out), read_run(log)
    assert console.series("val_loss").index.tolist() == logged.series("val_loss").index.tolist()
    assert console.series("val_loss").index.tolist()[0] == 4


def test_a_run_that_crashed_before_its_first_step_is_no_unknown_format(tmp_path, capsys):
    path = tmp_path / "gpt2_train.log"
    path.write_text(TABLE + "allocating 39612 MiB for activations\n"
                    "[CUDA ERROR] at file train_gpt2.cu:265:\nout of memory\n")
    assert main(["inspect", str(path)]) == 3
    err = capsys.readouterr().err
    assert "no llm.c step lines" in err and "unknown log format" not in err, err


def test_a_scripts_own_step_line_is_not_llmc():
    """llm.c's z-scores and throughput are asked for: a script's own print of the same
    fields counts its steps its own way."""
    text = "".join(f"step {k}/100 | loss {3.0 - 0.1 * k:.3f} | norm 1.2 | lr 3e-4\n"
                   for k in range(1, 11))
    assert not llmc_console.sniff_text(text)


def _cut_after(text: str, marker: str, start: int) -> int:
    """The end of the first line holding `marker` at or after `start`."""
    return text.index("\n", text.index(marker, start)) + 1


def test_the_run_ends_with_its_last_hellaswag_not_the_val_loss_before_it(tmp_path):
    """At its last step llm.c prints the val loss, then scores HellaSwag (minutes: 1,256
    batches in the GPT-2 run) before it prints the accuracy, the metric `analyze` chooses: ended
    at the val loss, a follow stopped before the last evaluation came."""
    out, _ = write_run(tmp_path)
    text = out.read_text()
    last_val = _cut_after(text, "val loss", text.index(f"step {N:4d}/{N}"))
    out.write_text(text[:last_val])
    assert not read_run(out).finished
    follower = Follower(out, stop_on=(), idle_exit=3.0)
    follower.wait_for_message("caught up")
    time.sleep(0.6)  # twice the tests' FINISH_GRACE: still following
    out.write_text(text)
    follower.ends_by_itself()
    result = follower.watch.result
    assert result.metric == "hellaswag_accuracy" and result.metric_last_step == N, result
    assert result.finished and read_run(out).finished


def test_a_run_without_hellaswag_ends_with_its_last_val_loss(tmp_path):
    out, _ = write_run(tmp_path)
    text = out.read_text().replace("| output log dir", "| run hellaswag         | no  "
                                   "                                               |\n"
                                   "| output log dir", 1)
    text = "".join(line + "\n" for line in text.splitlines() if "HellaSwag" not in line)
    out.write_text(text[:_cut_after(text, "val loss", text.index(f"step {N:4d}/{N}"))])
    assert read_run(out).finished


@pytest.mark.parametrize("cut", ["val loss 4.12", "HellaSwag: 2891/10042 = 0.28",
                                 "step   12/12 | loss 4.187 (+nanz)| norm 1.5000 (+nanz)| lr 6.0"])
def test_a_cut_last_line_is_left_out_and_said(tmp_path, cut):
    """llm.c ends every line: one without its newline was cut (a job killed mid-write), and a
    value cut there still parses (4.12 of 4.128212): the whole file up to it is read."""
    out, _ = write_run(tmp_path)
    whole = read_run(out)
    text = out.read_text()
    at = text.rindex(cut[:10])  # (HellaSwag's: after its progress, on the same line)
    lineno = text[:at].count("\n") + 1
    out.write_text(text[:at] + cut)
    run = read_run(out)
    assert [w for w in run.warnings if f"line {lineno}:" in w and "left out" in w], run.warnings
    kept = {"val": (3, 2, N), "Hel": (4, 2, N), "ste": (3, 2, N - 1)}[cut[:3]]
    for name, n in zip(("val_loss", "hellaswag_accuracy", "train_loss"), kept):
        assert run.series(name).tolist() == whole.series(name).tolist()[:n], name


def test_a_follow_waits_for_the_end_of_a_partial_last_line(tmp_path):
    out, _ = write_run(tmp_path)
    text = out.read_text()
    at = text.rindex("val loss ") + len("val loss 4.12")
    out.write_text(text[:at])
    source = llmc_console.source(out, follow=True)
    try:
        first = list(source.read(final=False))
        assert len([r for r in first if "val_loss" in r.values]) == 3
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(text[at:])
        followed = first + list(source.read(final=True))
    finally:
        source.close()
    whole = list(llmc_console.source(out).read())
    assert [(r.step, dict(r.values)) for r in followed] == [(r.step, dict(r.values)) for r in whole]
    assert next(dict(r.values) for r in followed if r.step == N) == {"val_loss": f"{_val(N):f}"}


def test_a_notebook_cell_that_ran_llmc_is_read_as_its_console(tmp_path):
    """`!./train_gpt2cu ...` in a notebook: its printed output is read as llm.c's console, at
    main.log's steps, its HellaSwag progress redrawn by `\\r` included."""
    out, log = write_run(tmp_path)
    book = notebook_cell(tmp_path, "!./train_gpt2cu -o log124M", out.read_text(),
                         name="llmc.ipynb")
    run, logged = read_as(book, "llmc_console"), read_run(log)
    for name in ("val_loss", "train_loss", "hellaswag_accuracy"):
        assert run.series(name).index.tolist() == logged.series(name).index.tolist(), name
    assert run.config.get("max_steps") == N and run.finished
