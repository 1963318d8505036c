"""A detectron2 log that crashed (`Exception during training:`) short of its config's
SOLVER.MAX_ITER: `analyze` said the crash twice, the reader's "the run crashed at iteration
1247 (...): its training ended there, not finished" and "the log ends at step 1247, before the
step 2000 its run plans: it crashed there (...)". The second says both, and is the one kept."""

from __future__ import annotations

import json

from _files import write
from test_detectron2_plan import dumped
from test_io_detectron2_console import crashed_log

from phasewatch.cli import main

READER = "the run crashed at iteration 1247"
EARLY = "the log ends at step 1247, before the step {plan} its run plans: it crashed there"


def warnings_of(path, capsys, *options) -> list[str]:
    assert main(["analyze", str(path), "--format", "json", *options]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]["warnings"]


def test_a_crash_short_of_max_iter_is_said_once(tmp_path, capsys):
    path = write(tmp_path, dumped(crashed_log(1247)), name="log.txt")
    said = [w for w in warnings_of(path, capsys) if "crash" in w]
    assert len(said) == 1 and EARLY.format(plan=2000) in said[0], said
    # and in the text output
    assert main(["analyze", str(path)]) == 0
    assert capsys.readouterr().out.count("`Exception during training:`") == 1


def test_a_plan_given_on_the_command_line_likewise(tmp_path, capsys):
    path = write(tmp_path, crashed_log(1247), name="log.txt")  # no config dump: no plan
    assert [w for w in warnings_of(path, capsys) if "crash" in w] == [
        next(w for w in warnings_of(path, capsys) if READER in w)]
    said = [w for w in warnings_of(path, capsys, "--planned-steps", "1500") if "crash" in w]
    assert len(said) == 1 and EARLY.format(plan=1500) in said[0], said


def test_inspect_still_says_the_crash(tmp_path, capsys):
    path = write(tmp_path, dumped(crashed_log(1247)), name="log.txt")
    assert main(["inspect", str(path)]) == 0
    assert READER in capsys.readouterr().out
