"""modded-nanogpt's logs (`phasewatch.io.modded_nanogpt`): the training script's source, then
`nvidia-smi`'s table, then `step:N/TOTAL val_loss:X train_time:Tms step_avg:Ams` lines, written
here as its `train_gpt.py` prints them (a short source with the same f-strings, not a copied
log). It was "unknown log format". Where the `fetch` mirror of KellerJordan/modded-nanogpt is
on this machine, two of its record logs of different eras are read too."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest
from watch_follower import Follower, eval_curve, follow_while_written, replay

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run, sniff_format

SOURCE = '''import os
import sys
with open(sys.argv[0]) as f:
    code = f.read() # read the code of this file ASAP, for logging
def print0(s, console=False):
    if master_process:
        with open(logfile, "a") as f:
            print(s, file=f)
# step:0/... lines below are the log's records
for step in range(train_steps + 1):
    last_step = (step == train_steps)
    if last_step or (val_loss_every > 0 and step % val_loss_every == 0):
        print0(f"step:{step}/{train_steps} val_loss:{val_loss:.4f} train_time:{training_time_ms:.0f}ms step_avg:{training_time_ms/max(step, 1):.2f}ms", console=True)
    if last_step:
        break
    print0(f"step:{step+1}/{train_steps} train_time:{approx_training_time_ms:.0f}ms step_avg:{approx_training_time_ms/(step + 1):.2f}ms", console=True)
'''
NVIDIA_SMI = """Running Python 3.12.3
Running PyTorch 2.11.0+cu130 compiled for CUDA 13.0
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 580.126.09             Driver Version: 580.126.09     CUDA Version: 13.0     |
|=========================================+========================+======================|
|   0  NVIDIA H100 80GB HBM3          On  |   00000000:05:00.0 Off |                    0 |
+-----------------------------------------+------------------------+----------------------+
"""
RULE = "=" * 100


def header(padding: int = 0) -> str:
    """What train_gpt.py prints before its first step: its source (with `padding` lines of
    more code), a rule, the versions and nvidia-smi, a rule, the warm-up."""
    code = SOURCE + "".join(f"x_{i} = {i}  # more of the model's code\n" for i in range(padding))
    return (f"{code}\n{RULE}\n{NVIDIA_SMI}\n{RULE}\n"
            "Compiling model and warming up kernels (~7 minutes on first execution)\n")


def step_lines(total: int = 500, every: int = 125, train_loss: bool = False,
               curve=None) -> list[str]:
    """`curve(step)`: the val loss at a step (default: a falling loss)."""
    curve = curve or (lambda step: 3.28 + 7.55 * math.exp(-step / 60))
    lines, time_ms = [], 0.0
    for step in range(total + 1):
        if step == total or step % every == 0:
            # timed after a sync: a little later than the step's own line (the train line before)
            synced = time_ms + 3.0 if step else 0.0
            avg = "nan" if step == 0 else f"{synced / step:.2f}"
            lines.append(f"step:{step}/{total} val_loss:{curve(step):.4f} train_time:{synced:.0f}ms step_avg:{avg}ms")
        if step == total:
            break
        time_ms += 120.0 + step % 3
        loss = f" train_loss:{curve(step) + 0.1:.4f}" if train_loss else ""
        avg = "nan" if step < 10 else f"{time_ms / (step + 1):.2f}"
        lines.append(f"step:{step + 1}/{total}{loss} train_time:{time_ms:.0f}ms step_avg:{avg}ms")
    return lines


def write(path: Path, lines: list[str], padding: int = 0) -> Path:
    path.write_text(header(padding) + "\n".join(lines) + "\npeak memory allocated: 36347 MiB reserved: 52032 MiB\n")
    return path


def test_whole_step_lines_are_the_records_and_the_source_is_not(tmp_path):
    run = read_run(write(tmp_path / "run.txt", step_lines()))
    assert run.format == "modded_nanogpt"
    assert set(run.metrics) == {"val_loss", "train_time_ms", "step_avg_ms"}
    assert run.series("val_loss").index.tolist() == [0, 125, 250, 375, 500]
    assert run.series("train_time_ms").index.tolist() == list(range(501))
    assert run.config["max_steps"] == 500 and run.finished
    assert run.resolve_metric("eval/loss") == "val_loss"
    # the val line and the next train line both time step 125: a timing, read silently
    assert not run.warnings, run.warnings


def test_the_2024_lines_with_the_train_loss(tmp_path):
    run = read_run(write(tmp_path / "run.txt", step_lines(train_loss=True)))
    assert run.resolve_metric("train/loss") == "train_loss" and len(run.series("train_loss")) == 500


def test_analyze_plot_and_watch(tmp_path, capsys):
    log = write(tmp_path / "run.txt", step_lines(2000, every=50))
    assert main(["analyze", "--format", "json", str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("val_loss", "min")
    assert main(["plot", str(log), "-o", str(tmp_path / "fig.png")]) == 0
    assert main(["watch", "--format", "jsonl", str(log)]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["metric"] == "val_loss"
    assert summary["best_step"] == result["recommended_stop_step"]


def phased_lines() -> list[str]:
    """A val loss with a disruption, a readaptation and an overfit (the follow tests'
    accuracy curve, turned into a loss), at its steps."""
    values = dict(eval_curve())
    total = max(values)
    return step_lines(total, every=10, curve=lambda step: 4.0 - values[step])


def test_followed_as_printed_equals_the_replay(tmp_path):
    follower = follow_while_written(tmp_path / "run.txt", header() + "\n".join(phased_lines()) + "\n")
    assert follower.watch.result.n_records == read_run(tmp_path / "run.txt").n_records


def test_a_follow_started_while_the_model_compiles_waits_for_the_steps(tmp_path):
    """The source fills more than the 64 KiB a sniff reads and no step is printed for
    minutes: the log is known by the rule after the source, and the steps appended later
    are followed; the evaluation at the planned last step ends the follow."""
    path = tmp_path / "run.txt"
    path.write_text(header(padding=3000))
    assert path.stat().st_size > 64 * 1024
    assert sniff_format(path).FORMAT == "modded_nanogpt"
    with pytest.raises(InputError, match="no valid record"):
        read_run(path)
    follower = Follower(path, stop_on=())
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(phased_lines()) + "\n")
    followed = follower.ends_by_itself()
    replayed, _ = replay(path, stop_on=())
    assert followed == replayed and len(replayed) >= 2


def test_a_cut_step_line_is_named_and_the_rest_read(tmp_path):
    lines = step_lines()
    lines[3] = "step:3/500 train_time:"
    lines.insert(7, "step:7/500 val_loss:3.2 train_time:oops step_avg:1ms")
    run = read_run(write(tmp_path / "run.txt", lines))
    assert len(run.series("val_loss")) == 6  # the one of line 7 too: `oops` left out
    assert any("step:3/500 train_time:" in w for w in run.warnings), run.warnings
    assert any("train_time" in w and "no number" in w for w in run.warnings), run.warnings


@pytest.mark.parametrize("text", [
    SOURCE,  # the training script itself: no rule after it, no step line
    "step:1 - loss:0.5 - lr:0.1\nstep:2 - loss:0.4 - lr:0.1\n",  # verl's console
    "The speedrun prints lines like step:0/5100 val_loss:10.8 in its log.\n",  # prose
    # a home-made print log of that shape but without the speedrun's timings: kv_console's
    "step:1/3 val_loss:0.5 acc:0.1\nstep:2/3 val_loss:0.4 acc:0.2\nstep:3/3 val_loss:0.3 acc:0.3\n",
])
def test_other_text_is_not_taken(tmp_path, text):
    path = tmp_path / "notes.txt"
    path.write_text(text)
    try:
        assert sniff_format(path).FORMAT != "modded_nanogpt"
    except InputError:
        pass


MIRROR = Path("/work/.mirror/KellerJordan+modded-nanogpt/repo")
RECORDS = {  # two eras: train_loss on every step (Oct 2024); no train loss, 2 GPUs' code (2026)
    "records/track_1_short/2024-10-09_SOAP/5bdc3988-496c-4232-b4ef-53764cb81c92.txt": (6000, 49, True),
    "records/track_1_short/2026-07-13_PrefixTokenPrediction/baseline-1375/"
    "4438dd22-b0b7-4c1b-aaaa-7fa0454ec69d.txt": (1375, 7, False),
}


@pytest.mark.parametrize("name", RECORDS)
def test_real_record_logs(tmp_path, name, capsys):
    if not MIRROR.is_dir():
        pytest.skip("no mirror of KellerJordan/modded-nanogpt on this machine (the fetch tool makes one)")
    shown = subprocess.run(["git", "--git-dir", str(MIRROR), "show", f"HEAD:{name}"],
                           check=False, capture_output=True, text=True)
    if shown.returncode:
        pytest.skip(f"{name} is not in the mirror: {shown.stderr.strip()}")
    path = tmp_path / "record.txt"
    path.write_text(shown.stdout)
    planned, evaluations, has_train_loss = RECORDS[name]
    run = read_run(path)
    assert run.format == "modded_nanogpt" and run.config["max_steps"] == planned and run.finished
    val = [line for line in shown.stdout.splitlines() if line.startswith("step:") and "val_loss:" in line]
    assert len(run.series("val_loss")) == len(val) == evaluations
    assert run.series("val_loss").iloc[-1] == float(val[-1].split("val_loss:")[1].split()[0])
    assert ("train_loss" in run.metrics) == has_train_loss
    assert not run.warnings, run.warnings
    assert main(["analyze", "--format", "json", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == "val_loss" and result["recommended_stop_step"] == planned
