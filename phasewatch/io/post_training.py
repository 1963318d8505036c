"""Evaluations logged after training ended, which are not points of the training curve.

HF's Trainer logs a summary row (`train_runtime`, `train_loss`, ...; `train/train_runtime` in
TensorBoard and W&B) when `train()` returns. A `trainer.evaluate()` after it logs an evaluation
(`eval_loss`, `eval/loss`, ...) at the same global step, of the model the Trainer holds then:
with `load_best_model_at_end=True` the best checkpoint, not the final weights. Read as a point of
the curve, it took the place of the evaluation the run made at its last step (the later value of
a step wins) and the run "recovered" to its best at the end: an eval loss that rose from step
500 to step 1000 came out `improvement > overfit > improvement`, with its best "at step 1000".

So each evaluation metric logged after the end-of-training row, at its step (before any record
of a later step: `train()` called again is training again), is judged by what it evaluated:
- its value is the one the curve has at that step: the same evaluation again, left out;
- its value is the one an evaluation during training gave at another step, as are the values of
  the evaluation's other metrics read before it: that checkpoint again (the best, loaded at the
  end), left out (a quantized accuracy alone often equals an earlier one by chance);
- the run's arguments say load_best_model_at_end: the best checkpoint's, left out;
- the run evaluated that metric at that step during training with another result: not the model
  of that step, whose value stands;
- otherwise: the final model, at a step the run did not evaluate during training, a point of the
  curve like any other.
A warning says what was left out and why, except where it repeats the value the curve has there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasewatch.set_names import EVAL_SET_PREFIXES
from phasewatch.values import to_float

END_KEY = "train_runtime"  # HF's summary row; TensorBoard and W&B: `train/train_runtime`
# what an evaluation logs beside its results: timings, not results
BOOKKEEPING_ENDS = ("runtime", "samples_per_second", "steps_per_second")


def ends_training(values: Mapping[str, Any]) -> bool:
    """Whether a row (or a TensorBoard event) is HF's end-of-training summary."""
    return any(key == END_KEY or key.endswith("/" + END_KEY) for key in values)


def loads_best(config: Mapping[str, Any]) -> bool:
    """Whether a run's arguments say `load_best_model_at_end` (true, or written as text)."""
    value = config.get("load_best_model_at_end")
    return value is True or str(value).strip().lower() in ("true", "1")


def _result(key: str) -> bool:
    """An evaluation's result: HF's `eval_x` / `eval/x`, not its timings."""
    return key.startswith(EVAL_SET_PREFIXES) and not key.endswith(BOOKKEEPING_ENDS)


