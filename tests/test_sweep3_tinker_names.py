"""Tinker cookbook metrics.jsonl: SFT runs log `train_mean_nll` every step and their NLL
evaluator's held-out `test/nll` every `eval_every` steps; RL runs log `env/all/reward/total` and
`test/env/all/reward/total`. None was a role name, so analyze and watch stopped with "no
performance metric found" (6 files of the third new-user sweep)."""

from __future__ import annotations

import json
import math

from phasewatch.cli import main
from phasewatch.io import read_run


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_sft_takes_the_held_out_nll(tmp_path, capsys):
    log = tmp_path / "metrics.jsonl"
    rows = []
    for step in range(200):
        row = {"step": step, "epoch": 0, "progress": step / 200, "learning_rate": 2e-5,
               "num_tokens": 930, "train_mean_nll": 1.0 + 0.5 * math.exp(-step / 30)}
        if step % 20 == 0:
            row["test/nll"] = 1.2 + 0.3 * math.exp(-step / 40)
        row["time/step"] = 0.5
        rows.append(row)
    _write(log, rows)
    run = read_run(log)
    assert run.resolve_metric("eval/loss") == "test/nll"
    assert run.resolve_metric("train/loss") == "train_mean_nll"
    assert main(["analyze", "--format", "json", str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("test/nll", "min")
    assert main(["watch", "--format", "jsonl", str(log)]) == 0
    summary = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")][-1]
    assert summary["event"] == "summary" and summary["metric"] == "test/nll"


def test_rl_takes_the_held_out_reward_then_the_train_reward(tmp_path, capsys):
    log = tmp_path / "metrics.jsonl"
    rows = []
    for step in range(60):
        row = {"step": step, "env/all/reward/total": 0.2 + 0.6 * (1 - math.exp(-step / 15)),
               "env/all/ac_tokens_per_turn": 300.0, "optim/lr": 4e-5}
        if step % 10 == 0:
            row["test/env/all/reward/total"] = 0.1 + 0.6 * (1 - math.exp(-step / 15))
        rows.append(row)
    _write(log, rows)
    run = read_run(log)
    assert run.resolve_metric("eval/accuracy") == "test/env/all/reward/total"
    assert run.resolve_metric("train/reward") == "env/all/reward/total"
    assert main(["analyze", "--format", "json", str(log)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "test/env/all/reward/total"

    _write(log, [{k: v for k, v in r.items() if not k.startswith("test/")} for r in rows])
    assert main(["analyze", "--format", "json", str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == ("env/all/reward/total", "max")
