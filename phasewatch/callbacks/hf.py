"""Hugging Face `Trainer` callback: phase alerts on evaluation metrics, stop on overfit.

    from phasewatch.callbacks.hf import PhasewatchCallback
    callback = PhasewatchCallback(stop_on=("overfit",))   # metric: as `analyze` picks it
    trainer = Trainer(..., callbacks=[callback])          # TRL trainers too (Trainer subclasses)
    trainer.train()
    callback.best_checkpoint   # the saved checkpoint to keep

`on_train_begin` tells the monitor the trainer's planned last step (`state.max_steps`), so that
a held-out metric falling from the first evaluation is called an overfit once the fall outlasts
the run's early part. `on_evaluate` feeds the evaluation metrics (HF names them `eval_<x>`;
canonical names such as `eval/accuracy` find them through the presets) to a `PhaseMonitor` at
`state.global_step`, and sets `control.should_training_stop` when a `stop_on` phase is entered.
Evaluations and saves rarely share a cadence, so the recommended checkpoint is the *saved* one
(still on disk, after `save_total_limit` rotation) that `analyze` names on the output folder
(`saved_checkpoints.score_saves`: a 3-point median on a run of over 40 evaluations), not the
best raw evaluation, which may have no checkpoint and is the noisiest pick. With
`keep_best_checkpoint=True` (default) the callback names that checkpoint
`state.best_model_checkpoint`, which `save_total_limit` rotation never deletes and
`load_best_model_at_end=True` loads at the end (it replaces the raw-metric choice of
`metric_for_best_model`). The callback is an `ExportableState`: resumed trainers restore the
monitor from the checkpoint's trainer_state.json.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phasewatch.callbacks._common import MonitorHost, logger, never_stops_training
from phasewatch.callbacks.hosted import HostedResults, RunResults
from phasewatch.errors import require
from phasewatch.saved_checkpoints import CHECKPOINT_PREFIX, checkpoint_path

_transformers = require("transformers", "hf", purpose="use the Hugging Face callback")
TrainerCallback = _transformers.TrainerCallback
ExportableState = _transformers.trainer_callback.ExportableState
__all__ = ["CHECKPOINT_PREFIX", "PhasewatchCallback"]


class PhasewatchCallback(HostedResults, TrainerCallback, ExportableState):
    """Arguments are JSON-friendly so a resumed Trainer can rebuild the callback.

    metric / direction / stop_on / options: see `phasewatch.online.MonitorConfig`. Without a
    metric, the one `phasewatch analyze` would pick is chosen from the metrics the Trainer
    reports at its first evaluation (`eval_loss` on a Trainer without `compute_metrics`).
    webhook: URL to POST alerts to; stop_file: file created when a stop condition fires.
    """

    def __init__(self, metric: str | Sequence[str] | None = None, direction: str | None = None,
                 stop_on: Sequence[str] = ("overfit",), webhook: str | None = None,
                 stop_file: str | None = None, keep_best_checkpoint: bool = True,
                 feed_logs: bool = False, options: dict[str, Any] | None = None):
        self.metric, self.direction, self.stop_on = metric, direction, tuple(stop_on)
        self.webhook, self.stop_file, self.options = webhook, stop_file, dict(options or {})
        self.keep_best_checkpoint = keep_best_checkpoint
        self.feed_logs = feed_logs
        self.host = MonitorHost(metric, direction, self.stop_on, webhook, stop_file, options)
        self.runs_before: list[RunResults] = []  # the runs followed before this one
        self.output_dir: str | None = None
        self._eval_logs: tuple[int, dict] | None = None  # (step, the eval log just before on_evaluate)
        self._run_state = None  # the TrainerState of the run followed (`on_evaluate`)

    # ------------------------------------------------------------------ results
    @property
    def best_saved_step(self) -> int | None:
        return self.host.best_saved_step(self._checkpoint_exists)

    @property
    def best_checkpoint(self) -> str | None:
        """Path of the saved checkpoint to keep (None if nothing was saved or it is gone)."""
        step = self.best_saved_step
        if step is None or self.output_dir is None:
            return None
        return os.path.join(self.output_dir, checkpoint_path("", step))

    # ------------------------------------------------------------------ events
    def on_train_begin(self, args, state, control, **kwargs):
        # outside the guard: a monitor an error turned off in a run before is on again
        if self.begin_run():
            self._eval_logs = None
        self._run_state = state
        self._train_begins(args, state)

    @never_stops_training
    def _train_begins(self, args, state) -> None:
        self.output_dir = args.output_dir
        self.host.plan(state.max_steps)
        self.host.trainer_config(type(args))

    @never_stops_training
    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.host.began and state is not self._run_state and state.global_step == 0:
            # another trainer's evaluation before its train() (a sweep's baseline of its next
            # run): that run's, as a new callback keeps an evaluate() made first, not the run
            # before's (whose monitor counted a step gone backwards; the next run never had it)
            self._follow_next_run()
        logged, self._eval_logs = self._eval_logs, None
        if logged is not None and logged[0] == state.global_step:
            metrics = {**logged[1], **(metrics or {})}  # TRL's own eval metrics (see on_log)
        if not metrics:
            return
        self.host.evaluated(state.global_step, metrics)
        if self.host.monitor.should_stop:
            control.should_training_stop = True
        if control.should_training_stop or state.global_step >= state.max_steps > 0:
            # the run's last evaluation: the checkpoint to keep is analyze's from here, before
            # load_best_model_at_end loads the one named below
            self._settle(state)
        self._keep_best(state)

    @never_stops_training
    def on_log(self, args, state, control, logs=None, **kwargs):
        """With `feed_logs=True`, training logs are fed too: for runs without evaluations (a
        TRL GRPO run watched on its `reward`), or to follow train-side signals. Without, the
        train loss beside a held-out loss is still followed from them (`MonitorHost.trained`),
        as `watch` follows it in the trainer's log."""
        if not logs:
            return
        if any(key.startswith("eval_") for key in logs):
            # Evaluation logs are fed by on_evaluate, which the Trainer calls just after logging.
            # TRL trainers (all before TRL 1.5, some experimental ones since) add their own eval
            # metrics (eval_reward, eval_mean_token_accuracy...) to a copy of the dict, so
            # on_evaluate gets it without them: keep the logged dict for on_evaluate.
            self._eval_logs = (state.global_step, dict(logs))
            return
        if not self.feed_logs:
            self.host.trained(state.global_step, logs)
            return
        if self.host.choosing:
            self.host.choose(logs, train_log=True)  # a GRPO run's reward, never its loss
            if self.host.choosing:
                self.host.trained(state.global_step, logs)  # its loss, beside an eval loss
                return
        self.host.observe(state.global_step, logs)
        if self.host.monitor.should_stop:
            control.should_training_stop = True

    @never_stops_training
    def on_save(self, args, state, control, **kwargs):
        self.output_dir = args.output_dir
        self.host.saved_step(state.global_step)
        if control.should_training_stop:
            # the run's last save, after every callback's on_evaluate: a stop set by one listed
            # after this one (an EarlyStoppingCallback) is seen here, before
            # load_best_model_at_end loads the checkpoint named below
            self._settle(state)
        self._keep_best(state)

    def _settle(self, state) -> None:
        """`MonitorHost.settle` on the Trainer's log history, read only where it has changed
        since the last settle (a step or a row more)."""
        self.host.settle(lambda: logged_run(state), key=(state.global_step, len(state.log_history)))

    def _keep_best(self, state) -> None:
        """Protect the best saved checkpoint from rotation (HF never deletes
        `state.best_model_checkpoint`); the next save's rotation sees it."""
        if self.keep_best_checkpoint and self.best_checkpoint is not None:
            state.best_model_checkpoint = self.best_checkpoint

    @never_stops_training
    def on_train_end(self, args, state, control, **kwargs):
        monitor = self.host.monitor
        loaded = state.best_model_checkpoint if args.load_best_model_at_end else None
        self._settle(state)  # whatever ended it: analyze's answer on its log
        self._keep_best(state)
        missing = [name for name in monitor.missing_metrics() if name not in self.host.warned]
        if self.host.choosing:
            logger.warning("no metric was chosen: the trainer reported no "
                           "evaluation to choose one from; pass metric=...")
        elif missing:
            from phasewatch.unknown_metric import unknown_metric_message

            for name in missing:
                logger.warning("%s", unknown_metric_message(
                    name, monitor.metrics_seen).replace("in this run", "in the evaluations"))
        if self.best_checkpoint is not None:
            # a stop at a step with no save (set after this callback's on_evaluate) has the
            # trainer load the checkpoint named before the whole run's answer: said, not hidden
            other = f" (the trainer loaded {loaded}, named before the run ended)" \
                if loaded is not None and loaded != self.best_checkpoint else ""
            logger.warning("best step %s (%s)%s", self.best_step,
                           self._saved_text(args),
                           f"; the trainer's best_model_checkpoint is {self.best_checkpoint}{other}"
                           if self.keep_best_checkpoint else "")
        self.host.close()

    def _saved_text(self, args) -> str:
        """What became of the best step's checkpoint and the best saved one, in `analyze`'s
        words ("not saved; best saved: checkpoint-10, eval_accuracy 0.5354, 0.0202 from step
        0's 0.5556"): trial 36's callback said only "best saved checkpoint: checkpoint-10 (best
        evaluated step 0)" after a fine-tune that never got back to the model it started from."""
        from phasewatch.saved_checkpoints import checkpoint_steps, choose

        folder = Path(self.output_dir)
        series = self.host.monitor.trackers_[0].series
        saved = choose(folder, checkpoint_steps(folder), self.host.evals.steps,
                       self.host.evals.values, series.sign, self.best_step, args.save_steps)
        return saved.text(series.label)

    def _checkpoint_exists(self, step: int) -> bool:
        if self.output_dir is None:
            return True
        return checkpoint_path(self.output_dir, step).is_dir()

    # ------------------------------------------------------------------ resume
    def state(self) -> dict:
        return {
            "args": {"metric": self.metric, "direction": self.direction,
                     "stop_on": list(self.stop_on), "webhook": self.webhook,
                     "stop_file": self.stop_file,
                     "keep_best_checkpoint": self.keep_best_checkpoint,
                     "feed_logs": self.feed_logs, "options": self.options},
            "attributes": {"phasewatch_state": self.host.state()},
        }

    @property
    def phasewatch_state(self) -> dict:
        return self.host.state()

    @phasewatch_state.setter
    def phasewatch_state(self, value: dict) -> None:
        """Trainer._load_callback_state sets the saved attributes with setattr."""
        self.restore(value)


def logged_run(state):
    """The run the Trainer's state holds (its log history, planned steps and epochs), read as
    `analyze` reads the `trainer_state.json` the Trainer writes from it."""
    import tempfile

    from phasewatch.io import read_run

    with tempfile.TemporaryDirectory(prefix="phasewatch-") as folder:
        path = Path(folder) / "trainer_state.json"
        state.save_to_json(str(path))
        return read_run(path)
