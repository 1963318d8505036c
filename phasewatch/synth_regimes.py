"""What the synthetic generator families share: the kinds, the regimes and the truth.

Two independent families draw the curves and the noise (`phasewatch.synth`: eased piecewise
shapes and exponential approaches with Gaussian / AR(1) / binomial noise on a regular cadence;
`phasewatch.synth_logistic`: logistic and Gaussian-bump sums with Student-t / AR(1) / binomial
noise on an irregular cadence). What "correct" means must not differ between them, so the kinds
(which phases a run contains), the regimes (how it is observed) and the rule that turns a
noiseless curve into true phases live here, once, following DESIGN.md "Phase semantics":

- a boundary at a turn (disruption -> readaptation, readaptation/improvement -> overfit) is at
  the true extreme (trough, peak) of the noiseless curve on the run's evaluation steps;
- a boundary into a plateau is the first evaluation where the curve is within one noise sd of
  the level it settles at;
- a late decline starts at the evaluation where the flat stretch ends (the generator says where);
- the true starting level is the noiseless value at the first evaluation (`start`), observed
  with noise sd `start_sd`;
- a loss's `dip_no_recovery` (a held-out loss rising to a level it never leaves, while the train
  loss every run logs keeps falling) is an overfit then a plateau, not a disruption.

    >>> from phasewatch import synth
    >>> s = synth.generate_regime("dip_recover", "sparse", seed=0)
    >>> s.truth["phases"], s.truth["start"], s.truth["noise_sd"]
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from phasewatch.run import Run

# kind -> the phases it contains, in order (the names are DESIGN.md's).
KIND_PHASES: dict[str, tuple[str, ...]] = {
    "three_phase": ("disruption", "readaptation", "overfit"),
    "three_phase_loss": ("disruption", "readaptation", "overfit"),
    "dip_recover": ("disruption", "readaptation", "plateau"),
    "dip_no_recovery": ("disruption", "plateau"),
    "overfit_only": ("improvement", "overfit"),
    "improve_plateau": ("improvement", "plateau"),
    "nll_overfit": ("improvement", "overfit"),
    "flat": ("plateau",),
    "monotone": ("improvement",),
    # held-out performance gets worse from the first evaluation while train loss keeps falling
    "decline_from_start": ("overfit",),
    # flat, then a sustained decline over the last third
    "late_decline": ("plateau", "overfit"),
    # control: a rise that saturates within the first tenth, then flat
    "saturating": ("improvement", "plateau"),
    # control: a metric that rises to a hard cap (a response length capped at 11) and sits on it
    "capped": ("improvement", "plateau"),
}
# Kinds every regime runs in both families (`capped` only where metrics are bounded).
REGIME_KINDS: tuple[str, ...] = (
    "three_phase", "dip_recover", "dip_no_recovery", "improve_plateau", "overfit_only",
    "decline_from_start", "late_decline", "flat", "monotone", "saturating")
# Runs a detector must not over-read: any phase reported that the truth lacks is a false claim.
CONTROL_KINDS: tuple[str, ...] = ("flat", "monotone", "saturating", "capped")
CAP = 11.0  # the constant a `capped` metric saturates at


@dataclass(frozen=True)
class Regime:
    """How a run is observed. The families read these flags and draw the details themselves."""

    name: str
    points: tuple[int, int]        # number of evaluations, inclusive range
    step0: bool = False            # an evaluation at step 0, before any update; change starts at once
    fast: bool = False             # transitions saturate within the first tenth of the run
    noise: str = "white"           # white | ar1 | binomial (accuracy on a fixed prompt set)
    outliers: bool = False         # one or two failed evaluations reading absurdly low
    lower_is_better: bool = False  # the metric is a loss
    bounded: bool = False          # a rate in [0, 1] that reaches 0 or 1; adds the `capped` kind
    help: str = ""

    def kinds(self) -> tuple[str, ...]:
        """The kinds this regime generates."""
        return REGIME_KINDS + (("capped",) if self.bounded else ())


REGIMES: dict[str, Regime] = {r.name: r for r in (
    Regime("sparse", (3, 12), help="3-12 evaluations"),
    Regime("medium", (13, 40), help="13-40 evaluations"),
    Regime("dense", (41, 300), help="41-300 evaluations"),
    Regime("fast", (25, 80), fast=True, help="transitions saturate in the first tenth"),
    Regime("step0", (6, 40), step0=True, help="evaluation at step 0, change from the first update"),
    Regime("binomial", (13, 60), noise="binomial", help="accuracy on 100-1000 prompts"),
    Regime("ar1", (40, 200), noise="ar1", help="AR(1) noise, phi 0.3-0.7"),
    Regime("outliers", (13, 60), outliers=True, help="one or two failed evaluations"),
    Regime("lower", (13, 60), lower_is_better=True, help="a loss (lower is better)"),
    Regime("bounded", (13, 60), bounded=True, help="rates reaching 0 or 1; a length capped at 11"),
)}
REGIME_NAMES: tuple[str, ...] = tuple(REGIMES)


def min_points(kind: str) -> int:
    """Fewest evaluations that can show every phase of `kind`: each turn needs its extreme and
    each sustained phase after it at least two evaluations (a late decline: two after the flat)."""
    return max(3, 2 * len(KIND_PHASES[kind]) + 1) if kind != "late_decline" else 5


def regime_of(regime: str | Regime) -> Regime:
    """The `Regime` named `regime` (or `regime` itself)."""
    if isinstance(regime, Regime):
        return regime
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; expected one of {', '.join(REGIME_NAMES)}")
    return REGIMES[regime]


def draw_points(regime: Regime, kind: str, rng: np.random.Generator) -> int:
    """Number of evaluations of one run: uniform over the regime's range, at least `min_points`."""
    lo, hi = regime.points
    return int(rng.integers(max(lo, min_points(kind)), max(hi, min_points(kind)) + 1))


