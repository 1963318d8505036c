"""`watch` replaying a log that holds no record (a W&B run that never called `wandb.log`, a
TensorBoard file of hyperparameters only, a trainer_state.json with an empty log_history, a
CSV header): the reader's own error and exit 3, as `analyze` gives; it used to exit 0 with a
summary of metric None ("None: phase no significant change yet")."""

from __future__ import annotations

import json

import pytest

from phasewatch.cli import main


@pytest.mark.parametrize("name, text", [
    ("metrics.csv", "step,loss,eval_loss\n"),
    ("trainer_state.json", json.dumps({"global_step": 0, "log_history": [], "max_steps": 90})),
])
def test_a_replayed_log_without_records_is_the_readers_error(name, text, tmp_path, capsys):
    log = tmp_path / name
    log.write_text(text)
    assert main(["analyze", str(log)]) == 3
    said = capsys.readouterr().err
    assert main(["watch", "--format", "jsonl", str(log)]) == 3
    out, err = capsys.readouterr()
    assert err == said and str(log) in err  # the same message, naming the file
    assert out == ""  # no summary of a watch of nothing


def test_a_followed_empty_log_that_stays_empty_is_exit_3_as_its_replay(tmp_path, capsys):
    """Following, an empty log is waited for; still empty at --idle-exit it is exit 3, as its
    replay (it was exit 0, "watched no records", which a CI step took for a clean run)."""
    log = tmp_path / "metrics.csv"
    log.write_text("step,loss\n")
    assert main(["watch", "--follow", "--idle-exit", "0.3", str(log)]) == 3
    err = capsys.readouterr().err
    assert f"no record was read from {log} in " in err and " s of following (idle)" in err
