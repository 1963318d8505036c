"""A `trainer_state.json` whose history is empty says why where the state tells it."""

from __future__ import annotations

import json

from phasewatch.cli import main


def test_a_trainer_state_with_no_log_row_says_logging_steps_were_not_reached(tmp_path, capsys):
    """A Trainer run of 6 steps logging every 10 saves a `trainer_state.json` whose
    `log_history` is empty: the error says why, where it said only that no row has a step."""
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({
        "best_metric": None, "epoch": 2.0, "eval_steps": 500, "global_step": 6,
        "log_history": [], "logging_steps": 10, "max_steps": 6, "num_train_epochs": 3,
        "save_steps": 500, "train_batch_size": 5}, indent=2))
    assert main(["analyze", str(state)]) == 3
    # as docs/formats.md quotes it
    assert ("'log_history' is empty: the Trainer logs every logging_steps (10) steps and this run "
            "stopped at step 6 (global_step), before its first log row; a lower logging_steps "
            "gives a curve") in capsys.readouterr().err
