"""build-nanogpt's `log/log.txt` (`phasewatch.io.build_nanogpt`): `STEP val X`, `STEP hella X`
and `STEP train X` lines, written here as its `train_gpt2.py` writes them (`f"{step} val
{val:.4f}\\n"`, a few lines, not a copied log). It was "unknown log format"."""

from __future__ import annotations

import json
import math

import pytest
from watch_follower import eval_curve, follow_while_written

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run, sniff_format


def log_lines(steps: int = 2000, every: int = 250) -> list[str]:
    """train_gpt2.py's order: at an evaluation step (and the last) the val loss, then
    HellaSwag, then the step's train loss."""
    lines = []
    for step in range(steps):
        loss = 3.3 + 7.6 * math.exp(-step / 300)
        if step % every == 0 or step == steps - 1:
            lines.append(f"{step} val {loss + 0.05:.4f}")
            lines.append(f"{step} hella {0.25 + 0.05 * (1 - math.exp(-step / 800)):.4f}")
        lines.append(f"{step} train {loss:.6f}")
    return lines


def write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_each_kind_is_read_under_the_name_a_user_types(tmp_path):
    run = read_run(write(tmp_path / "log.txt", log_lines()))
    assert run.format == "build_nanogpt"
    assert set(run.metrics) == {"val_loss", "train_loss", "hellaswag_accuracy"}
    assert run.series("val_loss").index.tolist() == [*range(0, 2000, 250), 1999]
    assert run.series("hellaswag_accuracy").iloc[0] == 0.25
    assert run.series("train_loss").iloc[0] == round(3.3 + 7.6, 6) and len(run.series("train_loss")) == 2000
    assert {role: run.resolve_metric(role) for role in ("eval/loss", "train/loss", "eval/accuracy")} == {
        "eval/loss": "val_loss", "train/loss": "train_loss", "eval/accuracy": "hellaswag_accuracy"}
    assert not run.warnings


def test_a_forks_items_and_kinds_keep_their_names(tmp_path):
    lines = [f"{s} train {10 - s / 100:.6f} ce={10 - s / 100:.6f} aux=0.000000" for s in range(20)]
    run = read_run(write(tmp_path / "log.txt", ["0 val 10.3045", "0 lr 0.000006", *lines]))
    assert {"ce", "aux", "lr", "train_loss", "val_loss"} == set(run.metrics)


def test_analyze_plot_and_watch_agree(tmp_path, capsys):
    log = write(tmp_path / "log.txt", log_lines())
    assert main(["analyze", "--format", "json", str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("hellaswag_accuracy", "max")
    assert main(["plot", str(log), "-o", str(tmp_path / "fig.png")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 0
    assert main(["watch", "--format", "jsonl", str(log)]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["metric"] == "hellaswag_accuracy"


def test_followed_as_the_script_appends_equals_the_replay(tmp_path):
    lines = []
    for step, acc in eval_curve():
        lines += [f"{step} val {4.0 - acc:.4f}", f"{step} hella {acc:.4f}",
                  f"{step} train {2.0 / (step + 1):.6f}"]
    follow_while_written(tmp_path / "log.txt", "\n".join(lines) + "\n", size=53)


def test_a_bad_line_is_named_and_the_rest_read(tmp_path):
    lines = log_lines(300)
    lines[4] = "3 train nan%"
    lines[7] = "Traceback (most recent call last):"
    run = read_run(write(tmp_path / "log.txt", lines))
    assert len(run.series("train_loss")) == 298
    assert any("lines 5, 8" in w and "is not a number" in w for w in run.warnings), run.warnings


@pytest.mark.parametrize("text", [
    "The log has lines like\n0 val 10.95\nand we plot them.\n",  # prose quoting a line
    "0 apples 3\n1 apples 4\n",  # no kind build-nanogpt writes
    "step 1 loss=0.5\nstep 2 loss=0.4\nstep 3 loss=0.3\n",  # kv_console
    "s:0 tel:10.9832\ns:0 trl:10.9550 lr:0.000000 norm:15.23\n",  # llm.c
])
def test_other_text_is_not_taken(tmp_path, text):
    path = tmp_path / "notes.txt"
    path.write_text(text)
    try:
        assert sniff_format(path).FORMAT != "build_nanogpt"
    except InputError:
        pass
