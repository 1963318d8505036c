"""llm.c's `main.log` (`phasewatch.io.llmc`): `s:STEP tel:X` (val loss), `s:STEP trl:X lr:X
norm:X` (train loss; older versions and the Python scripts write `trl:X` alone) and `s:STEP
eval:X` (HellaSwag), written here as `llmc/logger.h`'s fprintf formats write them (a few
lines, not a copied log). It was "unknown log format"."""

from __future__ import annotations

import json
import math

import pytest
from watch_follower import eval_curve, follow_while_written

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run, sniff_format


def llmc_lines(steps: int = 2000, every: int = 250, python: bool = False) -> list[str]:
    """train_gpt2.cu's order: at an evaluation step the val loss, then HellaSwag (not at
    step 0), then the step's train loss; the Python script writes `%f` and no lr/norm."""
    lines = []
    for step in range(steps + 1):
        loss = 3.3 + 7.6 * math.exp(-step / 300)
        if step % every == 0 or step == steps:
            lines.append(f"s:{step} tel:{loss + 0.05:f}" if python else f"s:{step} tel:{loss + 0.05:.4f}")
            if step and not python:
                lines.append(f"s:{step} eval:{0.25 + 0.05 * (1 - math.exp(-step / 800)):.4f}")
        if step < steps:
            lines.append(f"s:{step} trl:{loss:f}" if python else
                         f"s:{step} trl:{loss:.4f} lr:{6e-4 * min(1, step / 100):.6f} norm:{1.5:.2f}")
    return lines


def write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_each_line_kind_is_read_under_the_name_a_user_types(tmp_path):
    run = read_run(write(tmp_path / "main.log", llmc_lines()))
    assert run.format == "llmc"
    assert set(run.metrics) == {"val_loss", "train_loss", "hellaswag_accuracy", "lr", "grad_norm"}
    assert run.series("val_loss").index.tolist() == list(range(0, 2001, 250))
    assert run.series("val_loss").iloc[0] == round(3.3 + 7.6 + 0.05, 4)
    assert run.series("hellaswag_accuracy").index.tolist() == list(range(250, 2001, 250))
    assert len(run.series("train_loss")) == 2000 and run.series("lr").iloc[-1] == 0.0006
    assert {role: run.resolve_metric(role) for role in
            ("eval/loss", "train/loss", "eval/accuracy", "train/lr", "train/grad_norm")} == {
        "eval/loss": "val_loss", "train/loss": "train_loss",
        "eval/accuracy": "hellaswag_accuracy", "train/lr": "lr", "train/grad_norm": "grad_norm"}
    assert not run.warnings


def test_the_python_scripts_lines_and_the_older_train_line(tmp_path):
    run = read_run(write(tmp_path / "main.log", llmc_lines(python=True)))
    assert run.format == "llmc" and set(run.metrics) == {"val_loss", "train_loss"}
    assert run.series("train_loss").iloc[0] == round(3.3 + 7.6, 6)


def test_a_resumed_run_relogs_steps_and_the_later_lines_win(tmp_path):
    """`-y 1` appends to main.log and logs again from its checkpoint (dev/vislog.ipynb keeps
    the later value of each step)."""
    lines = llmc_lines(1000)[:-40] + [f"s:{s} trl:{9.0:.4f} lr:0.000600 norm:1.00" for s in range(900, 1000)]
    run = read_run(write(tmp_path / "main.log", lines))
    assert run.series("train_loss").loc[950] == 9.0
    assert any(event.name == "resume" for event in run.events)


def test_analyze_plot_and_watch(tmp_path, capsys):
    log = write(tmp_path / "main.log", llmc_lines())
    assert main(["analyze", "--format", "json", str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("hellaswag_accuracy", "max")
    assert main(["analyze", "--format", "json", "--metric", "val_loss", str(log)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["direction"] == "min"
    assert main(["plot", str(log), "-o", str(tmp_path / "fig.png")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 0
    assert main(["watch", "--format", "jsonl", str(log)]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["event"] == "summary" and summary["metric"] == "hellaswag_accuracy"


def test_followed_as_the_logger_appends_equals_the_replay(tmp_path):
    """The logger opens, appends one line and closes: written in pieces that cut lines."""
    lines = []
    for step, acc in eval_curve():
        lines += [f"s:{step} tel:{4.0 - acc:.4f}", f"s:{step} eval:{acc:.4f}",
                  f"s:{step} trl:{2.0 / (step + 1):.4f} lr:0.000600 norm:0.45"]
    source = "\n".join(lines) + "\n"
    follow_while_written(tmp_path / "main.log", source, size=97)


def test_a_bad_line_is_named_and_the_rest_read(tmp_path):
    lines = llmc_lines(500)
    lines[5] = "s:3 trl:1.2.3 lr:0.000600 norm:1.00"
    lines[9] = "Segmentation fault (core dumped)"
    run = read_run(write(tmp_path / "main.log", lines))
    assert len(run.series("train_loss")) == 498
    assert any("lines 6, 10" in w and "is not a number" in w for w in run.warnings), run.warnings


@pytest.mark.parametrize("text", [
    # prose that quotes one line of it
    "The logger writes lines such as\ns:0 tel:10.98\nto main.log, and more prose.\n",
    # a home-made print log (kv_console) and a space-separated table
    "step 1 loss=0.5\nstep 2 loss=0.4\nstep 3 loss=0.3\n",
    "s:0 foo:1\ns:1 foo:2\n",  # no kind llm.c writes first
])
def test_other_text_is_not_taken(tmp_path, text):
    path = tmp_path / "notes.txt"
    path.write_text(text)
    try:
        assert sniff_format(path).FORMAT != "llmc"
    except InputError:
        pass
