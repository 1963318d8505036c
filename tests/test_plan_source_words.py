"""`inspect` and `watch` name where a run's planned length comes from in the same words
(`PlanSource.where`): `inspect` said "planned to end at step 300" with no source where `watch`
said "from the run's config `max_steps`", and named the learning rate `lr` where `watch` said
`` `lr` ``. On a trainer_state.json with max_steps, a JSONL log with `args.max_steps`, a log
whose plan is where its learning rate's decay ends, and a finished SpeechBrain log."""

from __future__ import annotations

import json
import math
import re

import pytest
from test_plan_finished_log import write_log as write_speechbrain

from phasewatch.cli import main


def write_trainer_state(path) -> None:
    """The Trainer's own `TrainerState.save_to_json`, half-way through its 300 steps."""
    transformers = pytest.importorskip("transformers")
    history = []
    for step in range(10, 151, 10):
        history.append({"step": step, "epoch": step / 100, "loss": 2 * math.exp(-step / 100),
                        "learning_rate": 1e-4})
        if step % 30 == 0:
            history.append({"step": step, "epoch": step / 100, "eval_runtime": 1.0,
                            "eval_loss": round(1.0 - step / 1000 + 0.001 * (step % 7), 4)})
    transformers.TrainerState(max_steps=300, global_step=150, num_train_epochs=3,
                              log_history=history).save_to_json(str(path))


def write_jsonl(path, settings: dict | None, rate: bool = False) -> None:
    """A held-out loss every 10 steps to step 300 after a first record of `settings`; with
    `rate`, a learning rate decaying linearly to 0 at step 500."""
    rows = [settings] if settings is not None else []
    for k in range(31):
        row = {"step": 10 * k, "val/loss": round(0.8 - 0.01 * k + 0.0004 * k * k + 0.002 * (-1) ** k, 4)}
        if rate:
            row["lr"] = 1e-3 * (1 - 10 * k / 500)
        rows.append(row)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def said_by_inspect(capsys, path) -> str:
    assert main(["inspect", str(path)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith("planned to end at "))
    return re.fullmatch(r"planned to end at \S+ \S+ \((.*)\)", line)[1]


def said_by_watch(capsys, path) -> str:
    assert main(["watch", str(path)]) in (0, 1)
    summary = next(line for line in capsys.readouterr().err.splitlines()
                   if line.startswith("phasewatch: watched"))
    return re.search(r"; planned length [^(]+\((.*?)\); whole run", summary)[1]


@pytest.mark.parametrize("log, source", [
    ("trainer_state.json", "from the run's config `max_steps`"),
    ("args.jsonl", "from the run's config `args.max_steps`"),
    ("lr.jsonl", "from the learning rate's linear decay to 0, `lr`"),
    ("train_log.txt", ("the log says the run finished at epoch 35, where the learning rate's "
                       "linear decay to 0, `lr`, read from its rates would end at epoch 39")),
])
def test_inspect_and_watch_name_the_plans_source_alike(tmp_path, capsys, log, source):
    path = tmp_path / log
    if log == "trainer_state.json":
        write_trainer_state(path)
    elif log == "train_log.txt":
        write_speechbrain(path)
    else:
        write_jsonl(path, {"args": {"max_steps": 400}} if log == "args.jsonl" else None,
                    rate=log == "lr.jsonl")
    assert said_by_inspect(capsys, path) == source
    assert said_by_watch(capsys, path) == source
