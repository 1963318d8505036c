"""A log that holds only timings of the run (LLaMA-Factory's `trainer_log.jsonl` of a trainer
that logged no loss: its progress rows alone) says there is nothing to judge the training by,
instead of asking for --metric and listing the clock as the one metric to pass."""

from __future__ import annotations

import json

import pytest

from phasewatch.cli import main

PROGRESS_ONLY = "".join(
    json.dumps({"current_steps": step, "total_steps": 512, "percentage": round(100 * step / 512, 2),
                "elapsed_time": f"0:{step // 45:02d}:{step % 45:02d}",
                "remaining_time": "0:08:29"}) + "\n"
    for step in range(5, 515, 5))
# as docs/formats.md quotes it
WHY = ("this log holds no metric of the model, only timings of the run (elapsed_time): there is "
       "nothing to judge the training by (a trainer that logged no loss, or a log cut before its "
       "first loss row)")


@pytest.mark.parametrize("command", ["analyze", "watch"])
def test_a_log_of_timings_only_says_there_is_nothing_to_judge(tmp_path, capsys, command):
    log = tmp_path / "trainer_log.jsonl"
    log.write_text(PROGRESS_ONLY)
    assert main([command, str(log)]) == 2
    err = capsys.readouterr().err
    assert WHY in err and "--metric" not in err


def test_inspect_says_the_log_holds_only_timings(tmp_path, capsys):
    log = tmp_path / "trainer_log.jsonl"
    log.write_text(PROGRESS_ONLY)
    assert main(["inspect", str(log)]) == 0
    out = capsys.readouterr().out
    assert "performance metric: none: the log holds only timings of the run (elapsed_time)" in out
    assert "analyze needs --metric" not in out
