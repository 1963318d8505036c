"""The note on a log that ends before its plan says what the log shows of its end: a run whose
log says it finished short of the plan its config states (HF's `train_runtime` row, the
reference trainer's `stopped` event) was cut short by its trainer, not "still training"; one
whose log says it was interrupted, crashed or killed (run.json's status, MLflow's) is said so.
Such a finished run had no note at all: the plan of a finished run was not looked at."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest
from mlflow_runs import ENV

import phasewatch
from phasewatch.trainer.logging import RunWriter

FINISHED = ("the log says the run finished there: its trainer's early stopping or a time "
            "budget ended it before its planned length")


def early_notes(path) -> list[str]:
    return [w for w in phasewatch.analyze(path).warnings if "the log ends at" in w]


def hf_state(tmp_path, last: int, ended: bool):
    """trainer_state.json as the Trainer saves it (`TrainerState.save_to_json`) of a run of
    max_steps 2000 whose last row is at `last`, with the `train_runtime` row of its end."""
    pytest.importorskip("transformers")
    from transformers.trainer_callback import TrainerState

    history = []
    for step in range(10, last + 1, 10):
        history.append({"step": step, "epoch": step / 2000, "loss": 2 - step / 1000})
        if step % 50 == 0:
            history.append({"step": step, "epoch": step / 2000,
                            "eval_loss": 1.5 - step / 4000 + 0.3 * (step / last) ** 2})
    if ended:
        history.append({"step": last, "epoch": last / 2000, "train_runtime": 123.4,
                        "train_loss": 1.5})
    path = tmp_path / f"state_{last}_{ended}" / "trainer_state.json"
    path.parent.mkdir()
    TrainerState(global_step=last, max_steps=2000, log_history=history).save_to_json(str(path))
    return path


def test_an_hf_run_that_finished_short_of_its_max_steps(tmp_path):
    """An EarlyStoppingCallback's run: `train_runtime` at step 600 of max_steps 2000."""
    notes = early_notes(hf_state(tmp_path, 600, ended=True))
    assert len(notes) == 1 and "the log ends at step 600, before the step 2000" in notes[0]
    assert FINISHED in notes[0] and "still training" not in notes[0]
    assert early_notes(hf_state(tmp_path, 2000, ended=True)) == []  # at its plan: none
    unfinished = early_notes(hf_state(tmp_path, 610, ended=False))  # read while it trains
    assert len(unfinished) == 1 and "still training" in unfinished[0]


def test_an_hf_state_that_reached_max_steps_with_its_last_rows_unlogged(tmp_path):
    """A checkpoint's trainer_state.json whose global_step is its max_steps, its rows ending an
    epoch earlier (the last evaluation not in the file): the run reached its plan, it was not
    cut short by an early stop or a time budget."""
    path = hf_state(tmp_path, 1600, ended=False)
    state = json.loads(path.read_text())
    state["global_step"] = 2000
    path.write_text(json.dumps(state))
    [note] = early_notes(path)
    assert "the log ends at step 1600, before the step 2000" in note
    assert "its trainer did reach step 2000 (this trainer_state.json's global_step)" in note
    assert FINISHED not in note and "still training" not in note


@pytest.mark.parametrize("event, status, said", [
    ("stopped", "finished", "its trainer's early stopping ended it there (run.json's `stopped`"),
    ("interrupted", "interrupted", "it was interrupted there (run.json's `interrupted` event)"),
])
def test_the_reference_trainers_run_says_what_ended_it(tmp_path, event, status, said):
    """As `trainer.loop` ends a run short of its `steps`: its monitor's stop, Ctrl-C."""
    writer = RunWriter(tmp_path / "run", "r", "sft", {"steps": 2000}, None)
    for step in range(10, 610, 10):
        writer.log(step, {"train/loss": 2 - step / 1000,
                          "eval/accuracy": 0.5 + 0.1 * math.sin(step / 200)})
    writer.event(600, event)
    writer.close(status=status)
    notes = early_notes(tmp_path / "run")
    assert len(notes) == 1 and said in notes[0], notes


MLFLOW_RUNS = textwrap.dedent(
    """
    import sys, mlflow
    mlflow.set_tracking_uri(sys.argv[1])
    for status in ("FINISHED", "FAILED", "KILLED"):
        mlflow.start_run(run_name=status)
        mlflow.log_params({"max_steps": 2000})
        for step in range(10, 610, 10):
            mlflow.log_metrics({"eval/accuracy": 0.5 + step / 10000}, step=step)
        mlflow.end_run(status=status)
    """
)


def test_an_mlflow_runs_status_says_how_it_ended(tmp_path):
    """FAILED and KILLED end a run as FINISHED does (`finished`), which is no finish."""
    pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    subprocess.run([sys.executable, "-c", MLFLOW_RUNS, uri], env=ENV, check=True,
                   capture_output=True, text=True, timeout=300)
    for status, said in (("FINISHED", FINISHED),
                         ("FAILED", "it crashed there (the run's recorded status says so)"),
                         ("KILLED", "it was killed there (the run's recorded status says so)")):
        notes = early_notes(tmp_path / "mlflow.db" / status)  # the run of that name
        assert len(notes) == 1 and said in notes[0], (status, notes)
