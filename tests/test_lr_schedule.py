"""A log that states no plan still gives its length away where its learning rate decays linearly
to 0 (`phasewatch.lr_schedule`): read from the rates transformers' own schedulers set."""

from __future__ import annotations

import json

import pytest
from watch_follower import eval_curve, follow_while_written, replay

from phasewatch.cli import main
from phasewatch.lr_schedule import linear_decay_end

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

PLAN, WARMUP, EVERY = 600, 50, 10


def _rates(kind: str, total: int = PLAN, until: int = PLAN,
           every: int = EVERY) -> list[tuple[int, float]]:
    """(step, learning rate) every `every` steps from the scheduler `kind` of transformers, as
    an HF Trainer logs it (the rate of the step just taken)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2e-5)
    scheduler = transformers.get_scheduler(kind, optimizer, num_warmup_steps=WARMUP,
                                           num_training_steps=total)
    rates = []
    for step in range(1, until + 1):
        optimizer.step()
        scheduler.step()
        if step % every == 0:
            rates.append((step, scheduler.get_last_lr()[0]))
    return rates


def test_the_end_of_a_linear_decay_and_no_end_for_other_schedules():
    steps, rates = zip(*_rates("linear"))
    assert abs(linear_decay_end(steps, rates) - PLAN) <= 1
    steps, rates = zip(*_rates("linear", until=330))  # read while it trains: the same end
    assert abs(linear_decay_end(steps, rates) - PLAN) <= 1
    for kind in ("cosine", "constant_with_warmup"):  # no straight line to 0
        steps, rates = zip(*_rates(kind))
        assert linear_decay_end(steps, rates) is None, kind
    steps, rates = zip(*_rates("linear", total=60_000, until=600))  # fallen under a tenth
    assert linear_decay_end(steps, rates) is None


def _log(path, until: int, every: int = EVERY) -> None:
    """A JSON-lines log with no config: a row every `every` steps with the loss, the learning
    rate and the held-out accuracy of `eval_curve` (a dip, a recovery and an overfit)."""
    accuracy = [value for _, value in eval_curve(n=PLAN // every)]
    rows = [{"step": step, "loss": round(2.0 - step / 1000, 4), "learning_rate": rate,
             "eval/accuracy": accuracy[k]}
            for k, (step, rate) in enumerate(_rates("linear", until=until, every=every))]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_inspect_analyze_and_watch_take_the_plan_the_decay_gives(tmp_path, capsys):
    """A log read at step 360 of 600 whose config states no plan: `inspect` gives the plan and
    where it comes from, `analyze` says the run did not reach it, and `watch` judges what is
    early against it (without it, a run read while it trains looks finished)."""
    log = tmp_path / "metrics.jsonl"
    _log(log, until=360)
    source = "where the learning rate's linear decay, learning_rate, reaches 0"
    assert main(["inspect", str(log)]) == 0
    assert f"planned to end at step 600 ({source})" in capsys.readouterr().out
    assert main(["analyze", str(log)]) == 0
    assert ("the log ends at step 360, before the step 600 its run plans (where its learning "
            "rate's linear decay, learning_rate, reaches 0)") in capsys.readouterr().out
    assert main(["watch", str(log), "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    assert ("planned length: 600 steps, from the learning rate's linear decay to 0, "
            "`learning_rate`, refined as the run goes on") in err
    assert json.loads(out.splitlines()[-1])["planned"] == {"steps": 600, "from": "lr",
                                                           "key": "learning_rate"}


def test_a_follow_reads_the_plan_as_a_replay_does(tmp_path):
    log = tmp_path / "metrics.jsonl"
    _log(tmp_path / "whole.jsonl", until=PLAN, every=2)  # 300 evaluations
    follower = follow_while_written(log, (tmp_path / "whole.jsonl").read_text(), size=4001)
    assert any("from the learning rate's linear decay" in m for m in follower.messages)
    _, result = replay(log, stop_on=())
    assert result.plan is not None and abs(result.plan.steps - PLAN) <= 1
