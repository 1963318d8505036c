"""HF console logs: the step of each row from the progress bar drawn before it, where one
logging handler wrote both (its prefix heads the draws and the rows alike).

Was (trial 39c, hfconsole-phi2-qlora-10ev): "no training step in the log: positions are
epochs", 19 of 115 rows dropped for sharing a rounded epoch, the stop at "epoch 2.95" (JSON
29500) where the run saved checkpoint-3600, and no plan, though every row follows the
Trainer's `N/3657` draw. A terminal's bar (redrawn with `\\r`, no prefix) is not trusted: its
rows come in blocks apart from the draws.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from phasewatch.io import read_run
from phasewatch.io.hf_console import LineParser

REAL = Path(__file__).resolve().parents[1] / "benchmarks/real_corpus/data/hfconsole-phi2-qlora-10ev"
PREFIX = "2025-03-06 23:{m:02d}:{s:02d},{ms:03d} - INFO - "


def _handler_log(total: int = 400, first: int = 200) -> str:
    """A resumed run logged through a handler: a draw per step, a train row every 10 steps at
    an epoch rounded to 0.01 (2 epochs of 200 steps: 0.005 per step, so rows 10 apart can
    share one), an evaluation every 50 steps after its own bar."""
    lines = []
    for t, step in enumerate(range(first + 1, total + 1), 1):
        head = PREFIX.format(m=t // 60 % 60, s=t % 60, ms=t % 1000)
        lines.append(f"{head}{100 * step // total}%|####| {step}/{total} [00:{t % 60:02d}<01:00,  1.2it/s]")
        epoch = round(step / 200, 2)
        if step % 10 == 0:
            loss = 2.0 - step / 1000
            lines.append(f"{head}{{'loss': {loss:.4f}, 'grad_norm': 0.5, 'learning_rate': 1e-05, "
                         f"'epoch': {epoch}}}")
        if step % 50 == 0:
            for i in range(1, 6):
                lines.append(f"{head}{20 * i}%|##| {i}/5 [00:0{i}<00:04,  1.1it/s]")
            lines.append(f"{head}{{'eval_loss': {0.8 - step / 10000:.4f}, 'eval_runtime': 5.0, "
                         f"'epoch': {epoch}}}")
    lines.append(f"{head}{{'train_runtime': 100.0, 'train_loss': 1.7, 'epoch': 2.0}}")
    return "\n".join(lines) + "\n"


def test_the_draw_before_each_row_is_its_step_and_the_bar_total_the_plan(tmp_path):
    path = tmp_path / "train.log"
    path.write_text(_handler_log())
    run = read_run(path)
    assert run.step_unit == "step"
    assert run.column("eval_loss").steps.tolist() == [250, 300, 350, 400]
    assert run.column("loss").steps.tolist() == list(range(210, 401, 10))  # none dropped
    assert run.config["planned_steps"] == 400
    assert not any("share their epoch" in w for w in run.warnings)


def test_a_followed_log_gives_the_steps_of_its_replay(tmp_path):
    text = _handler_log()
    parser, steps = LineParser(), []
    for lineno, line in enumerate(text.splitlines(), 1):
        steps += [step for step, _ in parser.feed(line, lineno)]
    path = tmp_path / "train.log"
    path.write_text(text)
    assert sorted(set(steps)) == sorted(set(read_run(path).table["step"]))
    assert steps == sorted(steps)  # each row's step is known when it is read


@pytest.mark.parametrize("case", ["terminal", "eval_bar_first"])
def test_draws_whose_order_with_the_rows_is_not_kept_give_no_step(tmp_path, case):
    if case == "terminal":  # stderr redrawn with \r, rows in blocks on a buffered stdout
        draws = "".join(f"\r{s}/300 [00:0{s}<05:00,  1.2s/it]\r{' ' * 40}\r" for s in range(1, 9))
        rows = "".join(f"{{'loss': {1 - s / 100}, 'epoch': {round(s / 290, 2)}}}\n"
                       for s in range(1, 9))
        text = draws + "\n" + rows
    else:  # an evaluation bar drawn before an evaluation at the start (epoch 0)
        text = (PREFIX.format(m=0, s=1, ms=0) + "100%|##| 5/5 [00:05<00:00,  1.1it/s]\n"
                + PREFIX.format(m=0, s=1, ms=1) + "{'eval_loss': 0.9, 'epoch': 0.0}\n")
    path = tmp_path / "train.log"
    path.write_text(text)
    run = read_run(path)
    assert run.step_unit == "epoch/10000"
    assert "planned_steps" not in run.config


@pytest.mark.skipif(not REAL.is_dir(), reason="real corpus log absent")
def test_the_real_resumed_qlora_log():
    run = read_run(REAL)
    assert run.step_unit == "step" and run.config["planned_steps"] == 3657
    assert run.column("eval_loss").steps.tolist() == list(range(2700, 3601, 100))
    assert run.column("loss").steps.size == 105
