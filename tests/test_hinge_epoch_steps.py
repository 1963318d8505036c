"""A multi-epoch fine-tune's held-out loss that holds within each epoch and steps up where the
train set is seen again (`phasewatch.hinge`, epoch steps): one overfit across the epochs, after
the first epoch's fall, where the broken line alone read its steps as noise and its epochs as
plateaus (`plateau, overfit, plateau`)."""

from __future__ import annotations

import json

import numpy as np

from phasewatch import read_run
from phasewatch.analysis import analyze_run

EPOCH = 223  # steps an epoch takes; evaluations every 50 steps, three epochs
JITTER = [0.0, 0.001, -0.001, 0.0005, -0.0005, 0.001, -0.001, 0.0005, -0.0005, 0.001, -0.001,
          0.0, 0.001]


def _state(tmp_path, eval_loss) -> str:
    """A trainer_state.json of a 3-epoch run: train loss every 10 steps, eval_loss every 50."""
    rows = [{"step": s, "epoch": round(s / EPOCH, 4), "loss": round(1.2 - 0.4 * s / 650, 4)}
            for s in range(10, 660, 10)]
    rows += [{"step": s, "epoch": round(s / EPOCH, 4), "eval_loss": v}
             for s, v in zip(range(50, 700, 50), eval_loss)]
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": sorted(rows, key=lambda r: r["step"]),
                                "global_step": 650, "max_steps": 650, "num_train_epochs": 3}))
    return str(path)


def test_a_held_out_loss_stepping_up_at_each_epoch_is_one_overfit(tmp_path):
    # epoch 1 falls 0.018 in steps of 0.006; epochs 2 and 3 hold within +-0.001, each 0.023
    # and 0.098 above the one before
    levels = [1.070, 1.064, 1.058, 1.052] + [1.075] * 5 + [1.173] * 4
    run = read_run(_state(tmp_path, [round(a + b, 4) for a, b in zip(levels, JITTER)]))
    assert [e.step for e in run.events if e.name == "epoch_boundary"] == [EPOCH, 2 * EPOCH]
    a = analyze_run(run, "eval_loss")
    assert [(p.name, p.start_step, p.end_step) for p in a.phases] == [
        ("improvement", 50, 200), ("overfit", 200, 650)]
    assert a.recommended_stop_step == 200
    # judged against the scatter within the epochs, not the steps between them
    assert a.extra["noise_sd"] < 0.005


def test_a_loss_that_does_not_step_at_its_epochs_reads_as_without_them(tmp_path):
    # a fall, a rounded turn and a smooth rise through both epoch starts: no step pays its
    # price, and the phases and noise are those of the same values logged with no epoch
    x = np.arange(13)
    values = [round(1.0 + 0.002 * (v - 5) ** 2 + j, 4) for v, j in zip(x, JITTER)]
    with_epochs = analyze_run(read_run(_state(tmp_path, values)), "eval_loss")
    plain = tmp_path / "plain"
    plain.mkdir()
    rows = [{"step": s, "eval_loss": v} for s, v in zip(range(50, 700, 50), values)]
    (plain / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    without = analyze_run(read_run(plain / "metrics.jsonl"), "eval_loss")
    assert [p.name for p in with_epochs.phases] == ["improvement", "plateau", "overfit"]
    assert [(p.name, p.start_step, p.end_step) for p in with_epochs.phases] == \
        [(p.name, p.start_step, p.end_step) for p in without.phases]
    assert with_epochs.extra["noise_sd"] == without.extra["noise_sd"]