class PostTrainingEvaluations:
    """Feed a log's rows in order (`kept`): what each keeps of its values, without the
    evaluations after training that are no point of the curve; `warnings` say what was left
    out."""

    def __init__(self, loaded_best: bool = False) -> None:
        self.loaded_best = loaded_best  # the run's arguments say load_best_model_at_end
        self._end_step: int | None = None
        self._during: dict[str, dict[int, float]] = {}  # results logged while training
        # the steps whose results equal every result logged after the end so far (None: none
        # yet): one evaluation is one model's, so a chance match of one metric (a quantized
        # accuracy) is not taken where the others differ; a row's results are all narrowed
        # before any is judged (TensorBoard's one event per scalar: those read so far)
        self._matches: set[int] | None = None
        self._left: dict[str, list] = {}  # reason -> [line, step, [(metric, value)...]]

    def ended_at(self, step: int) -> None:
        """Training ended at `step`: where the end is no row of its own (W&B's callback writes
        `train_runtime` to the run summary, then a history row at the last step)."""
        self._end_step, self._matches = step, None

    def kept(self, step: int, values: Mapping[str, Any],
             line: int | None = None) -> Mapping[str, Any]:
        """`values` without the results of an evaluation after training that the curve leaves
        out; an empty dict where nothing but such an evaluation's timings is left."""
        if ends_training(values):
            self.ended_at(step)
            return values
        if self._end_step is not None and step != self._end_step:
            self._end_step, self._matches = None, None  # training again, or another counter
        results = {key: v for key in values
                   if self.is_result(key) and (v := to_float(values[key])) is not None}
        if self._end_step is None:
            self.during(step, results)
            return values
        for key, value in results.items():  # the row's results first: one model's
            self._narrow(key, value)
        left = {key for key, value in results.items() if self._leave_out(key, value, step, line)}
        if not left:
            return values
        if left == results.keys():
            return {}
        return {key: v for key, v in values.items() if key not in left}

    def during(self, step: int, results: Mapping[str, float]) -> None:
        """Keep `results` (key -> number) as the evaluation at `step` during training."""
        for key, value in results.items():
            self._during.setdefault(key, {})[step] = value

    def validated(self, key: str) -> bool:
        """Whether the run logged `key` during training."""
        return bool(self._during.get(key))

    def new_evaluation(self) -> None:
        """The rows after this are another evaluation's (Lightning's `validate()` called again):
        matched to the steps of training afresh."""
        self._matches = None

    def is_result(self, key: str) -> bool:
        """Whether `key` is an evaluation's result (HF's names; `lightning_after_fit` takes
        Lightning's)."""
        return _result(key)

    def _narrow(self, key: str, value: float) -> None:
        """Keep in `_matches` only the steps whose `key` during training was `value`."""
        if during := self._during.get(key):
            same = {at for at, v in during.items() if v == value}
            self._matches = same if self._matches is None else self._matches & same

    def _leave_out(self, key: str, value: float, step: int, line: int | None) -> bool:
        during = self._during.get(key, {})
        matches = self._matches if during and self._matches else set()
        if step in matches:
            return True  # the value the curve has there: nothing to say
        if matches:
            self._say(self.checkpoint_again(max(matches)), line, step, key, value)
        elif self.loaded_best:
            self._say("the best checkpoint's, which the run loaded at the end "
                      "(load_best_model_at_end)", line, step, key, value)
        elif step in during:
            self._say(self.evaluated_again(step), line, step, key, (value, during[step], step))
        else:
            return False
        return True

    def checkpoint_again(self, step: int) -> str:
        """Why an evaluation whose results are exactly those of `step`'s is left out."""
        return (f"the checkpoint of step {step} evaluated again (its results exactly: the best "
                "checkpoint, loaded at the end by load_best_model_at_end)")

    def evaluated_again(self, step: int) -> str:
        """Why an evaluation of a metric the run evaluated at `step` with another result is
        left out."""
        return (f"a second evaluation at step {step}, with other results than the one made "
                "there during training")

    def _say(self, reason: str, line: int | str | None, step: int, key: str,
             value: float | tuple[float, float, int]) -> None:
        """Note `key`'s `value` as left out for `reason`: (value, the curve's, its step) where
        the reason is that another value of the same model stands in the curve."""
        self._left.setdefault(reason, [line, step, []])[2].append((key, value))

    def shown(self, values: list) -> str:
        """The values left out, the first three: `key new`, or `key new (step s: old)` beside
        the curve's value of the same model."""
        parts = []
        for key, value in values[:3]:
            if isinstance(value, tuple):
                new, old, at = value
                parts.append(f"{key} {new:.4g} (step {at}: {old:.4g})")
            else:
                parts.append(f"{key} {value:.4g}")
        more = f" and {len(values) - 3} more" if len(values) > 3 else ""
        return ", ".join(parts) + more

    @property
    def warnings(self) -> list[str]:
        out = []
        for reason, (line, step, values) in self._left.items():
            where = f"line {line}: " if line else ""
            out.append(f"{where}an evaluation logged after training ended (step {step}: "
                       f"{self.shown(values)}) is {reason}: left out of the curve, where it would "
                       f"stand for the model at step {step}")
        return out


def replace_notes(warnings: list[str], said: list[str], checks) -> list[str]:
    """`warnings` (a source's) with the notes `said` before replaced by what `checks` say now
    (a note grows as more of its metrics come: said once, in its latest words); returns the
    notes said now."""
    notes = [w for check in checks for w in check.warnings]
    warnings[:] = [w for w in warnings if w not in said] + notes
    return notes


def left_out_rows(rows: list[tuple[int, Mapping[str, Any], int]],
                  loaded_best: bool = False) -> tuple[list[Mapping[str, Any]], list[str]]:
    """What each of `rows` (step, values, line) keeps, and the warnings: the check over a whole
    log at once (a rewritten trainer_state.json is read whole each time)."""
    check = PostTrainingEvaluations(loaded_best)
    kept = [check.kept(step, values, line) for step, values, line in rows]
    return kept, check.warnings
