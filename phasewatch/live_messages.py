"""What a live watch says as it reads (`LiveWatch`'s messages): a resumed run's rewind, a skipped
line, the reader's warnings, that it caught up and holds records, a `--metric` the records lack.
A mixin of `live.LiveWatch`, whose state these read (`notice`, `say`, `source`, `result`,
`choice`, `monitor`...): the loop stays in `live`, the words here."""

from __future__ import annotations

from pathlib import Path

from phasewatch.output import counted

MAX_LINE_WARNINGS = 20


class LiveMessages:
    """The messages of `live.LiveWatch` (see the module docstring)."""

    def _resumed(self, previous: int, step: int) -> None:
        from phasewatch.resumes import MAX_RESUMES  # numpy: not at import (start-up time)

        self.result.resumes.append((previous, step))
        count = len(self.result.resumes)
        if count > MAX_RESUMES:
            if count == MAX_RESUMES + 1:
                self.notice(f"{self.source.source}: the step counter keeps going back, more "
                            "often than a run is resumed: the file interleaves the records of "
                            "several writers (two launches of the same run, several ranks); "
                            "further steps back are counted, not shown")
            return
        from phasewatch.resumes import went_back
        from phasewatch.step_units import at

        unit = self.source.info.step_unit
        how = (f"the monitor rewinds to {at(step, unit)} and drops the earlier records from it "
               "on" if self._resolver is None or self._resolver.can_rewind else
               "this monitor cannot rewind: re-logged values are ignored")
        self.notice(f"{getattr(self.source, 'reading', self.source.source)}: "
                    f"{went_back(previous, step, unit)}; {how}")

    def _notice_in_unit(self, note: str) -> None:
        """A note on the records (the resolver's word on a metric's several rows at one step, a
        train loss gone non-finite), its steps named in the unit the log's steps count
        (`xaxis.in_step_unit`), as the alerts and the resume's message name them: an HF console
        log without steps said "loss: logged again at step 300" of the row its reader numbers
        epoch 0.03 x 10,000, a step the log never states, and a Keras log "loss is not a number
        ... from step 12" where its alerts and `analyze` said "epoch 12"."""
        unit = self.source.info.step_unit
        if unit != "step":
            from phasewatch.xaxis import in_step_unit  # numpy: only for such a log

            note = in_step_unit(note, unit)
        self.notice(f"{self.source.source}: {note}")

    def _bad_line(self, file: Path, lineno: int, reason: str) -> None:
        self._bad_lines += 1
        if self._bad_lines <= MAX_LINE_WARNINGS:
            self.notice(f"{file}:{lineno}: skipped a line that is not a valid record: {reason}")
        if self._bad_lines == MAX_LINE_WARNINGS:
            self.notice(f"{file}: further bad lines are counted, not shown")

    def _report_warnings(self) -> None:
        """The source's new warnings, each after the path of the file it is about (a rotated
        log's parts name their own: `RotatedLog.located_warnings`)."""
        warnings = getattr(self.source, "located_warnings", None)
        if warnings is None:
            warnings = [f"{self.source.source}: {w}" for w in self.source.warnings]
        for warning in warnings[self._warned:]:
            self.notice(warning)
        self._warned = len(warnings)

    def _caught_up(self) -> None:
        """Each time the follower has read all there is."""
        if not self._said_following:
            self._said_following = True
            n = self._resolver.records if self._resolver is not None else len(self.choice.held)
            self.say(f"following {self.given_path} (caught up after {counted(n, 'record')}; "
                     "Ctrl-C to stop)")
        # held with the metric pickable (`ready_step` set), the records wait only for the
        # step it became pickable at to be complete, as any step's rows wait for the next
        # step: nothing to say (the metric is in the records already)
        if self.monitor is None and self.choice.held and self.choice.ready_step is None \
                and not self._said_holding:
            self._said_holding = True
            if self.metric_option:  # chosen already: no advice to choose one
                self.say(f"no '{self.metric_option}' in the records yet; holding them until "
                         "it appears or the log ends")
            elif (waits := self.choice.waits_for) is not None:
                self.say(f"{waits[0]} has 3 values, but {waits[1]}, which analyze takes before "
                         "it, has fewer and is logged beside it; holding the records until it "
                         "has 3 or the log ends (pass --metric to choose one now)")
            else:
                self.say("no held-out metric with 3 values yet (an evaluation's accuracy, "
                         "loss or score: eval/accuracy, val_acc, eval_reward...) nor the run's "
                         "declared one; holding them until there is one or the log ends "
                         "(pass --metric to choose one now)")
        self._check_missing()

    def _check_missing(self) -> None:
        if self.warned_missing or self.metric_option is None:
            return
        from phasewatch.unknown_metric import unknown_metric_message

        if self.monitor is not None:
            missing = bool(self.monitor.missing_metrics()) and self.monitor.n_records_ > 0
            names = self.monitor.metrics_seen
        else:
            names = list(self.choice.names)
            missing = bool(names) and not self.choice.holds(self.metric_option, self.source)
        if missing:
            self.warned_missing = True
            self.notice(unknown_metric_message(self.metric_option, names)
                        .replace("in this run", "in the records so far"))
