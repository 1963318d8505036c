"""A verl console log whose first step line comes after more than the 64 KiB head, without
Ray's `(main_task pid=N)` prefix: Logic-RL's `output.log` (W&B's capture of the trainer's
stdout) prints a validation's sample generations, 2 MB of them, before `step:1`. It was an
"unknown log format"; the sniff now searches further for a step line in any text file."""

from __future__ import annotations

from phasewatch.cli import main
from phasewatch.io import read_run

SAMPLE = """================================================================================
============================ Processing New Sample =============================
[Ground Truth] Final assignment: {'A': 'true', 'B': 'false'}
[Model Response]
<think> Let's break down the logical formulas and simplify them step by step.
Step 1: A is true, so step 2 follows. </think>
"""


def logic_rl_output(steps: int) -> str:
    lines = ["Using LocalLogger is deprecated. The constructor API will change",
             "validation generation end", SAMPLE * 400,
             "step:0 - val/test_score/logic_assignment:0.420"]
    for step in range(1, steps + 1):
        lines.append(SAMPLE * 3)
        lines.append(f"step:{step} - actor/kl_loss:0.001 - actor/pg_loss:-0.375 - "
                     f"reward/mean:{0.1 * step:.3f} - critic/score/mean:{0.1 * step:.3f} - "
                     f"response_length/mean:{800 + step}.000")
    return "\n".join(lines) + "\n"


def test_step_lines_after_a_head_of_samples_are_read_as_verl(tmp_path, capsys):
    log = tmp_path / "output.log"
    text = logic_rl_output(6)
    assert text.index("step:0 -") > 64 * 1024
    log.write_text(text)
    run = read_run(log)
    assert run.format == "verl_console" and run.n_steps == 7
    assert run.series("critic/score/mean").to_dict() == {s: round(0.1 * s, 3) for s in range(1, 7)}
    assert main(["inspect", str(log)]) == 0
    assert "[verl_console]" in capsys.readouterr().out.splitlines()[0]


def test_a_long_text_without_a_step_line_is_still_unknown(tmp_path, capsys):
    log = tmp_path / "output.log"
    log.write_text(SAMPLE * 2000 + "the model wrote step:3 - x:1 inside its answer\n")
    assert main(["inspect", str(log)]) == 3
    assert "unknown log format" in capsys.readouterr().err
