"""A log that states no plan still gives its length away where its learning rate decays linearly
or along a cosine to 0 (`phasewatch.lr_schedule`): read from the rates transformers' own
schedulers set."""

from __future__ import annotations

import json
import math

import pytest
from watch_follower import eval_curve, follow_while_written, replay

from phasewatch.cli import main
from phasewatch.lr_schedule import decay_end

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

PLAN, WARMUP, EVERY = 600, 50, 10


def _rates(kind: str, total: int = PLAN, until: int = PLAN,
           every: int = EVERY, **options) -> list[tuple[int, float]]:
    """(step, learning rate) every `every` steps from the scheduler `kind` of transformers, as
    an HF Trainer logs it (the rate of the step just taken)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2e-5)
    scheduler = transformers.get_scheduler(kind, optimizer, num_warmup_steps=WARMUP,
                                           num_training_steps=total, **options)
    rates = []
    for step in range(1, until + 1):
        optimizer.step()
        scheduler.step()
        if step % every == 0:
            rates.append((step, scheduler.get_last_lr()[0]))
    return rates


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_the_end_of_a_linear_or_cosine_decay(kind):
    for until in (PLAN, 330, 200):  # the whole run, and read while it trains: the same end
        steps, rates = zip(*_rates(kind, until=until))
        decay = decay_end(steps, rates)
        assert abs(decay.end - PLAN) <= 1 and decay.words() == f"{kind} decay to 0", until
    steps, rates = zip(*_rates(kind, until=100))  # fallen under a tenth of the peak: too soon
    assert decay_end(steps, rates) is None
    steps, rates = zip(*_rates(kind, every=7)[WARMUP // 7 + 2:])  # the top before the log's
    assert abs(decay_end(steps, rates).end - PLAN) <= 1  # first rate: the same end


def test_the_end_of_a_cosine_to_a_floor():
    """transformers' `cosine_with_min_lr` (a tenth of the peak, as nanoGPT's schedule): read
    as a cosine to 0 while its floor does not show, a few percent long, then exactly."""
    floor = {"scheduler_specific_kwargs": {"min_lr_rate": 0.1}}
    steps, rates = zip(*_rates("cosine_with_min_lr", until=200, **floor))
    assert PLAN < decay_end(steps, rates).end < 1.06 * PLAN
    for until in (330, PLAN):
        steps, rates = zip(*_rates("cosine_with_min_lr", until=until, **floor))
        decay = decay_end(steps, rates)
        assert abs(decay.end - PLAN) <= 1, until
        assert decay.words() == "cosine decay to its floor, 0.1 of its peak"


def test_a_rate_logged_twice_where_the_warm_up_ends():
    """A console log's epochs rounded to 2 decimals give two rows one step: the last warm-up
    rate and the peak at the same step (hfconsole-cap-rlvr-sft-trainloss, an internal error)."""
    steps, rates = (list(column) for column in zip(*_rates("cosine")))
    at = rates.index(max(rates))
    steps[at - 1] = steps[at]
    assert abs(decay_end(steps, rates).end - PLAN) <= 1
    assert decay_end([10.0] * 8, [2e-5, 1.9e-5, 1.7e-5, 1.5e-5, 1.2e-5, 1e-5, 8e-6, 5e-6]) is None


def test_no_end_for_schedules_that_do_not_reach_0():
    for kind in ("constant_with_warmup", "inverse_sqrt"):
        steps, rates = zip(*_rates(kind))
        assert decay_end(steps, rates) is None, kind
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2e-5)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.999)
    steps, rates = [], []
    for step in range(1, PLAN + 1):  # convex all along: its tail is no cosine's end
        optimizer.step()
        scheduler.step()
        if step % EVERY == 0:
            steps.append(step)
            rates.append(scheduler.get_last_lr()[0])
    assert decay_end(steps, rates) is None
    assert decay_end(steps[20:], rates[20:]) is None  # the top not seen either


def _log(path, until: int, every: int = EVERY, kind: str = "linear") -> None:
    """A JSON-lines log with no config: a row every `every` steps with the loss, the learning
    rate of scheduler `kind` and the held-out accuracy of `eval_curve` (a dip, a recovery and an
    overfit)."""
    accuracy = [value for _, value in eval_curve(n=PLAN // every)]
    rows = [{"step": step, "loss": round(2.0 - step / 1000, 4), "learning_rate": rate,
             "eval/accuracy": accuracy[k]}
            for k, (step, rate) in enumerate(_rates(kind, until=until, every=every))]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_inspect_analyze_and_watch_take_the_plan_the_decay_gives(tmp_path, capsys, kind):
    """A log read at step 360 of 600 whose config states no plan: `inspect` gives the plan and
    where it comes from, `analyze` says the run did not reach it, and `watch` judges what is
    early against it (without it, a run read while it trains looks finished)."""
    log = tmp_path / "metrics.jsonl"
    _log(log, until=360, kind=kind)
    source = f"from the learning rate's {kind} decay to 0, `learning_rate`"
    assert main(["inspect", str(log)]) == 0
    assert f"planned to end at step 600 ({source})" in capsys.readouterr().out
    assert main(["analyze", str(log)]) == 0
    assert ("the log ends at step 360, before the step 600 its run plans (where its learning "
            f"rate's {kind} decay to 0, `learning_rate`, ends)") in capsys.readouterr().out
    assert main(["watch", str(log), "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    assert (f"planned length: 600 steps, from the learning rate's {kind} decay to 0, "
            "`learning_rate`, refined as the run goes on") in err
    assert json.loads(out.splitlines()[-1])["planned"] == {"steps": 600, "from": "lr",
                                                           "key": "learning_rate"}


def test_the_rates_are_fitted_once_for_the_plan_and_its_words(tmp_path, capsys, monkeypatch):
    """`inspect` and `analyze` take the plan and the words that name its source from one fit
    of the rates (`whole_plan.plan_and_decay`); each fitted them twice."""
    import phasewatch.whole_plan

    log = tmp_path / "metrics.jsonl"
    _log(log, until=360)
    fits = []
    fit = phasewatch.whole_plan.lr_plan
    monkeypatch.setattr(phasewatch.whole_plan, "lr_plan", lambda run: fits.append(1) or fit(run))
    for command in ("inspect", "analyze"):
        fits.clear()
        assert main([command, str(log)]) == 0
        assert "learning rate's linear decay to 0, `learning_rate`" in capsys.readouterr().out
        assert len(fits) == 1, command


def test_a_plan_given_by_the_option_is_not_said_to_come_from_the_learning_rate(tmp_path, capsys):
    """--planned-steps is the plan's source: where it equals the decay's end, the note named
    the learning rate's decay as the source all the same."""
    log = tmp_path / "metrics.jsonl"
    _log(log, until=360)
    assert main(["analyze", str(log), "--planned-steps", "600"]) == 0
    out = capsys.readouterr().out
    assert "the log ends at step 360, before the step 600 its run plans: the run stopped" in out


