"""Evaluations logged after training ended, which are not points of the training curve.

HF's Trainer logs a summary row (`train_runtime`, `train_loss`, ...) when `train()` returns. A
`trainer.evaluate()` after it logs an evaluation row at the same global step, of the model the
Trainer holds then: with `load_best_model_at_end=True` the best checkpoint, not the final
weights. Read as a point of the curve, that row took the place of the evaluation the run made at
its last step (the later row of a step wins) and the run "recovered" to its best at the end: an
eval loss that rose from step 500 to step 1000 came out `improvement > overfit > improvement`,
with its best "at step 1000".

An evaluation row (one holding HF's `<prefix>_runtime`, which `evaluate()` logs every time) that
follows the end-of-training row with no training row between them, at its step, is therefore
judged by what it evaluated:
- its values equal those of an evaluation during training (every metric they share): that
  evaluation's model again (the last one, or the best checkpoint loaded at the end), left out
  (silently where it is the same step's: the curve is what it was);
- the run loaded its best checkpoint at the end (`load_best_model_at_end` in its arguments), or
  evaluated at that step during training with other results: not the curve's point at that
  step, left out (the value logged during training stands);
- otherwise: the final model, at a step the run did not evaluate during training, a point of the
  curve like any other.
A warning says what was left out and why. A training row after the end (`train()` called again)
ends the check: what follows is training again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasewatch.values import to_float

END_KEY = "train_runtime"
RUNTIME_SUFFIX = "_runtime"  # HF's evaluate() logs `<prefix>_runtime` with every evaluation
# what an evaluation row logs beside its metrics: timings and the epoch, not results
BOOKKEEPING_SUFFIXES = (RUNTIME_SUFFIX, "_samples_per_second", "_steps_per_second")


def _is_evaluation(values: Mapping[str, Any]) -> bool:
    return any(key.endswith(RUNTIME_SUFFIX) and key != END_KEY for key in values)


def _results(values: Mapping[str, Any]) -> dict[str, float]:
    """The row's evaluation results (numbers), without its timings, step and epoch."""
    out = {}
    for key, raw in values.items():
        if key in ("step", "epoch") or key.endswith(BOOKKEEPING_SUFFIXES):
            continue
        if (value := to_float(raw)) is not None:
            out[key] = value
    return out


class PostTrainingEvaluations:
    """Feed a log's rows in order (`left_out`); it says which are evaluations after training
    ended that are no point of the curve, and keeps the warnings that say so."""

    def __init__(self, loaded_best: bool = False) -> None:
        self.loaded_best = loaded_best  # the run's arguments say load_best_model_at_end
        self.warnings: list[str] = []
        self._end_step: int | None = None
        self._during: list[tuple[int, dict[str, float]]] = []  # evaluations while training

    def left_out(self, step: int, values: Mapping[str, Any], line: int | None = None) -> bool:
        """Whether this row is an evaluation after training that the curve leaves out."""
        if END_KEY in values:
            self._end_step = step
            return False
        evaluation = _is_evaluation(values)
        if not evaluation:
            if self._end_step is not None and any(k not in ("step", "epoch") for k in values):
                self._end_step = None  # training again
            return False
        results = _results(values)
        if self._end_step is None or step != self._end_step:
            self._during.append((step, results))
            return False
        left_out, why = self._why(step, results)
        if why is not None:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in list(results.items())[:3])
            where = f"line {line}: " if line else ""
            self.warnings.append(
                f"{where}an evaluation logged after training ended (step {step}: {shown}) is "
                f"{why}: left out of the curve, where it would stand for the model at step {step}")
        return left_out

    def _why(self, step: int, results: dict[str, float]) -> tuple[bool, str | None]:
        """(left out, the reason to say); the same values at the same step again need no word:
        the curve is what it was."""
        same_step = False
        for at, during in reversed(self._during):
            shared = results.keys() & during.keys()
            if not shared:
                continue
            if all(results[k] == during[k] for k in shared):
                if at == step:
                    return True, None
                return True, (f"the checkpoint of step {at} evaluated again (its results exactly: "
                              "the best checkpoint, loaded at the end by load_best_model_at_end)")
            same_step = same_step or at == step
        if self.loaded_best:
            return True, ("the best checkpoint's, which the run loaded at the end "
                          "(load_best_model_at_end)")
        if same_step:
            return True, (f"a second evaluation at step {step}, with other results than the one "
                          "made during training")
        return False, None


def left_out_rows(rows: list[tuple[int, Mapping[str, Any], int]],
                  loaded_best: bool = False) -> tuple[set[int], list[str]]:
    """The indices of `rows` (step, values, line) that are left out, and the warnings: the
    check over a whole log at once (a rewritten trainer_state.json is read whole each time)."""
    check = PostTrainingEvaluations(loaded_best)
    skipped = {i for i, (step, values, line) in enumerate(rows)
               if check.left_out(step, values, line)}
    return skipped, check.warnings
