"""Lightning's `trainer.validate()` (or `test()`) after `fit`, which is no point of the curve
when it evaluates weights the curve already has a point for.

What Lightning writes (2.x source: `loops/training_epoch_loop.py`, `loops/fit_loop.py`,
`trainer/connectors/logger_connector/logger_connector.py`; the same in CSVLogger's metrics.csv
and TensorBoardLogger's events): each row the Trainer logs has the step
`fit_loop.epoch_loop._batches_that_stepped` and an `epoch`, `trainer.current_epoch` (the epochs
the fit loop has completed). During `fit`, an epoch's validation runs after the optimizer step
of its last batch and before that counter counts the batch: after N batches it is logged at
step N-1, where the epoch-end training metrics are too. After `fit` the counter is N and
`current_epoch` the number of epochs run, so `validate()` and `test()` on the same Trainer log
at step N, in an epoch no training row has (TensorBoardLogger into a new event file), under
the names the validation used during `fit` (`val_loss`, `val_acc`, ...). Without `ckpt_path`
the model validated is the one `fit` left: the weights the validation at step N-1 evaluated;
`ckpt_path="best"` loads the best checkpoint, whose validation during `fit` gave exactly these
results when the data are the same. Read as a point of the curve, such a row was the run's
last and best evaluation: a validation after `fit` on a split redrawn by `random_split` read
0.9964 where the last epoch's had read 0.9868 (HCDescamps/cv-image-classification), and
`analyze` said "improvement ... -> 0.9964", step 8595 the checkpoint to keep.

So a row of held-out results only (`val_...`, `test_...`: `choice_notes.held_out_named`) at
the step one past the greatest logged before it, in an epoch past every earlier row's, is such
an evaluation, judged at the step of the weights it evaluated (N-1) by `post_training`'s rules:
the curve's own value there again is left out without a word; the exact results of another
step's validation are that checkpoint again; another value of a metric the validation at N-1
logged is the same weights evaluated again (other data, another setup), left out with both
values said; anything else (a `test_` metric, or the final weights where `fit` did not
validate them) stays, at its step. A validation of every batch has the same step and epoch at
the first batch of an epoch: so a row the rules would leave out is held until the log shows
`fit` over (its end, read as final: a replay, or a watch that ends) and let through unchanged
if training rows come after it, which makes a follow and a replay agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasewatch.choice_notes import held_out_named
from phasewatch.io.post_training import BOOKKEEPING_ENDS, PostTrainingEvaluations
from phasewatch.io.source import Record
from phasewatch.values import to_float

EPOCH_KEY = "epoch"  # what the Trainer adds to every row it logs (`current_epoch`)


class AfterFitValidations(PostTrainingEvaluations):
    """`post_training`'s judgement in Lightning's names and words: `at` is the logged step,
    where the warning places the row; the steps judged are those of the weights evaluated."""

    def __init__(self) -> None:
        super().__init__()
        self.at: tuple[int, Any] = (0, None)  # (logged step, epoch) of the rows judged now
        self._results: dict[str, bool] = {}  # key -> is_result (asked of every key of every row)

    def is_result(self, key: str) -> bool:
        found = self._results.get(key)
        if found is None:
            found = self._results[key] = (held_out_named(key)
                                          and not key.endswith(BOOKKEEPING_ENDS))
        return found

    def checkpoint_again(self, step: int) -> str:
        return (f"the checkpoint of step {step} evaluated again (exactly the results its "
                "validation during fit logged: a checkpoint loaded by ckpt_path, such as "
                "'best')")

    def evaluated_again(self, step: int) -> str:
        return (f"the weights fit ended with (those the validation at step {step} evaluated) "
                "evaluated again with other results (other data or another setup, not "
                "another model)")

    @property
    def warnings(self) -> list[str]:
        out = []
        for reason, (where, _, values) in self._left.items():
            step, epoch = self.at
            epoch_said = f", epoch {epoch:g}" if isinstance(epoch, float) else ""
            out.append(f"{where}: a validation logged after fit (step {step}{epoch_said}: "
                       f"{self.shown(values)}) is {reason}: left out of the curve, where it "
                       f"would be a point at step {step}")
        return out


class AfterFit:
    """Feed a Lightning log's records in order (`take`), then `end` at the end of each read:
    the records, less the evaluations after `fit` that are no point of the curve; `check`'s
    warnings say what was left out. `where` names the file a record's line is in."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.check = AfterFitValidations()
        self._max_step: int | None = None
        self._max_epoch: float | None = None
        self._held: list[Record] = []
        self._wheres: list[str] = []  # the file of each held record
        self._held_epoch = False  # an epoch past every earlier one was logged at the held step
        self._result_keys: dict[tuple, list[str]] = {}  # a row's keys -> its results'
        self._last_epoch: Any = None  # the last `epoch` value read, as logged

    def take(self, record: Record, where: str | None = None) -> list[Record]:
        """The records to read now: `record`, or none while it may be an evaluation after
        `fit` (then the held ones when it shows training went on). `where`: its file, where
        the source has several."""
        if self._held:
            if self._continues(record):
                return self._hold(record, where)
            return self._release() + self.take(record, where)
        if self._may_leave_out(record):
            return self._hold(record, where)
        self._during(record)
        return [record]

    def end(self, final: bool) -> list[Record]:
        """At the end of a read: the held records judged, once the log is final."""
        if not final or not self._held:
            return []
        if not self._held_epoch:  # no epoch past the last: not Lightning's after-fit rows
            return self._release()
        held, wheres, self._held, self._wheres = self._held, self._wheres, [], []
        step = held[0].step
        self.check.at = (step, self._epoch_of(held))
        self.check.ended_at(step - 1)
        out, kept_any, opens = [], False, True
        for record, where in zip(held, wheres):
            if opens:  # each call of validate()/test() is one evaluation, of its own model
                self.check.new_evaluation()
            opens = EPOCH_KEY in record.values  # the Trainer's last key of each call
            if set(record.values) == {EPOCH_KEY}:
                out.append(record)
                continue
            kept = self.check.kept(step - 1, record.values, f"{where} line {record.line}"
                                   if record.line else where)
            if kept:
                kept_any = True
                out.append(Record(record.step, kept, record.line, record.group))
        # an evaluation left out whole leaves no `epoch` of its own (TensorBoard's one event)
        return [r for r in out if kept_any or set(r.values) != {EPOCH_KEY}]

    def _epoch(self, values: Mapping[str, Any]) -> float | None:
        return to_float(values.get(EPOCH_KEY)) if EPOCH_KEY in values else None

    def _epoch_of(self, records: list[Record]) -> float | None:
        return next((e for r in records if (e := self._epoch(r.values)) is not None), None)

    def _past_epoch(self, values: Mapping[str, Any]) -> bool | None:
        """Whether the row's epoch is past every earlier row's (None: it has none)."""
        epoch = self._epoch(values)
        if epoch is None:
            return None
        return self._max_epoch is not None and epoch > self._max_epoch

    def _results(self, values: Mapping[str, Any]) -> list[str]:
        return [k for k in values if k != EPOCH_KEY]

    def _may_leave_out(self, record: Record) -> bool:
        """Whether `record` opens what may be an evaluation after `fit` that the rules leave
        out: held-out results only, one step past the last, in a later epoch (or none given:
        TensorBoard writes the epoch after the results), a metric validated during `fit`."""
        if self._max_step is None or self._max_epoch is None or record.step != self._max_step + 1:
            return False
        if record.values.get(EPOCH_KEY, self) == self._last_epoch:  # the epoch goes on
            return False
        keys = self._results(record.values)
        if not keys or not all(self.check.is_result(k) for k in keys):
            return False
        if self._past_epoch(record.values) is False:
            return False
        return any(self.check.validated(k) for k in keys)

    def _continues(self, record: Record) -> bool:
        """Whether `record` belongs with the held ones: at their step, held-out results or
        the epoch alone, the epoch (if any) past every earlier row's."""
        if record.step != self._held[0].step:
            return False
        if not all(self.check.is_result(k) for k in self._results(record.values)):
            return False
        return self._past_epoch(record.values) is not False

    def _hold(self, record: Record, where: str | None) -> list[Record]:
        self._held.append(record)
        self._wheres.append(where or self.where)
        self._held_epoch = self._held_epoch or bool(self._past_epoch(record.values))
        return []

    def _release(self) -> list[Record]:
        """The held records as they are: training went on after them."""
        held, self._held, self._wheres, self._held_epoch = self._held, [], [], False
        for record in held:
            self._during(record)
        return held

    def _during(self, record: Record) -> None:
        """`record` read as a row of training (the check keeps its results as `fit`'s)."""
        values = record.values
        keys = self._result_keys.get(tuple(values))
        if keys is None:  # a log's rows have few sets of keys: each judged once
            keys = self._result_keys[tuple(values)] = [k for k in values
                                                       if self.check.is_result(k)]
        if keys:
            self.check.during(record.step, {k: v for k in keys
                                            if (v := to_float(values[k])) is not None})
        self._max_step = record.step if self._max_step is None else max(self._max_step,
                                                                        record.step)
        epoch = values.get(EPOCH_KEY)
        if epoch is not None and epoch != self._last_epoch:  # (a new epoch is rare)
            self._last_epoch = epoch
            epoch = to_float(epoch)
            if epoch is not None:
                self._max_epoch = epoch if self._max_epoch is None else max(self._max_epoch,
                                                                            epoch)