def grid_index(t: np.ndarray, lo: float, hi: float, rng: np.random.Generator,
               first: int, last: int) -> int:
    """A random evaluation index whose run fraction lies in [lo, hi], kept within [first, last].
    Features sit on evaluations so that even a sparse run shows its trough and peak."""
    inside = np.flatnonzero((t >= lo) & (t <= hi))
    i = int(rng.choice(inside)) if inside.size else int(np.argmin(np.abs(t - (lo + hi) / 2)))
    return int(np.clip(i, first, last))


def truth_phases(kind: str, steps: np.ndarray, curve: np.ndarray, sd: float,
                 onset: int | None = None) -> list[tuple[str, int, int]]:
    """True phases [(name, start_step, end_step)] of the higher-is-better noiseless `curve` at
    evaluation `steps` (see the module docstring). `onset` is the evaluation index where a late
    decline leaves its flat stretch. Raises if the curve cannot show its kind (a generator bug)."""
    names = KIND_PHASES[kind]
    cuts = [0]
    peak = int(np.argmax(curve))

    def settled(after: int) -> int:
        # first evaluation after `after` within one sd of the level the curve ends at
        near = np.abs(curve - curve[-1]) <= sd
        near[: after + 1] = False
        return int(np.argmax(near)) if near.any() else curve.size - 1

    if kind in ("three_phase", "three_phase_loss"):
        cuts += [int(np.argmin(curve[: peak + 1])), peak]
    elif kind == "dip_recover":
        trough = int(np.argmin(curve))
        cuts += [trough, settled(trough)]
    elif kind in ("dip_no_recovery", "improve_plateau", "saturating", "capped"):
        cuts.append(settled(0))
    elif kind in ("overfit_only", "nll_overfit"):
        cuts.append(peak)
    elif kind == "late_decline":
        if onset is None:
            raise ValueError("late_decline needs the onset index")
        cuts.append(int(onset))
    cuts.append(curve.size - 1)
    if any(b <= a for a, b in itertools.pairwise(cuts)) or len(cuts) != len(names) + 1:
        raise ValueError(f"{kind}: the curve does not show its phases on these evaluations "
                         f"(cuts at indices {cuts})")
    return [(name, int(steps[cuts[k]]), int(steps[cuts[k + 1]])) for k, name in enumerate(names)]


def boundaries(phases) -> list[tuple[str, str, int]]:
    """(from, to, step) for each boundary between consecutive phases."""
    return [(a[0], b[0], int(b[1])) for a, b in itertools.pairwise(phases)]


@dataclass
class SyntheticRun:
    """A generated run, the metric to analyse and what a correct analysis finds."""

    run: Run
    metric: str
    direction: str
    truth: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: str | Path) -> Path:
        """Write the run as a native run folder (metrics.jsonl + run.json), for CLI tests."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        wide = self.run.wide()
        with open(folder / "metrics.jsonl", "w", encoding="utf-8") as out:
            for step, row in zip(wide.index.tolist(), wide.to_dict("records")):
                # non-finite = not logged here (the table cannot tell a literal NaN apart)
                values = {k: v for k, v in row.items() if np.isfinite(v)}
                out.write(json.dumps({"step": int(step), **values}) + "\n")
        meta = {"schema_version": 1, "name": self.run.name, "algorithm": "synthetic",
                "performance_metric": self.metric, "direction": self.direction,
                "events": [e.to_dict() for e in self.run.events if e.name != "resume"],
                "config": {"kind": self.truth.get("kind")}}
        (folder / "run.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return folder


def regime_phases(kind: str, regime: Regime) -> tuple[str, ...]:
    """The phases a run of `kind` contains in `regime`: `KIND_PHASES`, but a loss's
    `dip_no_recovery` (a held-out loss rising to a level it never leaves while the train loss
    every run logs keeps falling) is an overfit then a plateau
    (`expert_data.held_out_loss_overfit`: docs/detection.md's phase semantics)."""
    if regime.lower_is_better and kind == "dip_no_recovery":
        return ("overfit", "plateau")
    return KIND_PHASES[kind]


def regime_truth(kind: str, regime: Regime, family: str, steps: np.ndarray, curve: np.ndarray,
                 sd: float, sign: float, onset: int | None = None, **extra: Any) -> dict[str, Any]:
    """The truth dict of a regime run. `curve` and `sd` (the run's nominal noise sd, which sets
    the plateau rule) are in the metric's own units; `sign` is +1 for higher-is-better, -1 for a
    loss; `start_sd` in `extra` is the noise sd of the first evaluation where it differs from
    `sd` (binomial or level-dependent noise)."""
    phases = [(name, a, b) for name, (_, a, b) in
              zip(regime_phases(kind, regime), truth_phases(kind, steps, sign * curve, sd, onset))]
    gaps = np.diff(steps)
    start_sd = float(extra.pop("start_sd", sd))
    return {
        "kind": kind, "regime": regime.name, "family": family, "phases": phases,
        "boundaries": boundaries(phases), "start": float(curve[0]), "noise_sd": float(sd),
        "start_sd": start_sd,
        "curve_steps": steps, "curve": curve, "n_points": int(steps.size),
        "eval_every": float(np.median(gaps)) if gaps.size else 0.0, **extra,
    }


__all__ = ["CAP", "CONTROL_KINDS", "KIND_PHASES", "REGIMES", "REGIME_KINDS", "REGIME_NAMES",
           "Regime", "SyntheticRun", "boundaries", "draw_points", "grid_index", "min_points",
           "regime_of", "regime_phases", "regime_truth", "truth_phases"]
