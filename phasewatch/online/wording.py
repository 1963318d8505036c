"""Words of the live alerts in the metric's own direction and with the numbers they quote.

The monitor works on values turned higher-is-better; a loss's alerts must still read as its log
does (a loss that improves "fell"), and a starting level must be a number the log shows or say
how it was made.
"""

from __future__ import annotations

from phasewatch.online.series import Series


def starting_level(s: Series, stage_step: int | None = None) -> str:
    """The starting level as printed: the first value, or the mean of the first few that stay
    within noise of it (`observed_start`), said so, so the number matches what the log shows;
    after a change of training stage at `stage_step`, the last value up to it (the switch step's
    own evaluation is still before the new stage: contracts.md)."""
    level = f"the starting level {s.raw(s.baseline):.4g}"
    if stage_step is not None:
        return f"{level} (the last {s.value_word} up to the stage switch at step {stage_step})"
    return (level if s.baseline_n == 1 else
            f"{level} (mean of the first {s.baseline_n} {s.value_word}s)")


# Live, a disruption and an overfit from the start look alike until the run's length says
# whether the fall came early: without it, a held-out loss rising from its first evaluation as
# train loss falls stays a "disruption" to the end of the run. Said beside such a disruption,
# its values counted as the series' are (`Series.value_word`).
def from_start_text(word: str = "evaluation") -> str:
    return (f"; getting worse from the first {word} can also be an overfit from the start: give "
            "the run's planned length (--planned-steps) to tell the two apart")


FROM_START_HINT = from_start_text()


def from_start_hint(s: Series, planned: bool, stage_step: int | None, onset: int) -> str:
    """`from_start_text` for a disruption of `s` whose fall began at its first value (`onset`
    at `s.first_step`, no stage switch before it) with no planned length known, else ''."""
    if planned or stage_step is not None or onset != s.first_step:
        return ""
    return from_start_text(s.value_word)


def worst_before_text(s: Series, since: int) -> str:
    """'; its worst evaluation so far: V at step S' where the worst value since step `since`
    came before the latest one, else ''. A disruption's level is a window's median, and its
    alert waits for the fall to be significant against the noise of the values so far: an
    evaluation reward -41.4, -212.6, -732.5, -874.1, -829.4, -877.8, -803.1, -832.0 is
    announced at its eighth evaluation, two after its worst and four after the fall; the
    worst names where the fall got to, and that the alert came after it."""
    pairs = [(v, step) for v, step in zip(s.values, s.steps) if step >= since]
    if len(pairs) < 2:
        return ""
    worst, step = min(pairs, key=lambda p: (p[0], -p[1]))  # of equal worst, the latest
    if step == pairs[-1][1]:  # (a collapse to a constant reads its level, that value)
        return ""
    return f"; its worst {s.value_word} so far: {s.raw(worst):.4g} at step {step}"


def moved(sign: float, better: bool) -> tuple[str, str]:
    """The verb and side of a change of the level, in the metric's own direction: the monitor
    turns a loss to higher-is-better, but a loss that improves "fell ... below", as its log
    reads."""
    return ("rose", "above") if (sign > 0) == better else ("fell", "below")


def trained_overfit_text(s: Series) -> str:
    """Beside an overfit alert on a series scored on the training batches (`Series.value_word`
    "reading": a train loss or reward, watched for want of a held-out metric), what that shape
    is there, as `analyze` warns beside the same phase (`train_beside.note_train_beside`):
    training getting worse after its best (a train loss spiking with its gradient norm), not
    an overfit to the training data, which a training-batch score cannot
    show: `watch` warns so when it takes a train loss, and the alert must not contradict it;
    else ''."""
    if s.value_word != "reading":
        return ""
    return (f"; {s.label} is scored on the training batches: this is training getting worse "
            "after its best (an instability of training), not an overfit to the training data")
