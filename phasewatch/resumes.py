"""Resumed runs: where a log's step counter went back.

Records stream in file order; a record whose step is below the highest step so far starts a
resume (`ResumeScan`), the later records for a step superseding the earlier ones. A step counter
belongs to the metrics that use it, though: a TensorBoard file may count epochs for its
validation tags beside batches for its train tags, and its stream then "goes back" at every
epoch without any metric going back. So the resumes are where some metric's own counter went
back (`backward_starts`, computed as the values are resolved; `resume_points`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from phasewatch.step_units import step_text, unit_word


def backward_starts(steps: np.ndarray) -> list[tuple[int, int]]:
    """(step, the step before it) where this metric's own counter went back, in file order:
    a resumed run, not a counter of other metrics (a TensorBoard file whose epoch-level tags
    count epochs beside tags that count batches)."""
    if steps.size < 2:
        return []
    back = np.flatnonzero(steps[1:] < steps[:-1])
    return list(zip(steps[back + 1].tolist(), steps[back].tolist()))


def triplet_backward_starts(ids: np.ndarray, steps: np.ndarray) -> list[tuple[int, int]]:
    """`backward_starts` of each metric of triplets in file order."""
    if ids.size < 2:
        return []
    order = np.argsort(ids, kind="stable")
    sid, sstep = ids[order], steps[order]
    back = np.flatnonzero((sid[1:] == sid[:-1]) & (sstep[1:] < sstep[:-1]))
    return list(zip(sstep[back + 1].tolist(), sstep[back].tolist()))


def went_back(previous: int, step: int, unit: str = "step") -> str:
    """What a resume warning says, in the log's own units (`step_units`): "step counter went
    back from 930 to 500; read as ...", "epoch counter went back from 3 to 0.03; ..." for an HF
    console log read in epochs (trial 40b: hfconsole-paligemma-qlora-3ev's "from 30000 to 300",
    epochs x 10,000 it shows nowhere else). Worded for what the records show, a run that
    started again, not for why: that log's first 3 epochs were a smoke test on 2 samples and
    the run after it a new one, not a resume."""
    return (f"{unit_word(unit)} counter went back from {step_text(previous, unit)} to "
            f"{step_text(step, unit)}; read as a run started again from there (resumed from a "
            "checkpoint, or a new run logged to the same file)")


# More resumes than any restarted run has: a file whose counter goes back this often holds the
# interleaved records of several writers (two launches of one run appending to one file,
# several ranks logging), not resumes, and is said once instead of at every step back.
MAX_RESUMES = 20


def interleaved_note(points: list[tuple[int, int, int]],
                     place: Callable[[int], str] | None = None) -> str:
    """The one warning for a log whose step counter went back more than MAX_RESUMES times
    (`points`: (step, went back from, line)); `place` names a line in a log joined from
    several files (`RecordCollector.where`)."""
    lines = [line for _, _, line in points if line > 0][:3]
    shown = ", ".join(map(place, lines)) if place else "lines " + ", ".join(map(str, lines))
    where = f" ({shown}, ...)" if lines else ""
    return (f"the step counter went back {len(points)} times{where}, more often than a run is "
            "resumed: the file interleaves the records of several writers (two launches of the "
            "same run appending to it, several ranks logging); for a step logged more than once "
            "the later record is kept, and no resume is marked")


def surviving(steps: np.ndarray) -> np.ndarray | None:
    """The positions of one metric's records (`steps` in file order) that survive, in
    ascending step order, or None when all do (the steps already ascend).

    Where the metric's counter went back to step s (a run resumed from an earlier checkpoint),
    its records before with steps >= s are the abandoned branch's and are dropped, as
    TensorBoard purges orphaned data and as the live monitor rewinds: a resume that evaluates
    at other steps, or ends before the step it went back from, keeps none of the old branch's
    values between its own (a run resumed at 50 that reached 80 kept the abandoned 90 and 100,
    and its best step was 100). A counter that went back more than MAX_RESUMES times holds
    several writers' records interleaved, not resumes: per step the last in file order."""
    if steps.size < 2 or (steps[1:] > steps[:-1]).all():
        return None
    if len(backward_starts(steps)) <= MAX_RESUMES:
        later_min = np.minimum.accumulate(steps[::-1])[::-1]
        return np.flatnonzero(steps < np.r_[later_min[1:], np.iinfo(np.int64).max])
    order = np.argsort(steps, kind="stable")
    ordered = steps[order]
    last = np.ones(ordered.size, dtype=bool)
    last[:-1] = ordered[1:] != ordered[:-1]
    return order[last]


def resume_points(found: list[tuple[int, int, int]],
                  backward: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The resumes of a log: (step, went back from, line).

    `found` are the stream's (`ResumeScan`), kept where some metric's own counter went back to
    that step; `backward` (per metric, `backward_starts`) adds the steps the stream's scan
    could not see (a tag going back right after another counter's lower step) unless they fall
    within a resume already kept (its re-logged block: an evaluation at 600 re-logged after a
    resume from 930 to 500 is that resume, not another)."""
    to = {step for step, _ in backward}
    kept = [r for r in found if r[0] in to]
    for step, before in sorted(backward):
        if not any(lo <= step <= hi for lo, hi, _ in kept):
            kept.append((step, before, 0))
    return sorted(kept)


class ResumeScan:
    """Where the step counter goes back, found as records stream in (the first record of each
    backwards run starts a resume, and so does one that goes back again within it: a run
    resumed twice before it regained its old maximum, 3 -> 1, 2 -> 1, is two resumes, as the
    live monitor rewinds twice), with the step it went back from (the running maximum, or
    within a backwards run the record before)."""

    def __init__(self) -> None:
        self.found: list[tuple[int, int, int]] = []  # (step, went back from, line)
        self._max: int | None = None
        self._back = False  # was the previous record below the running maximum?
        self._prev: int | None = None

    def one(self, step: int, line: int) -> None:
        top, prev = self._max, self._prev
        self._prev = step
        if top is None or step >= top:
            self._back = False
            self._max = step
        else:
            if not self._back:
                self.found.append((step, top, line))
            elif step < prev:
                self.found.append((step, prev, line))
            self._back = True

    def block(self, steps: np.ndarray, lines: np.ndarray) -> list[int]:
        """The same as `one` for each record, vectorised; returns the indices of the records
        that started a resume."""
        if steps.size == 0:
            return []
        offset = 0
        if self._max is None:
            self._max, steps_rest, lines_rest = int(steps[0]), steps[1:], lines[1:]
            self._back, self._prev = False, int(steps[0])
            if steps_rest.size == 0:
                return []
            steps, lines, offset = steps_rest, lines_rest, 1
        before = np.maximum.accumulate(np.concatenate(([self._max], steps)))
        back = steps < before[:-1]
        prev = np.concatenate(([self._prev if self._prev is not None else self._max], steps[:-1]))
        # a backwards run's first record, or one below the record before it within the run
        was_back = np.concatenate(([self._back], back[:-1]))
        starts = np.flatnonzero(back & (~was_back | (steps < prev))).tolist()
        for i in starts:
            went_from = before[i] if not was_back[i] else prev[i]
            self.found.append((int(steps[i]), int(went_from), int(lines[i])))
        self._max = int(before[-1])
        self._back = bool(back[-1])
        self._prev = int(steps[-1])
        return [i + offset for i in starts]
