"""The live monitor's two overfit tests after the peak (`tracker`'s module docstring): the level
held well below the best level for a whole window, and a steady decline since some step after
the peak, significant over all its values. Each reads and updates its `PhaseTracker`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from phasewatch.online.offline_agreement import offline_names_overfit
from phasewatch.online.refit_events import Event
from phasewatch.online.wording import moved
from phasewatch.output import counted

if TYPE_CHECKING:
    from phasewatch.online.tracker import PhaseTracker

SUSTAINED_WINDOWS = 1.0  # the level test: well below the peak for this many windows


def z_after_peak(t: PhaseTracker) -> float:
    """The z both tests after a peak need: the options' z, raised on a plateau for the windows
    the best level was the best of. On a plateau (`plateau_evals` evaluations without a
    significant new high) the best level is the highest window level since the level last rose
    by a noise sd or more (the anchor the plateau rule counts from, which such a new best
    moves), and each new level is tested against it: over K independent windows (evaluations
    since the anchor / the window) the best is the largest of K noisy levels and the latest
    level is tested K times, so a flat stretch of many windows reaches a fixed z by chance (the
    largest of 100 normal levels stands 2.5 sd above their mean on average, the smallest as far
    below). z is raised to sqrt(z^2 + 2 ln K), the Bonferroni bound over K comparisons for a
    normal tail (K = 10: 4.0 -> 4.5; 100: 5.0): without it, a plateau whose best level tops
    10-90 windows of one flat level (a validation reward, a batch reward on its lattice, an
    evaluation return) reaches 4.0-4.4 se below it and is stopped. Not in a rising phase:
    there the best level tops a rise, and the same bound on the few windows since its anchor
    would hold a real overfit's steady decline back."""
    z = t.cfg.z
    k = t.evals_since_anchor / t.series.window_now
    return math.sqrt(z * z + 2.0 * math.log(k)) if t.phase == "plateau" and k > 1.0 else z


def held_below_peak(t: PhaseTracker, level: float, onset: int | None) -> Event | None:
    """Overfit when the level is significantly below the best level (the peak) and has been
    at least half that far below it for a whole window (`SUSTAINED_WINDOWS`: an upset that
    recovers within a window is no stop), its window ranking below the peak's
    (`Series.ranks_below`), and, on a stage the refit reaches, `analyze` of its values so far
    names an overfit too (`offline_agreement.offline_names_overfit`). Counts the evaluations
    below on every call."""
    s = t.series
    thr = s.threshold(t.peak, s.se_level, cautious=True, z=z_after_peak(t))
    t.evals_below_peak = t.evals_below_peak + 1 if level < t.peak - thr / 2 else 0
    if not (level < t.peak - thr and t.evals_below_peak >= SUSTAINED_WINDOWS * s.window_now
            and s.ranks_below(t.peak_values) and offline_names_overfit(t)):
        return None
    side = moved(s.sign, better=False)[1]
    return ("overfit", onset,
            (f"{s.label} level {s.raw(level):.4g} is {s.gap_text(t.peak - level, s.se_level)} "
             f"{side} its best level {s.raw(t.peak):.4g} (around step {t.peak_step}), and well "
             f"{side} it for {counted(t.evals_below_peak, s.value_word)}"))


def decline_after_peak(t: PhaseTracker, level: float) -> Event | None:
    """Overfit when a steady decline since some step after the peak is significant over all
    its evaluations (`Series.decline_since`): a slow decline shows in the sum of all its
    evaluations long before the level (a median of `window`) clears the threshold. Tested
    only once the level is a standard error below the peak: a decline significant over all
    its evaluations is that far down by then, and most evaluations skip the test.

    Called where it first holds (`tracker.DECLINE_CONFIRM`): its z grows a few tenths per
    evaluation, and a fall in the latest values counts as a step (`LATEST_STEP_VALUES`), so
    `confirm` repeats would cost two evaluations and guard little. Its z is reported in the
    units it is judged in (`caution_after_rise`)."""
    s = t.series
    if level >= t.peak - max(s.floor(t.peak), s.se_level * s.caution_after_rise):
        return None
    decline = s.decline_since(t.peak_step, t.peak, t.stage_step, after_peak=True,
                              z_needed=z_after_peak(t) * s.caution_after_rise)
    if decline is None or not s.ranks_below(t.peak_values):
        return None
    z_decline, onset = decline[:2]
    t.steady_decline = True
    return ("overfit", onset,
            (f"{s.label} has got worse steadily since step {onset} "
             f"({z_decline / s.caution_after_rise:.1f} se against the {s.value_word}s near its "
             f"best level {s.raw(t.peak):.4g} around step {t.peak_step})"))
