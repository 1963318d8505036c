"""What both framework callbacks share: building the monitor and its sinks, scoring saves."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

from phasewatch.alerts import StopFile, WebhookSink, format_alert
from phasewatch.library_log import get_logger
from phasewatch.online import Alert, PhaseMonitor

logger = get_logger()


def never_stops_training(event):
    """A callback event whose error is logged, once, and turns phasewatch off for the rest of
    the run instead of ending the user's training: a monitor is not worth a lost multi-hour job
    (trial 36: an error raised inside `on_evaluate` aborted `Trainer.train()`)."""

    @functools.wraps(event)
    def guarded(callback, *args, **kwargs):
        host = callback.host
        if host.failed:
            return None
        try:
            return event(callback, *args, **kwargs)
        except Exception:
            host.failed = True
            logger.exception("the monitor failed in %s and is off for the rest of "
                             "this run; training goes on. Please report the traceback above; "
                             "`phasewatch analyze` on the log afterwards is not affected",
                             event.__name__)
            return None

    return guarded


# TRL's configs of trainers that learn by a policy gradient on their own samples
POLICY_GRADIENT_CONFIGS = frozenset({"GRPOConfig", "PPOConfig", "RLOOConfig"})
# training logs held until the first evaluation says which train loss is followed (bounded)
MAX_TRAIN_ROWS = 10_000


class MonitorHost:
    """A PhaseMonitor, its sinks (webhook / stop file, given as strings so a resumed trainer can
    rebuild them), the alerts so far, and the saved checkpoints scored by the smoothed level.

    Eval and save cadences rarely match (eval every 50 steps, save every 200): the best level
    may be at a step that has no checkpoint. Each saved step is scored with the centred level
    at (or just after) it, once that level is known, and `best_saved_step` is the saved step
    with the best score among those whose checkpoint still exists.
    """

    def __init__(self, metric, direction, stop_on, webhook, stop_file, options):
        # metric None: chosen from what the trainer reports at its first evaluation, as
        # `watch` and `analyze` choose it (`choose`); the monitor is rebuilt then
        self.choosing = metric is None
        self.args = (metric, direction, tuple(stop_on), webhook, stop_file, options)  # `renewed`
        self.began = False  # a run began with this host (`HostedResults.begin_run`)
        self.restored = False  # loaded from the checkpoint of the run that begins (`load`)
        self._monitor_args = (direction, tuple(stop_on), dict(options or {}))
        self.monitor = PhaseMonitor(metric=metric or "eval/loss", direction=direction,
                                    stop_on=stop_on, **(options or {}))
        self.warned: set[str] = set()  # metrics said missing at an evaluation
        self.train_metrics_told = False  # `tell_train_metrics` ran for this monitor
        # training logs before that (`trained`): the train loss beside a held-out loss
        self.train_rows: list[tuple[int, dict[str, float]]] = []
        self.names_told: dict[str, Any] = {}  # the names `tell_train_metrics` judged
        self.failed = False  # an error turned the monitor off (`never_stops_training`)
        self.plan_given = (options or {}).get("planned_steps") is not None
        self.webhook = WebhookSink(webhook) if webhook else None
        self.stop_file = StopFile(stop_file) if stop_file else None
        if self.stop_file is not None:
            problem = self.stop_file.problem()  # said now; training goes on either way
            if problem is not None:
                logger.warning("the stop file %s cannot be created (%s); a stop "
                               "will only be logged", stop_file, problem)
        self.alerts: list[Alert] = []
        self.saved: dict[int, float | None] = {}  # saved step -> score (oriented level)
        from phasewatch.live_checkpoints import LiveCheckpoints

        # the watched metric's evaluations (oriented), to score saves as analyze does
        self.evals = LiveCheckpoints([])
        self.settled_best: int | None = None  # `settle`: analyze's checkpoint once training ended
        self.settled_key: Any = None  # which log `settled_best` was analysed on (`settle`)

    def observe(self, step: int, metrics: Mapping[str, Any]) -> list[Alert]:
        if not self.train_metrics_told:
            self.tell_train_metrics(metrics)
        alerts = self.monitor.update(step, metrics)
        self.evals.sync(self.monitor)
        self._score_saves()
        for alert in alerts:
            self.alerts.append(alert)
            # global step 0 is the model before any update: no trainer saves a checkpoint of it
            # (trial 36: "best checkpoint 0" read as a checkpoint to load)
            before = " (the model before training: no checkpoint of it is saved)" \
                if alert.best_step == 0 else ""
            logger.warning("%s%s", format_alert(alert), before)
            if self.webhook is not None:
                self.webhook.emit(alert)
        stopped_now = self.monitor.should_stop and self.monitor.stop_alert_ in alerts
        if stopped_now and self.stop_file is not None:
            self.stop_file.trigger(self.monitor.stop_alert_)
        return alerts

    def trained(self, step: int, logs: Mapping[str, Any]) -> None:
        """A training log (the Trainer's `loss` every logging_steps, a Lightning module's
        `train_loss`) that the callback does not otherwise feed: the train loss beside a
        held-out loss is followed from it (`MonitorConfig.train_loss`), as `watch` follows it in
        the log the trainer writes, so a held-out loss rising beside a rising train loss stays a
        disruption live too. Held until the first evaluation says whether the metric is a
        held-out loss and which train loss goes with it (`tell_train_metrics`), then fed."""
        if self.choosing or not self.train_metrics_told:
            if len(self.train_rows) < MAX_TRAIN_ROWS:
                self.train_rows.append((int(step), {k: float(v) for k, v in logs.items()
                                                    if isinstance(v, (int, float))}))
            return
        if self.monitor.train_loss_ is None and any(k not in self.names_told for k in logs):
            # a first evaluation before any training log (`eval_on_start`): the train loss
            # is named by the first training log that holds it, and followed from there
            self.names_told.update(logs)
            self._follow_train_loss()
        self._feed_train_loss(step, logs)

    def _feed_train_loss(self, step: int, logs: Mapping[str, Any]) -> None:
        followed = self.monitor.train_loss_
        if followed is not None and (value := logs.get(followed.series.name)) is not None:
            self.observe(step, {followed.series.name: value})

    def evaluated(self, step: int, metrics: Mapping[str, Any]) -> list[Alert]:
        """An evaluation's metrics: the metric is chosen from them if none was given, they are
        observed, and a given metric they lack is said at once (naming what they hold), not
        after training."""
        if self.choosing:
            self.choose(metrics)
        elif "loaders" not in self.warned:  # said once: the metric given is a loader's
            self.warned.add("loaders")
            self._name_loaders(metrics)
        alerts = self.observe(step, metrics)
        if not self.choosing:
            from phasewatch.unknown_metric import unknown_metric_message

            for name in self.monitor.missing_metrics():
                if name not in self.warned:
                    self.warned.add(name)
                    text = unknown_metric_message(name, [k for k in metrics if k != "epoch"])
                    logger.warning("%s; nothing is watched until it appears",
                                   text.replace("in this run; metrics that exist",
                                                f"in the evaluation at step {step}; "
                                                "what the trainer reports"))
        return alerts

    def tell_train_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Tell the monitor which of its metrics are scored on the training batches
        (`MonitorConfig.train_metrics`), from the first metrics the trainer reports, by the
        rule `watch` applies to the log (`train_beside.is_train_metric`: a train loss or reward
        by its name, a bare `acc` beside a `val_acc`), unless the options say it: the alerts
        then count a train loss's values as readings, not evaluations, and call its overfit
        what it is, as `watch` and `analyze` do on the log the trainer writes. And whether the
        metric is a held-out loss (`MonitorConfig.held_out_loss`), as `watch` reads it, and the
        train loss followed beside it (`MonitorConfig.train_loss`, `trained`): its training
        logs held so far are fed first, as they came before this evaluation."""
        from phasewatch.expert_data import is_held_out_loss
        from phasewatch.live_choice import rows_run
        from phasewatch.train_beside import is_train_metric

        self.train_metrics_told = True
        names = {name: value for _, row in self.train_rows for name, value in row.items()}
        self.names_told = {**names, **metrics}
        run = rows_run([(0, self.names_told)])
        config, options = self.monitor.config, self._monitor_args[2]
        if "held_out_loss" not in options:
            config.held_out_loss = is_held_out_loss(run, config.metric)
        if "train_metrics" not in options:
            config.train_metrics = tuple(name for name in config.metrics
                                         if is_train_metric(run, name))
        self._follow_train_loss()
        held, self.train_rows = self.train_rows, []
        for step, row in held:
            self._feed_train_loss(step, row)

    def _follow_train_loss(self) -> None:
        """Follow the train loss `watch` would follow beside the metric, by the names told so
        far (`expert_data.watched_train_loss`), unless the options name it."""
        from phasewatch.expert_data import watched_train_loss
        from phasewatch.live_choice import rows_run

        config, options = self.monitor.config, self._monitor_args[2]
        train_loss = options["train_loss"] if "train_loss" in options else \
            watched_train_loss(rows_run([(0, self.names_told)]), config.metric)
        followed = self.monitor.train_loss_  # restored from a checkpoint, where it resumed
        if followed is None or followed.series.name != train_loss:
            self.monitor.follow_train_loss(train_loss)

    def _name_loaders(self, metrics: Mapping[str, Any]) -> None:
        """A metric given without Lightning's loader (`metric="val_acc"`, validated on two
        loaders: `val_acc/dataloader_idx_0`, `..._1`) is watched on the first loader's (the
        presets' alias), and said so, naming the others, as `analyze --metric val_acc` does."""
        from phasewatch.set_names import loader_bases, set_order

        bases = loader_bases(metrics)
        for name in self.monitor.config.metrics:
            loaders = sorted((own for own, base in bases.items() if base == name), key=set_order)
            if name not in metrics and len(loaders) > 1:
                logger.warning("%s is logged once per validation dataloader (%s); "
                               "watching %s, the first; pass metric=NAME to watch another",
                               name, ", ".join(loaders), loaders[0])

    def choose(self, metrics: Mapping[str, Any], train_log: bool = False) -> None:
        """Choose the metric from an evaluation's metrics as `analyze` would
        (`live_choice.choose_in_rows`), and watch it from now on; said once. From a training
        log (`train_log`) only a performance metric (a reward) is taken: its loss waits for an
        evaluation, as `watch` waits for a held-out metric."""
        from phasewatch.errors import UsageError
        from phasewatch.live_choice import choose_in_rows
        from phasewatch.presets import FALLBACK_ROLES, aliases_for

        direction, stop_on, options = self._monitor_args
        try:
            metric, direction = choose_in_rows([(0, metrics)], None, direction)
        except UsageError as error:
            if not train_log and "choice" not in self.warned:
                self.warned.add("choice")
                logger.warning("%s", error)
            return
        aliases = aliases_for(list(metrics))
        if train_log and metric in {aliases.get(role, role) for role, _ in FALLBACK_ROLES}:
            return
        planned = self.monitor.config.planned_steps
        self.monitor = PhaseMonitor(metric=metric, direction=direction, stop_on=stop_on,
                                    **{**options, "no_expert_data": self.monitor.config.no_expert_data})
        self.monitor.set_planned_steps(planned)
        self.choosing, self.train_metrics_told = False, False
        logger.warning("watching %s (%s is better), chosen from the metrics the "
                       "trainer reported as `phasewatch analyze` chooses; pass metric=... to "
                       "watch another", metric, "lower" if direction == "min" else "higher")

    def plan(self, max_steps: float | None) -> None:
        """The trainer's planned last step, told when training begins (a resumed trainer's
        may differ from the one saved with the monitor), unless the options gave one. With it
        the monitor tells a fall from the start that is still going on late in the run (an
        overfit) from an early disruption (`MonitorConfig.planned_steps`); a trainer without
        a finite step limit (-1, an iterable dataset) leaves it unknown."""
        if self.plan_given:
            return
        known = max_steps is not None and math.isfinite(max_steps) and max_steps > 0
        self.monitor.set_planned_steps(int(max_steps) if known else None)

    def trainer_config(self, config: type) -> None:
        """The trainer's config class (`type(args)`), told when training begins: a
        policy-gradient trainer's (`POLICY_GRADIENT_CONFIGS`, or a class derived from one, as a
        script's own `GRPOConfig` subclass adding its fields) trains on no expert data, so a
        disruption not recovered by the plan's early part is an overfit, as `watch` and `analyze`
        read its log (`MonitorConfig.no_expert_data`), unless the options say otherwise."""
        _, _, options = self._monitor_args
        if "no_expert_data" not in options:
            self.monitor.config.no_expert_data = any(
                base.__name__ in POLICY_GRADIENT_CONFIGS for base in config.__mro__)

    def saved_step(self, step: int) -> None:
        self.saved.setdefault(int(step), None)
        self._score_saves()

    def _score_saves(self) -> None:
        at, level = self.monitor.level()
        if at is None:
            return
        sign = self.monitor.trackers_[0].series.sign
        for step, score in self.saved.items():
            if score is None and step <= at:
                self.saved[step] = sign * level

    def best_saved_step(self, exists=lambda step: True) -> int | None:
        """The saved step `watch` and `analyze` name on an HF output folder: the best step's own
        checkpoint where it exists, else each save scored by the evaluation at or nearest it,
        read as `analyze` reads levels (`saved_checkpoints.score_saves`), the best of those
        that exist (`saved_checkpoints.to_load`). A state
        saved before evaluations were kept falls back to the smoothed level each save got
        (unscored saves, made after the last centred level, get the latest level). (Scored
        by the monitor's window median, trial 31's callback kept checkpoint-500 where analyze
        named checkpoint-400.)"""
        from phasewatch.saved_checkpoints import best_saved, score_saves, to_load

        if self.evals.steps:
            scores, _ = score_saves(sorted(self.saved), self.evals.steps, self.evals.values)
            return to_load(scores, self.best_step, exists)
        _, level = self.monitor.level()
        sign = self.monitor.trackers_[0].series.sign
        latest = None if level is None else sign * level
        return best_saved({step: latest if score is None else score
                           for step, score in self.saved.items()}, exists)

    @property
    def best_step(self) -> int | None:
        """The checkpoint to keep: the monitor's best smoothed step while training goes on, and
        `analyze`'s once it has ended (`settle`)."""
        return self.settled_best if self.settled_best is not None else self.monitor.best_step

    def settle(self, run=None, key: Any = None) -> None:
        """Once training has ended (or stops now), the checkpoint to keep is the one `analyze`
        names on the log the trainer wrote (`run`, or a function that reads it; None: the
        evaluations of the metric watched, as a log of that metric alone), as `watch` ends with
        the whole run's answer: the monitor's own best has no hindsight (on a run that rose to
        a plateau it named step 31 of 60 where `analyze` names 47, both on the plateau). An
        analysis that cannot be made (`PhasewatchError`) leaves the monitor's best.

        `key` names the log (the Trainer's: its step and number of rows; the evaluations':
        their number and last step): the log settled last is not read or analysed again, its
        answer stands. The HF Trainer settles at the run's last evaluation, at the save after
        it and when training ends, each on the same rows but for the closing summary row."""
        from phasewatch.analysis import analyze_run
        from phasewatch.errors import PhasewatchError

        if self.choosing or not self.evals.steps:
            return  # nothing was watched
        if run is None:
            key = ("evaluations", len(self.evals.steps), self.evals.steps[-1])
        if key is not None and key == self.settled_key:
            return
        series = self.monitor.trackers_[0].series
        if callable(run):
            run = run()
        elif run is None:
            import numpy as np

            from phasewatch.run import Run

            steps = np.asarray(self.evals.steps, dtype=np.int64)
            _, last = np.unique(steps[::-1], return_index=True)  # a step fed again: its last
            kept = steps.size - 1 - last
            values = series.sign * np.asarray(self.evals.values, dtype=np.float64)[kept]
            run = Run.from_columns({series.label: (steps[kept], values)}, "callback",
                                   "evaluations")
        try:
            analysis = analyze_run(run, metric=series.label,
                                   direction="max" if series.sign > 0 else "min")
        except PhasewatchError as exc:
            if "settle" not in self.warned:  # said once: this runs at the last evaluation and
                self.warned.add("settle")   # again when training ends
                logger.warning("the checkpoint to keep stays the monitor's: the whole-run "
                               "analysis is not available (%s)", exc)
            self.settled_key = key
            return
        self.settled_best, self.settled_key = analysis.recommended_stop_step, key

    def renewed(self) -> MonitorHost:
        """A new host built from this one's arguments: nothing of the run it followed."""
        return MonitorHost(*self.args)

    def close(self) -> None:
        if self.webhook is not None:
            self.webhook.close()

    def state(self) -> dict[str, Any]:
        return {"monitor": self.monitor.state_dict(), "chosen": not self.choosing,
                "saved": [[s, v] for s, v in self.saved.items()],
                "evaluations": [[s, v] for s, v in zip(self.evals.steps, self.evals.values)],
                "alerts": [a.to_dict() for a in self.alerts]}

    def load(self, state: Mapping[str, Any]) -> None:
        self.monitor.load_state_dict(state["monitor"])
        self.choosing = self.choosing and not state.get("chosen", True)
        self.saved = {int(s): v for s, v in state.get("saved", [])}
        for s, v in state.get("evaluations", []):
            self.evals.steps.append(int(s))
            self.evals.values.append(float(v))
        self.alerts = [Alert(**a) for a in state.get("alerts", [])]