def test_a_follow_reads_the_plan_as_a_replay_does(tmp_path):
    log = tmp_path / "metrics.jsonl"
    _log(tmp_path / "whole.jsonl", until=PLAN, every=2)  # 300 evaluations
    follower = follow_while_written(log, (tmp_path / "whole.jsonl").read_text(), size=4001)
    assert any("from the learning rate's linear decay" in m for m in follower.messages)
    _, result = replay(log, stop_on=())
    assert result.plan is not None and abs(result.plan.steps - PLAN) <= 1


def test_a_watch_says_the_floor_a_cosine_shows_at_the_end_it_was_read_to_end_at(tmp_path, capsys):
    """HF's `cosine_with_min_lr` (min_lr_rate 0.03) over 20 steps, logged at each: its first
    rates read as a cosine to 0 ending at step 20, and from step 13 as one to its floor ending
    at the same step. The watch's plan said "cosine decay to 0" to the end while `analyze` and
    `inspect` said "to its floor": the words must follow the decay read, not only its end."""
    floor = 0.03
    rows = [{"step": step,
             "learning_rate": 2e-5 * (floor + (1 - floor) * (1 + math.cos(math.pi * step / 20)) / 2),
             **({"eval/accuracy": 0.5 + step / 100} if step % 2 == 0 else {})}
            for step in range(1, 16)]
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    words = "cosine decay to its floor, 0.03 of its peak"
    assert main(["analyze", str(log)]) == 0
    assert f"(where its learning rate's {words}, `learning_rate`, ends)" in capsys.readouterr().out
    assert main(["watch", str(log)]) == 0
    assert f"planned length 20 steps (from the learning rate's {words}, `learning_rate`)" \
        in capsys.readouterr().err


@pytest.mark.parametrize(("t_max", "note"), [(8, False), (16, True)])
def test_a_rate_logged_once_an_epoch_ends_its_decay_an_epoch_after_the_last_row(
        tmp_path, capsys, t_max, note):
    """A script logs at each epoch's row the rate that epoch trained with, then steps its
    scheduler: a cosine over the 8 epochs it runs reaches 0 one row after the last, which is
    no early end; over 16 epochs, the run stopped at half its plan is one."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t_max)
    lines = ["epoch,lr,val_acc"]
    for epoch in range(8):
        lines.append(f"{epoch},{optimizer.param_groups[0]['lr']!r},{0.5 + 0.04 * epoch}")
        optimizer.step()
        scheduler.step()
    log = tmp_path / "history.csv"
    log.write_text("\n".join(lines) + "\n")
    assert main(["analyze", str(log), "--metric", "val_acc"]) == 0
    out = capsys.readouterr().out
    assert ("the log ends at epoch 7" in out) is note
    assert ("before the epoch 16 its run plans" in out) is note
