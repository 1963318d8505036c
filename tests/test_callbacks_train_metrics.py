"""The framework callbacks tell their monitor which watched metrics are scored on the training
batches (`MonitorHost.tell_train_metrics`, by `train_beside.is_train_metric` as `watch` applies it to the
log): a train loss's alerts count readings, not evaluations, and its overfit is called an
instability of training, as `watch` and `analyze` say it on the log the trainer writes."""

from __future__ import annotations

import numpy as np

from phasewatch.callbacks._common import MonitorHost

TRAINED = "is scored on the training batches"


def _loss() -> np.ndarray:
    """Falls, holds, then climbs back for 100 values: an overfit alert on any metric."""
    rng = np.random.default_rng(3)
    return (np.r_[np.linspace(2.0, 1.0, 60), np.full(80, 1.0), np.linspace(1.0, 1.6, 100)]
            + rng.normal(0, 0.01, 240))


def _overfit_message(host: MonitorHost, row) -> str:
    messages = [alert.message for step, value in enumerate(_loss())
                for alert in host.observe(10 * step, row(float(value)))
                if alert.event == "overfit"]
    assert messages, "no overfit alert"
    return messages[0]


def test_a_train_loss_is_watched_in_readings_and_a_held_out_loss_in_evaluations():
    host = MonitorHost("loss", None, (), None, None, None)  # HF's train loss, `feed_logs=True`
    message = _overfit_message(host, lambda v: {"loss": v, "learning_rate": 1e-5, "epoch": 0.1})
    assert host.monitor.config.train_metrics == ("loss",)
    assert "against the readings near its best" in message and TRAINED in message, message

    host = MonitorHost("eval/loss", None, (), None, None, None)
    message = _overfit_message(host, lambda v: {"eval_loss": v, "epoch": 0.1})
    assert host.monitor.config.train_metrics == ()
    assert "against the evaluations near its best" in message and TRAINED not in message


def test_a_bare_accuracy_is_training_s_only_beside_a_validation_accuracy():
    """Lightning's `self.log("acc")` beside `self.log("val_acc")`: the train side of the pair,
    as `watch` reads it from metrics.csv; alone, an accuracy the log does not place."""
    host = MonitorHost("acc", None, (), None, None, None)
    host.observe(1, {"acc": 0.5, "val_acc": 0.4})
    assert host.monitor.trackers_[0].series.value_word == "reading"
    host = MonitorHost("acc", None, (), None, None, None)
    host.observe(1, {"acc": 0.5})
    assert host.monitor.trackers_[0].series.value_word == "evaluation"


def test_a_reward_chosen_from_the_training_log_is_placed_and_the_options_decide_first():
    """A GRPO run watched without a metric: the reward chosen from the training log is
    training's; `options={"train_metrics": ()}` is the user's word and is kept."""
    host = MonitorHost(None, None, (), None, None, None)
    row = {"loss": 0.01, "reward": 0.3, "reward_std": 0.1, "learning_rate": 1e-6}
    host.choose(row, train_log=True)
    host.observe(1, row)
    assert host.monitor.config.train_metrics == ("reward",)
    host = MonitorHost("reward", None, (), None, None, {"train_metrics": ()})
    host.observe(1, row)
    assert host.monitor.config.train_metrics == ()
