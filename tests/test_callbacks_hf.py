"""PhasewatchCallback with the real Hugging Face Trainer on a tiny CPU model (no downloads).

The model really trains and is really evaluated every step; `compute_metrics` reports a
scripted held-out accuracy (rise, peak, decline, plus noise) so the test knows where the overfit
is. What is under test is the plumbing: metric names, stop flag, saved-checkpoint choice under
mismatched eval/save cadences, and resume through trainer_state.json.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from scripted_eval import N_EVALS, PEAK, ScriptedMetrics
from tiny_trainer import tiny_trainer

from phasewatch.callbacks.hf import PhasewatchCallback
from phasewatch.online import PhaseMonitor, StopReason


def make_trainer(tmp_path, callback, max_steps, save_steps=7, logging_steps=1000, accuracy=None,
                 compute_metrics=True):
    metrics = ScriptedMetrics(accuracy=accuracy)
    trainer = tiny_trainer(
        tmp_path / "out", callbacks=[callback], compute_metrics=metrics if compute_metrics else None,
        max_steps=max_steps, per_device_eval_batch_size=16, eval_strategy="steps", eval_steps=1,
        save_strategy="steps", save_steps=save_steps, save_total_limit=3,
        logging_steps=logging_steps, save_only_model=False,
        restore_callback_states_from_checkpoint=True)
    return trainer, metrics


OPTIONS = {"warmup": 5, "window": 5, "confirm": 2}


def test_trainer_stops_at_overfit_and_recommends_a_saved_checkpoint(tmp_path, caplog):
    callback = PhasewatchCallback(metric="eval/accuracy", options=OPTIONS)
    trainer, _ = make_trainer(tmp_path, callback, max_steps=N_EVALS)
    with caplog.at_level("WARNING", logger="phasewatch"):
        trainer.train()
    step = trainer.state.global_step
    assert PEAK < step < N_EVALS  # stopped after the peak, well before max_steps
    assert callback.monitor.should_stop
    assert [a.event for a in callback.alerts][-1] == "overfit"
    assert callback.alerts[0].metric == "eval_accuracy"  # found as HF's eval_accuracy, named so
    best_saved = callback.best_saved_step
    assert best_saved % 7 == 0  # a step that was saved (save cadence 7, eval cadence 1)
    assert os.path.isdir(callback.best_checkpoint)
    assert abs(best_saved - PEAK) <= 7  # the saved step nearest the true peak (61): 63
    # save_total_limit=3 rotated the others away but kept the best one (protected)
    kept = sorted(int(p.split("-")[1]) for p in os.listdir(tmp_path / "out"))
    assert best_saved in kept and len(kept) <= 4
    assert trainer.state.best_model_checkpoint == callback.best_checkpoint
    assert callback.monitor.config.planned_steps == N_EVALS  # the trainer's max_steps
    # the last line says what became of the best step's checkpoint, in analyze's words
    [last] = [r.message for r in caplog.records if r.message.startswith("best step")]
    best = callback.best_step
    if best == best_saved:
        assert f"best step {best} (saved: checkpoint-{best})" in last
    else:
        assert f"best step {best} (not saved; best saved: checkpoint-{best_saved}, eval_accuracy " \
            in last and f"from step {best}'s " in last
    assert last.endswith(f"the trainer's best_model_checkpoint is {callback.best_checkpoint}")


def test_resumed_trainer_restores_the_monitor(tmp_path):
    straight = PhasewatchCallback(metric="eval/accuracy", options=OPTIONS)
    trainer, _ = make_trainer(tmp_path / "a", straight, max_steps=N_EVALS)
    trainer.train()

    first = PhasewatchCallback(metric="eval/accuracy", options=OPTIONS)
    trainer, _ = make_trainer(tmp_path / "b", first, max_steps=35, save_steps=35)
    trainer.train()
    checkpoint = tmp_path / "b" / "out" / "checkpoint-35"
    saved = json.loads((checkpoint / "trainer_state.json").read_text())
    assert "PhasewatchCallback" in saved["stateful_callbacks"]

    fresh = PhasewatchCallback(metric="eval/accuracy", options=OPTIONS)
    trainer, metrics = make_trainer(tmp_path / "b", fresh, max_steps=N_EVALS, save_steps=35)
    metrics.calls = 35  # the scripted metric continues where it was
    trainer.train(resume_from_checkpoint=str(checkpoint))
    restored = next(c for c in trainer.callback_handler.callbacks
                    if isinstance(c, PhasewatchCallback))
    assert restored is not fresh  # the Trainer rebuilt it from trainer_state.json
    assert restored.monitor.n_records_ == trainer.state.global_step  # 35 restored + the rest
    assert [(a.event, a.step) for a in restored.alerts] == [
        (a.event, a.step) for a in straight.alerts]


def test_training_logs_can_be_fed_too(tmp_path):
    """GRPO-style runs have no evaluations: the callback can follow a training log key."""
    callback = PhasewatchCallback(metric="train/loss", stop_on=(), feed_logs=True,
                                  options=OPTIONS)
    trainer, _ = make_trainer(tmp_path, callback, max_steps=30, logging_steps=1)
    trainer.train()
    assert callback.monitor.resolved_["train/loss"] == "loss"  # HF's own name, via the presets
    assert callback.monitor.trackers_[0].series.n == 30  # one value per logged step
    # values of the training batches: readings, as `watch` counts them on the trainer's log
    assert callback.monitor.trackers_[0].series.value_word == "reading"


def test_the_trainers_max_steps_tells_an_overfit_from_the_start_from_a_disruption(tmp_path):
    """A held-out accuracy that falls from the first evaluation to the end (30 evaluations,
    0.6 -> 0.45, noise 0.01) is an overfit once the fall outlasts the early part of the run,
    which the callback knows from the trainer's max_steps. The same values fed to a monitor
    that is not told the plan raise no stop: the fall could still be an early disruption."""
    n = 30
    rng = np.random.default_rng(0)
    accuracy = 0.6 - 0.15 * np.arange(n + 1) / n + rng.normal(0, 0.01, n + 1)
    callback = PhasewatchCallback(metric="eval/accuracy")
    trainer, _ = make_trainer(tmp_path, callback, max_steps=n, accuracy=accuracy)
    trainer.train()
    assert callback.monitor.config.planned_steps == n
    assert callback.stop_reason is StopReason.OVERFIT
    assert trainer.state.global_step < n

    blind = PhaseMonitor(metric="eval/accuracy")
    for step in range(1, n + 1):
        blind.update(step, {"eval_accuracy": float(accuracy[step - 1])})
    assert not blind.should_stop

    given = PhasewatchCallback(metric="eval/accuracy", options={"planned_steps": 1000})
    trainer, _ = make_trainer(tmp_path / "given", given, max_steps=n, accuracy=accuracy)
    trainer.train()
    assert given.monitor.config.planned_steps == 1000  # the user's plan wins
    assert not given.monitor.should_stop


def test_without_a_metric_the_callback_watches_what_analyze_would_pick(tmp_path, caplog):
    """A Trainer without compute_metrics reports only eval_loss: the default callback watches
    it, as `watch`/`analyze` pick it (trial 30: the default was eval/accuracy, and the callback
    watched nothing, saying so only after training)."""
    callback = PhasewatchCallback(stop_on=(), options=OPTIONS)
    trainer, _ = make_trainer(tmp_path, callback, max_steps=12, compute_metrics=False)
    with caplog.at_level("WARNING", logger="phasewatch"):
        trainer.train()
    assert callback.monitor.config.metrics == ["eval_loss"]
    assert callback.monitor.trackers_[0].series.n == 12  # every evaluation, the first too
    assert callback.monitor.config.planned_steps == 12  # the plan survives the choice
    assert any("watching eval_loss (lower is better)" in r.message for r in caplog.records)
    assert not any("no metric" in r.message for r in caplog.records)


def test_a_given_metric_the_trainer_never_reports_is_said_at_the_first_evaluation(tmp_path,
                                                                                   caplog):
    class Steps(transformers.TrainerCallback):
        def on_evaluate(self, args, state, control, **kwargs):
            said.append((state.global_step, len(caplog.records)))

    said: list = []
    callback = PhasewatchCallback(metric="eval/accuracy", stop_on=(), options=OPTIONS)
    trainer, _ = make_trainer(tmp_path, callback, max_steps=6, compute_metrics=False)
    trainer.add_callback(Steps())
    with caplog.at_level("WARNING", logger="phasewatch"):
        trainer.train()
    missing = [r.message for r in caplog.records if "no metric 'eval/accuracy'" in r.message]
    assert len(missing) == 1  # once, not again at the end
    assert "in the evaluation at step 1" in missing[0] and "eval_loss" in missing[0]
    assert said[0] == (1, 1)  # said during the first evaluation, not after training


def test_an_error_inside_the_monitor_never_ends_training(tmp_path, caplog, monkeypatch):
    """Trial 36: an error raised by the monitor inside `on_evaluate` aborted `Trainer.train()`.
    It is logged once with its traceback, the monitor is off from then on, and training runs to
    its last step."""
    callback = PhasewatchCallback(metric="eval/accuracy", options=OPTIONS)
    calls = []

    def broken(step, metrics):
        calls.append(step)
        raise NameError("a bug in phasewatch")

    monkeypatch.setattr(callback.host, "observe", broken)
    trainer, _ = make_trainer(tmp_path, callback, max_steps=6)
    with caplog.at_level("WARNING", logger="phasewatch"):
        trainer.train()
    assert trainer.state.global_step == 6  # trained to the end
    assert calls == [1]  # off after its first error
    failed = [r for r in caplog.records if "the monitor failed in on_evaluate" in r.message]
    assert len(failed) == 1 and "training goes on" in failed[0].message
    assert failed[0].exc_info is not None and "a bug in phasewatch" in str(failed[0].exc_info[1])


def test_a_best_at_step_0_is_said_to_be_the_model_before_training(caplog):
    """Trial 36: the callback's alerts said "best checkpoint 0" of the evaluation before any
    update (`eval_on_start`), of which no trainer saves a checkpoint."""
    from phasewatch.callbacks._common import MonitorHost

    host = MonitorHost("eval/accuracy", "max", (), None, None, {"planned_steps": 200})
    values = [0.5556, 0.5354, 0.4963, 0.4742] + [0.445, 0.447, 0.444, 0.446] * 4
    with caplog.at_level("WARNING", logger="phasewatch"):
        for i, value in enumerate(values):
            host.observe(10 * i, {"eval_accuracy": value})
    said = [r.message for r in caplog.records if "best checkpoint 0" in r.message]
    assert said and all(m.endswith("best checkpoint 0 (the model before training: no "
                                   "checkpoint of it is saved)") for m in said)


def test_a_policy_gradient_config_and_its_subclasses_train_on_no_expert_data():
    """TRL's GRPOConfig, PPOConfig, RLOOConfig: no expert data (`MonitorConfig.no_expert_data`),
    as `analyze` and `watch` read such a run's log. A training script's own subclass of one
    (adding its fields, as open-r1's GRPOConfig does) is one too; an SFT config is not, and an
    option given says what the user says."""
    from phasewatch.callbacks._common import MonitorHost

    GRPOConfig = type("GRPOConfig", (), {})  # the class names are what the callback reads
    ScriptConfig = type("ScriptConfig", (GRPOConfig,), {})
    SFTConfig = type("SFTConfig", (), {})
    for config, expected in ((GRPOConfig, True), (ScriptConfig, True), (SFTConfig, False)):
        host = MonitorHost("eval/accuracy", "max", (), None, None, None)
        host.trainer_config(config)
        assert host.monitor.config.no_expert_data is expected, config
    host = MonitorHost("eval/accuracy", "max", (), None, None, {"no_expert_data": False})
    host.trainer_config(ScriptConfig)
    assert host.monitor.config.no_expert_data is False


def test_when_training_ends_the_checkpoint_to_keep_is_analyzes(tmp_path, caplog):
    """A held-out accuracy that rises to a plateau (60 evaluations, noise 0.01), never stopped:
    the monitor's own best at the end is a high reading on the plateau (step 31), analyze of
    the trainer_state.json the Trainer wrote names another (48). Once training ends the
    callback names analyze's, as `watch` ends with the whole run's answer, and so does the
    best_model_checkpoint that load_best_model_at_end loads."""
    from phasewatch.analysis import analyze_run
    from phasewatch.io import read_run

    n = 60
    t = np.arange(n + 1)
    accuracy = np.where(t < 20, 0.4 + 0.3 * t / 20, 0.7) + np.random.default_rng(2).normal(
        0, 0.01, n + 1)
    callback = PhasewatchCallback(metric="eval/accuracy", stop_on=())
    trainer, _ = make_trainer(tmp_path, callback, max_steps=n, accuracy=accuracy[1:],
                              save_steps=1)
    trainer.args.load_best_model_at_end = True
    trainer.args.save_total_limit = None  # every checkpoint kept: analyze's own is there
    with caplog.at_level("WARNING", logger="phasewatch"):
        trainer.train()
    state = read_run(tmp_path / "out" / f"checkpoint-{n}" / "trainer_state.json")
    offline = analyze_run(state, "eval_accuracy", "max").recommended_stop_step
    live = callback.monitor.best_step  # the monitor's own, without hindsight
    assert abs(live - offline) > 1  # what the run's end changes
    assert callback.best_step == callback.best_saved_step == offline
    assert trainer.state.best_model_checkpoint == callback.best_checkpoint
    assert callback.best_checkpoint.endswith(f"checkpoint-{offline}")
    [last] = [r.message for r in caplog.records if r.message.startswith("best step")]
    assert last.startswith(f"best step {offline} (saved: checkpoint-{offline})")



@pytest.mark.parametrize("patience, save_steps", [(10, 1), (9, 2)])
def test_a_stop_by_a_callback_listed_after_this_one_is_the_runs_end_too(tmp_path, caplog,
                                                                        patience, save_steps):
    """An EarlyStoppingCallback given after this callback sets the stop in its own on_evaluate,
    after this one's. The plateau run of the test above, stopped at step 36 by a patience of
    10: the callback said "the trainer's best_model_checkpoint is checkpoint-26" (analyze's)
    while the trainer held and loaded checkpoint-30 (the monitor's own). Where that step is
    saved, the Trainer's on_save of it, after every on_evaluate, makes analyze's the one
    load_best_model_at_end loads; stopped at step 35, saved every 2 steps, no save comes before
    the load: the last line says which checkpoint the trainer loaded."""
    from safetensors.torch import load_file

    n = 60
    t = np.arange(n + 1)
    accuracy = np.where(t < 20, 0.4 + 0.3 * t / 20, 0.7) + np.random.default_rng(2).normal(
        0, 0.01, n + 1)
    callback = PhasewatchCallback(metric="eval/accuracy", stop_on=())
    early = transformers.EarlyStoppingCallback(early_stopping_patience=patience)
    trainer = tiny_trainer(
        tmp_path / "out", callbacks=[callback, early],
        compute_metrics=ScriptedMetrics(accuracy=accuracy[1:]), max_steps=n,
        per_device_eval_batch_size=16, eval_strategy="steps", eval_steps=1,
        save_strategy="steps", save_steps=save_steps, logging_steps=1000,
        load_best_model_at_end=True, metric_for_best_model="accuracy")
    with caplog.at_level("WARNING", logger="phasewatch"):
        trainer.train()
    assert trainer.state.global_step < n  # the early stopping ended it
    assert callback.best_step != callback.monitor.best_step  # the run's end changed the pick
    assert trainer.state.best_model_checkpoint == callback.best_checkpoint
    out = tmp_path / "out"
    model = trainer.model.state_dict()
    [loaded] = [str(folder) for folder in sorted(out.iterdir()) if all(
        torch.equal(value, model[name])
        for name, value in load_file(folder / "model.safetensors").items())]
    [last] = [r.message for r in caplog.records if r.message.startswith("best step")]
    named = f"the trainer's best_model_checkpoint is {callback.best_checkpoint}"
    if trainer.state.global_step % save_steps == 0:  # saved at the stop
        assert loaded == callback.best_checkpoint and last.endswith(named)
    else:
        assert loaded != callback.best_checkpoint
        assert last.endswith(f"{named} (the trainer loaded {loaded}, named before the run ended)")


def test_the_same_log_history_is_analysed_once_at_the_runs_end(tmp_path, monkeypatch):
    """The run's end settles three times: at its last evaluation, at the save after it (on the
    same rows) and when training ends (the closing summary row added). The rows settled last
    are not read or analysed again: two reads and two analyses, not three, and the answer is
    analyze's on the trainer_state.json the Trainer wrote."""
    from phasewatch import analysis
    from phasewatch.callbacks import hf
    from phasewatch.io import read_run

    read, analysed = [], []
    real_read, real_analyze = hf.logged_run, analysis.analyze_run

    def counted_read(state):
        read.append(real_read(state))
        return read[-1]

    def counted_analyze(run, *args, **kwargs):
        analysed.extend(run for known in read if run is known)
        return real_analyze(run, *args, **kwargs)

    monkeypatch.setattr(hf, "logged_run", counted_read)
    monkeypatch.setattr(analysis, "analyze_run", counted_analyze)
    callback = PhasewatchCallback(metric="eval/accuracy", stop_on=())
    metrics = ScriptedMetrics()
    trainer = tiny_trainer(
        tmp_path / "out", callbacks=[callback], compute_metrics=metrics, max_steps=30,
        per_device_eval_batch_size=16, eval_strategy="steps", eval_steps=5,
        save_strategy="steps", save_steps=5, logging_steps=5, load_best_model_at_end=True,
        metric_for_best_model="accuracy")
    trainer.train()
    assert len(read) == len(analysed) == 2
    state = read_run(tmp_path / "out" / "checkpoint-30" / "trainer_state.json")
    assert callback.best_step == real_analyze(state, "eval_accuracy", "max").recommended_stop_step


def test_one_callback_given_to_two_trainers_in_a_row_follows_each_run_alone(tmp_path):
    """A sweep in a notebook gives one callback to two trainers in a row, the first run best
    at step 10, the second at 30. The second run is followed as a new callback follows it:
    the same best step at each evaluation, the same alerts, state and checkpoint. (The first
    run's settled step 10 was the second's best from its first evaluation, named as its
    best_model_checkpoint; its monitor kept the first run's best and alerts and raised none.)"""
    from transformers import TrainerCallback

    n = 40
    t = np.arange(n + 1)
    rng = np.random.default_rng(3)
    early = np.where(t < 10, 0.4 + 0.3 * t / 10, 0.7 - 0.3 * (t - 10) / 30)
    late = np.where(t < 30, 0.4 + 0.3 * t / 30, 0.7 - 0.2 * (t - 30) / 10)
    early, late = early + rng.normal(0, 0.005, n + 1), late + rng.normal(0, 0.005, n + 1)

    def followed(callback, folder, accuracy) -> list:
        """The callback's best step at each evaluation of a run of `accuracy`."""
        bests = []

        class Spy(TrainerCallback):
            def on_evaluate(self, args, state, control, **kwargs):
                kept = state.best_model_checkpoint
                bests.append((callback.best_step, kept and os.path.basename(kept)))

        trainer, _ = make_trainer(folder, callback, max_steps=n, save_steps=1,
                                  accuracy=accuracy[1:])
        trainer.add_callback(Spy())
        trainer.train()
        return bests

    reused = PhasewatchCallback(metric="eval/accuracy", stop_on=())
    fresh = PhasewatchCallback(metric="eval/accuracy", stop_on=())
    followed(reused, tmp_path / "first", early)
    first = reused.best_step
    second = followed(reused, tmp_path / "second", late)
    assert second == followed(fresh, tmp_path / "alone", late)
    assert first == 10 and reused.best_step == fresh.best_step == 30
    assert reused.monitor.best_step == fresh.monitor.best_step
    assert [a.to_dict() for a in reused.alerts] == [a.to_dict() for a in fresh.alerts]
    assert reused.host.state() == fresh.host.state()
    assert os.path.basename(reused.best_checkpoint) == os.path.basename(fresh.best_checkpoint)


def test_an_evaluation_after_training_stays_its_runs_when_the_next_run_begins(tmp_path):
    """`train()` (no evaluation during training), `evaluate()`, `train()` again with one
    callback: the evaluation between the runs is of the first run's final model (step 22), so
    it is the first run's record, kept in `runs_before` as a callback that followed only that
    run and evaluation holds it, and not the second run's. (It went to the first run's host and
    vanished with it when the second run began.)"""

    def run(callback, folder):
        return tiny_trainer(folder, callbacks=[callback], compute_metrics=ScriptedMetrics(),
                            max_steps=22, eval_strategy="no", per_device_eval_batch_size=16,
                            save_strategy="no")

    reused = PhasewatchCallback(metric="eval/accuracy", stop_on=())
    trainer = run(reused, tmp_path / "reused")
    trainer.train()
    trainer.evaluate()
    trainer.train()
    alone = PhasewatchCallback(metric="eval/accuracy", stop_on=())
    trainer = run(alone, tmp_path / "alone")
    trainer.train()
    trainer.evaluate()
    [first] = reused.runs_before
    assert list(first.host.evals.steps) == [22]
    assert first.host.state() == alone.host.state()
    assert first.best_step == alone.best_step == 22
    assert list(reused.host.evals.steps) == []  # the second run evaluated nothing
    assert alone.runs_before == []


def test_a_next_trainers_evaluation_before_its_training_is_that_runs(tmp_path):
    """One callback given to trainer after trainer, each evaluated before its `train()` (the
    baseline at step 0): the second trainer's baseline is the second run's, as a new callback
    keeps an `evaluate()` made first, and the first run stays as it ended. (It went to the
    first run's monitor, which counted a step gone backwards, and the second run never
    had it.)"""

    def run(callback, folder, seed):
        return tiny_trainer(folder, callbacks=[callback], compute_metrics=ScriptedMetrics(),
                            max_steps=12, eval_strategy="steps", eval_steps=2,
                            per_device_eval_batch_size=16, save_strategy="no", seed=seed)

    reused = PhasewatchCallback(metric="eval/accuracy", stop_on=())
    run(reused, tmp_path / "a", 0).train()
    ended = reused.host.state()
    second = run(reused, tmp_path / "b", 1)
    second.evaluate()
    second.train()
    alone = PhasewatchCallback(metric="eval/accuracy", stop_on=())
    trainer = run(alone, tmp_path / "alone", 1)
    trainer.evaluate()
    trainer.train()
    [first] = reused.runs_before
    assert first.host.state() == ended
    assert list(reused.host.evals.steps) == list(alone.host.evals.steps) == list(range(0, 13, 2))
    assert reused.host.state() == alone.host.state()


def test_a_crashed_runs_webhook_thread_is_closed_when_the_next_run_begins(tmp_path):
    """Run 1 raises mid-training (its evaluation set fails at the 20th evaluation) with an
    alert still being posted to a slow endpoint and another queued; run 2 begins with the
    same callback. The crashed run's webhook thread is closed when run 2 begins: its alerts
    are all delivered before, none during run 2, and no webhook thread outlives run 2. (It
    ran on: the overfit alert of run 1 arrived after run 2 began, and its thread stayed.)"""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from transformers import TrainerCallback

    received, began = [], []

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((time.monotonic(), body["event"], body["step"]))
            time.sleep(1.0)  # a slow endpoint: the next alert waits in the queue
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    class Crash(ScriptedMetrics):
        def __call__(self, prediction):
            if self.calls == 20:
                raise RuntimeError("the evaluation set is gone")
            return super().__call__(prediction)

    class Begins(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            began.append(time.monotonic())

    def webhook_threads():
        return [t for t in threading.enumerate() if t.name == "phasewatch-webhook"]

    t = np.arange(41)
    accuracy = np.where(t < 10, 0.4 + 0.3 * t / 10, 0.7 - 0.3 * (t - 10) / 30) \
        + np.random.default_rng(3).normal(0, 0.005, t.size)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    before = webhook_threads()
    try:
        callback = PhasewatchCallback(metric="eval/accuracy", stop_on=(), options=OPTIONS,
                                      webhook=f"http://127.0.0.1:{server.server_address[1]}/h")

        def trainer(folder, metrics, steps):
            return tiny_trainer(folder, callbacks=[callback, Begins()], compute_metrics=metrics,
                                max_steps=steps, eval_strategy="steps", eval_steps=1,
                                per_device_eval_batch_size=16, save_strategy="no")

        with pytest.raises(RuntimeError, match="evaluation set is gone"):
            trainer(tmp_path / "one", Crash(accuracy=accuracy[1:]), 40).train()
        first = [(a.event, a.step) for a in callback.alerts]
        assert len(first) >= 2 and len(webhook_threads()) == len(before) + 1
        trainer(tmp_path / "two", ScriptedMetrics(accuracy=accuracy[1:]), 3).train()
        time.sleep(2.5)  # what the old thread still held would arrive by now
        assert webhook_threads() == before
        assert callback.alerts == []  # run 2 (3 evaluations) raised none: every post is run 1's
        assert sorted((event, step) for _, event, step in received) == sorted(first)
        assert all(at < began[1] for at, _, _ in received)
    finally:
        server.shutdown()
