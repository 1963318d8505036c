"""Early-stop alerts: phasewatch's live monitor against patience-based early stopping.

Printed side by side on the same runs:
- synthetic runs with known truth (`phasewatch.synth` when present, else the small generator
  below) with and without overfit;
- the reference trainer's runs in sample_logs/ (truth = the offline detector's overfit phase),
  or a multi-seed `trainer_study.py` folder with `--study`; their table ends with an optimistic
  bound on the delay any z-test could reach (`oracle_delay`).

Columns: detection rate (stopped at or after the true overfit onset, on runs with overfit),
early (stopped before the onset, on runs with overfit), false (stopped at all, on runs without
overfit), median delay (stop - onset) as a fraction of the run's length, and the regret of the
recommended checkpoint: clean(peak) - clean(recommended), as a percentage of the clean curve's
range (the checkpoint a method recommends is its best step at the stop, or at the end of the run
when it never stopped).

Baselines, with the semantics of the frameworks' callbacks:
- patience N: Hugging Face `EarlyStoppingCallback(early_stopping_patience=N)` (threshold 0):
  stop after N evaluations without a new best; recommend the best evaluation (what
  `load_best_model_at_end` loads).
- EMA + patience: Lightning `EarlyStopping(patience=10)` on an exponential moving average of the
  metric (alpha = 0.1, half-life ~6.6 evaluations).
- FOCuS and one-sided CUSUM after the best point, with outlier clipping
  (`early_stop_baselines.py`), thresholds calibrated on other seeds for false <= 0.05.
The first tables: both synthetic families (`phasewatch.synth`, `phasewatch.synth_logistic`),
dense (41-300 evaluations) and sparse (13-40) runs, every kind, truth from the generator, each
followed by the same scores per kind. Later: plateau runs with one upset that recovers (false
stops only) and the reference runs, where FOCuS and CUSUM take the dense runs' thresholds.
Run: .venv/bin/python benchmarks/bench_early_stop.py [--runs N] [--first-seed S] [--only-regimes]
     [--only-upsets] [--only-reference]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from early_stop_baselines import Cusum, Focus, calibrate, regime_runs, stop_at

from phasewatch.noise import noise_scale
from phasewatch.online import PhaseMonitor
from phasewatch.planned import planned_steps

TARGETS = {"detection": ">= 0.95", "early": "<= 0.05", "false": "<= 0.05", "delay": "<= 0.20"}


# ----------------------------------------------------------------------------- test runs
@dataclass
class Case:
    name: str
    kind: str
    records: list  # (step, {metric: value}) in log order: what a live monitor sees
    metric: str
    direction: str
    curve_steps: np.ndarray  # the noiseless performance curve (for regret)
    curve: np.ndarray
    onset: int | None  # true overfit onset step (None: no overfit)
    noise_sd: float | None = None
    run: object = None  # the resolved Run (for the offline detector)
    planned: int | None = None  # the run's planned last step (a trainer's max_steps)
    events: tuple = ()  # known boundaries (run.json), told to the monitor

    def __post_init__(self) -> None:
        if self.planned is None and self.records:  # a finished run: its last logged step
            self.planned = max(step for step, _ in self.records)

    def performance_only(self) -> Case:
        records = [(s, {self.metric: r[self.metric]}) for s, r in self.records if self.metric in r]
        return dataclasses.replace(self, records=records)


def _ar1(rng, n, phi, sd):
    e = rng.normal(0, sd * math.sqrt(1 - phi**2), n)
    x = np.empty(n)
    x[0] = rng.normal(0, sd)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def own_generator(kind: str, seed: int) -> Case:
    """Training-like curves: smooth shapes, AR(1) noise, rare outliers, NaNs, eval every
    `every` steps. Used until `phasewatch.synth` exists (and as a second opinion after)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(120, 400))
    every = int(rng.choice([5, 10, 20]))
    t = np.linspace(0, 1, n)
    start = rng.uniform(0.3, 0.6)
    sd = rng.uniform(0.01, 0.03)
    dip = rng.uniform(0.08, 0.2)
    gain = rng.uniform(0.1, 0.3)
    t_dip, t_peak = rng.uniform(0.05, 0.15), rng.uniform(0.35, 0.65)
    decline = rng.uniform(0.06, 0.15)  # total loss over the overfit phase
    onset = None
    if kind in ("three_phase", "overfit_only"):
        rise = start + gain / (1 + np.exp(-(t - (t_dip + t_peak) / 2) / 0.05))
        base = rise - (dip * np.exp(-((t - t_dip) / 0.05) ** 2) if kind == "three_phase" else 0)
        # after the peak: a decline that starts smoothly (quadratic), then linear
        after = np.clip(t - t_peak, 0, None)
        curve = base - decline * (after / (1 - t_peak)) ** 1.3
    elif kind == "flat":
        curve = np.full(n, start)
    elif kind == "monotone":
        curve = start + gain * (1 - np.exp(-t / rng.uniform(0.1, 0.4)))
    elif kind == "dip_recover":
        curve = (start + gain / (1 + np.exp(-(t - 0.3) / 0.05))
                 - dip * np.exp(-((t - t_dip) / 0.05) ** 2))
    else:
        raise ValueError(kind)
    phi = rng.choice([0.0, 0.3, 0.5])
    y = curve + _ar1(rng, n, phi, sd)
    outliers = rng.random(n) < 0.01
    y[outliers] -= rng.uniform(3, 8) * sd
    y[rng.random(n) < 0.01] = np.nan
    steps = np.arange(n) * every
    if kind in ("three_phase", "overfit_only"):
        onset = int(steps[int(np.argmax(curve))])
    records = [(int(st), {"eval/accuracy": float(v)}) for st, v in zip(steps, y)]
    return Case(f"own:{kind}/{seed}", kind, records, "eval/accuracy", "max", steps, curve, onset)


def own_cases(n_runs: int) -> list[Case]:
    kinds = ("three_phase", "overfit_only", "flat", "monotone", "dip_recover")
    return [own_generator(kind, 1000 + i) for i in range(n_runs) for kind in kinds]


def upset_run(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One upset run (`upset_cases`) drawn from `seed`: steps, noiseless curve, logged values,
    noise sd. tests/test_online_after_peak.py draws its runs here too."""
    rng = np.random.default_rng(seed)
    n, sd = int(rng.integers(150, 300)), rng.uniform(0.01, 0.02)
    t = np.arange(n, dtype=float)
    curve = 0.5 + 15 * sd / (1 + np.exp(-(t - 0.15 * n) / (0.03 * n)))
    start, length = int(rng.integers(int(0.4 * n), int(0.8 * n))), int(rng.integers(3, 11))
    upset = np.where((t >= start) & (t < start + length), rng.uniform(4, 10) * sd, 0.0)
    return np.arange(n) * 10, curve, curve - upset + rng.normal(0, sd, n), sd


def upset_cases(n_runs: int) -> list[Case]:
    """A rise, then a plateau at its top with one optimisation upset: the accuracy falls 4-10
    noise sds for 3-10 evaluations, then comes back. No overfit (DESIGN.md: an overfit is a
    *sustained* decline), so any stop is a false one; 150-300 evaluations, white noise."""
    cases = []
    for seed in range(n_runs):
        steps, curve, y, sd = upset_run(7000 + seed)
        records = [(int(st), {"eval/accuracy": float(v)}) for st, v in zip(steps, y)]
        cases.append(Case(f"upset/{seed}", "upset", records, "eval/accuracy", "max", steps, curve,
                          None, sd))
    return cases


def upset_table(n_runs: int, calib_runs: int) -> None:
    """False stops on `upset_cases`, FOCuS and CUSUM at the dense runs' thresholds."""
    methods = with_dense_baselines(calib_runs)
    table("a plateau with one upset that recovers (3-10 evaluations, 4-10 sd; false alarms only)",
          upset_cases(n_runs), methods)


def ar_flat_cases(n_runs: int, phi: float) -> list[Case]:
    """Long flat runs (300-800 evaluations) whose noise is strongly autocorrelated: the slow
    wander of AR(1) noise is what a trend detector most easily mistakes for a decline."""
    cases = []
    for seed in range(n_runs):
        rng = np.random.default_rng(5000 + seed + int(100 * phi))
        n = int(rng.integers(300, 800))
        steps = np.arange(n) * 10
        y = 0.5 + _ar1(rng, n, phi, rng.uniform(0.01, 0.03))
        records = [(int(st), {"eval/accuracy": float(v)}) for st, v in zip(steps, y)]
        cases.append(Case(f"ar_flat:{phi}/{seed}", "flat", records, "eval/accuracy", "max",
                          steps, np.full(n, 0.5), None))
    return cases


def synth_cases(n_runs: int, first_seed: int = 0) -> list[Case] | None:
    """phasewatch.synth runs, every kind, fed as logged (all metrics, step order); seeds
    first_seed .. first_seed + n_runs - 1 (the report uses 0 ..; tune on others)."""
    try:
        from phasewatch import synth
    except ImportError:
        return None
    cases = []
    for kind in synth.KINDS:
        for seed in range(first_seed, first_seed + n_runs):
            s = synth.generate(kind, seed)
            wide = s.run.wide()
            names = list(wide.columns)
            records = [
                (int(step), {n: float(v) for n, v in zip(names, row) if not math.isnan(v)})
                for step, row in zip(wide.index.to_numpy(), wide.to_numpy(dtype=float))
            ]
            t = s.truth
            cases.append(Case(f"synth:{kind}/{seed}", kind, records, s.metric, s.direction,
                              np.asarray(t["curve_steps"]), np.asarray(t["curve"]),
                              t["overfit_onset_step"], t["noise_sd"], s.run))
    return cases


# ----------------------------------------------------------------------------- methods
class Patience:
    """HF EarlyStoppingCallback: stop after `patience` evaluations without improvement
    (`ema`: Lightning EarlyStopping on an exponential moving average of the metric)."""

    def __init__(self, metric: str, direction: str, patience: int, threshold: float = 0.0,
                 ema: float | None = None):
        self.metric, self.sign = metric, 1.0 if direction == "max" else -1.0
        self.patience, self.threshold, self.ema = patience, threshold, ema
        self.best = None
        self.best_step = None
        self.bad = 0
        self.smoothed = None
        self.should_stop = False

    def update(self, step: int, metrics: dict) -> None:
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        value = self.sign * value
        if self.ema is not None:
            self.smoothed = value if self.smoothed is None else (
                self.ema * value + (1 - self.ema) * self.smoothed)
            value = self.smoothed
        if self.best is None or value > self.best + self.threshold:
            self.best, self.best_step, self.bad = value, step, 0
        else:
            self.bad += 1
            if self.bad >= self.patience:
                self.should_stop = True


class Phasewatch:
    def __init__(self, metric: str, direction: str, events=(), **options):
        self.monitor = PhaseMonitor(metric=metric, direction=direction, **options)
        self.events = sorted(events)  # known boundaries (run.json), told to the monitor

    def update(self, step: int, metrics: dict) -> None:
        while self.events and step >= self.events[0][0]:
            self.monitor.mark_event(*self.events.pop(0))
        self.monitor.update(step, metrics)

    @property
    def should_stop(self) -> bool:
        return self.monitor.should_stop

    @property
    def best_step(self) -> int | None:
        return self.monitor.best_step


class Oracle:
    """Not a method: knows the noiseless curve and the true onset, and stops at the first step
    after it where the curve is `k` noise sd below its peak (never on runs without overfit).
    It shows how early the information allows: an estimator cannot do much better."""

    def __init__(self, case: Case, k: float = 2.0):
        sign = 1.0 if case.direction == "max" else -1.0
        self.curve = dict(zip(case.curve_steps.tolist(), (sign * case.curve).tolist()))
        self.onset = case.onset
        self.limit = None if case.onset is None else (
            self.curve[case.onset] - k * (case.noise_sd or 0.0))
        self.best_step = case.onset
        self.should_stop = False

    def update(self, step: int, metrics: dict) -> None:
        value = self.curve.get(step)
        if self.limit is not None and value is not None and step > self.onset:
            self.should_stop = value < self.limit


METHODS = {  # each makes a detector for a Case
    "phasewatch": lambda c: Phasewatch(c.metric, c.direction, c.events),
    "phasewatch + max_steps": lambda c: Phasewatch(c.metric, c.direction, c.events,
                                                   planned_steps=c.planned),
    "patience 3": lambda c: Patience(c.metric, c.direction, 3),
    "patience 10": lambda c: Patience(c.metric, c.direction, 10),
    "EMA(0.1) + patience 10": lambda c: Patience(c.metric, c.direction, 10, ema=0.1),
}


def evaluate(make, case: Case) -> dict:
    method = make(case)
    stop = None
    for step, metrics in case.records:
        method.update(step, metrics)
        if method.should_stop:
            stop = step
            break
    best = method.best_step
    clean = case.curve if case.direction == "max" else -case.curve
    span = float(clean.max() - clean.min()) or 1.0
    if best is None:
        idx = len(clean) - 1
    else:
        idx = min(int(np.searchsorted(case.curve_steps, best)), len(clean) - 1)
    regret = (float(clean.max()) - float(clean[idx])) / span
    return {"stop": stop, "best": best, "regret": regret}


def score(cases: list[Case], results: list[dict]) -> dict:
    over = [(c, r) for c, r in zip(cases, results) if c.onset is not None]
    clean = [(c, r) for c, r in zip(cases, results) if c.onset is None]
    detected = [(c, r) for c, r in over if r["stop"] is not None and r["stop"] >= c.onset]
    early = [(c, r) for c, r in over if r["stop"] is not None and r["stop"] < c.onset]
    false = [(c, r) for c, r in clean if r["stop"] is not None]
    delays = [(r["stop"] - c.onset) / (c.curve_steps[-1] - c.curve_steps[0]) for c, r in detected]
    return {
        "n": f"{len(over)}+{len(clean)}",
        "detection": len(detected) / max(len(over), 1),
        "early": len(early) / max(len(over), 1),
        "false": len(false) / max(len(clean), 1) if clean else float("nan"),
        "delay": float(np.median(delays)) if delays else float("nan"),
        "regret": 100 * float(np.mean([r["regret"] for _, r in over])) if over else float("nan"),
    }


def table(title: str, cases: list[Case], methods=METHODS) -> None:
    print(f"\n{title}")
    header = (f"{'method':<24} {'runs(o+c)':>9} {'detection':>9} {'early':>6} {'false':>6} "
              f"{'delay':>6} {'regret%':>8}")
    print(header)
    print("-" * len(header))
    for name, make in methods.items():
        s = score(cases, [evaluate(make, c) for c in cases])
        print(f"{name:<24} {s['n']:>9} {s['detection']:>9.2f} {s['early']:>6.2f} "
              f"{s['false']:>6.2f} {s['delay']:>6.3f} {s['regret']:>8.1f}")
    print(f"{'target':<24} {'':>9} {TARGETS['detection']:>9} {TARGETS['early']:>6} "
          f"{TARGETS['false']:>6} {TARGETS['delay']:>6}")


def case_of(s, onset) -> Case:
    """A generated run as the records a live monitor sees (all metrics, step order)."""
    wide = s.run.wide()
    names = list(wide.columns)
    records = [(int(step), {n: float(v) for n, v in zip(names, row) if not math.isnan(v)})
               for step, row in zip(wide.index.to_numpy(), wide.to_numpy(dtype=float))]
    t = s.truth
    return Case(f"{t.get('family')}:{t['kind']}/{s.run.name}", t["kind"], records, s.metric,
                s.direction, np.asarray(t["curve_steps"]), np.asarray(t["curve"]), onset,
                t["noise_sd"], s.run)


def traced(detector_class, case: Case) -> list[tuple[int, float, int | None]]:
    """(step, statistic, best step) after each evaluation, with no threshold (for calibration)."""
    detector = detector_class(case.metric, case.direction, math.inf)
    out = []
    for step, metrics in case.records:
        n = len(detector.trace)
        detector.update(step, metrics)
        if len(detector.trace) > n:
            out.append((step, detector.trace[-1][1], detector.best_step))
    return out


def from_trace(case: Case, trace, threshold: float) -> dict:
    stop = stop_at([(st, x) for st, x, _ in trace], threshold)
    best = next((b for st, _, b in trace if st == stop), None) if stop is not None else (
        trace[-1][2] if trace else None)
    clean = case.curve if case.direction == "max" else -case.curve
    span = float(clean.max() - clean.min()) or 1.0
    idx = len(clean) - 1 if best is None else min(int(np.searchsorted(case.curve_steps, best)),
                                                   len(clean) - 1)
    return {"stop": stop, "best": best, "regret": (float(clean.max()) - float(clean[idx])) / span}


def regime_table(family: str, regime: str, n_runs: int, first_seed: int = 0) -> None:
    """Every method on the same runs (seeds first_seed ..); FOCuS / CUSUM thresholds from other
    seeds' controls."""
    test = [case_of(s, onset) for s, onset in regime_runs(family, regime,
                                                          range(first_seed, first_seed + n_runs))]
    calib = [case_of(s, onset) for s, onset in regime_runs(family, regime,
                                                            range(10_000, 10_000 + n_runs))
             if onset is None]
    n_over = sum(c.onset is not None for c in test)
    print(f"\n{family} family, {regime} runs ({n_over} with overfit + {len(test) - n_over} "
          f"without; thresholds calibrated on {len(calib)} other runs without overfit)")
    header = (f"{'method':<24} {'runs(o+c)':>9} {'detection':>9} {'early':>6} {'false':>6} "
              f"{'delay':>6} {'regret%':>8}")
    print(header)
    print("-" * len(header))
    rows, outcomes = {}, {}
    for name, make in METHODS.items():
        outcomes[name] = [evaluate(make, c) for c in test]
    for name, cls in (("FOCuS after best", Focus), ("CUSUM after best", Cusum)):
        threshold = calibrate([[(st, x) for st, x, _ in traced(cls, c)] for c in calib])
        outcomes[f"{name} (>= {threshold:.3g})"] = [
            from_trace(c, traced(cls, c), threshold) for c in test]
    for name, results in outcomes.items():
        rows[name] = s = score(test, results)
        print(f"{name:<24} {s['n']:>9} {s['detection']:>9.2f} {s['early']:>6.2f} "
              f"{s['false']:>6.2f} {s['delay']:>6.3f} {s['regret']:>8.1f}")
    print(f"{'target':<24} {'':>9} {TARGETS['detection']:>9} {TARGETS['early']:>6} "
          f"{TARGETS['false']:>6} {TARGETS['delay']:>6}")
    by_kind(test, outcomes)


def by_kind(cases: list[Case], outcomes: dict[str, list[dict]]) -> None:
    """Detection / median delay per kind with overfit, and false stops per kind without, for
    each method: where each one wins and loses (an after-best detector armed by a rise cannot
    stop a decline from the start, for instance)."""
    kinds = list(dict.fromkeys(c.kind for c in cases))
    print("  per kind: detection/delay (kinds with overfit), false (kinds without)")
    print(f"  {'method':<22} " + " ".join(f"{k[:16]:>16}" for k in kinds))
    for name, results in outcomes.items():
        cells = []
        for kind in kinds:
            pairs = [(c, r) for c, r in zip(cases, results) if c.kind == kind]
            sc = score([c for c, _ in pairs], [r for _, r in pairs])
            cells.append(f"{sc['false']:.2f}" if pairs[0][0].onset is None
                         else f"{sc['detection']:.2f}/{sc['delay']:.2f}")
        print(f"  {name[:22]:<22} " + " ".join(f"{x:>16}" for x in cells))


def offline_agreement(cases: list[Case]) -> None:
    """Do the live alerts agree with `analyze_run` on the same (finished) runs?"""
    try:
        from phasewatch.analysis import analyze_run
    except ImportError:
        return
    same_verdict = same_order = 0
    gaps = []
    for case in cases:
        offline = analyze_run(case.run, case.metric, case.direction)
        off = [p.name for p in offline.phases if p.name != "plateau"]
        monitor = PhaseMonitor(metric=case.metric, direction=case.direction, stop_on=())
        alerts = [a for step, m in case.records for a in monitor.update(step, m)]
        on = [a.event for a in alerts if a.event != "plateau"]
        same_verdict += ("overfit" in on) == ("overfit" in off)
        same_order += on == [p for p in off if p in on]
        if "overfit" in on and "overfit" in off:
            online_onset = next(a.onset_step for a in alerts if a.event == "overfit")
            offline_onset = next(p.start_step for p in offline.phases if p.name == "overfit")
            gaps.append(abs(online_onset - offline_onset) / case.curve_steps[-1])
    n = len(cases)
    print(f"\nAgreement with the offline detector (analyze_run) on {n} synth runs: same overfit "
          f"verdict {same_verdict / n:.2f}, online phases in the offline order {same_order / n:.2f}, "
          f"median |online - offline overfit onset| {np.median(gaps) if gaps else float('nan'):.3f} "
          "of the run")


def reference_runs(study: Path | None) -> list[Path]:
    """The arms' runs of a `trainer_study.py --out DIR` (several seeds), else sample_logs/
    (seed 0 of each arm, the same runs as a study's seed0)."""
    if study is not None:
        return sorted(p for p in study.glob("*/seed*") if (p / "metrics.jsonl").is_file()
                      and not p.parent.name.startswith("control"))
    return sorted(p for p in (ROOT / "sample_logs").glob("*") if (p / "metrics.jsonl").is_file()
                  and p.name != "demo")  # demo is a copy of sft for `make demo`


def dense_thresholds(calib_runs: int) -> dict[str, float]:
    """FOCuS and CUSUM thresholds for runs with no calibration set of their own (the reference
    trainer's): false <= 0.05 on the dense runs without overfit of both families, seeds 10,000+."""
    controls = [case_of(s, onset) for family in ("synth", "logistic")
                for s, onset in regime_runs(family, "dense", range(10_000, 10_000 + calib_runs))
                if onset is None]
    return {name: calibrate([[(st, x) for st, x, _ in traced(cls, c)] for c in controls])
            for name, cls in (("FOCuS", Focus), ("CUSUM", Cusum))}


def with_dense_baselines(calib_runs: int) -> dict:
    """`METHODS` plus FOCuS and CUSUM at the dense runs' thresholds (`dense_thresholds`)."""
    thresholds = dense_thresholds(calib_runs)
    return {**METHODS,
            f"FOCuS (>= {thresholds['FOCuS']:.3g})":
                lambda c: Focus(c.metric, c.direction, thresholds["FOCuS"]),
            f"CUSUM (>= {thresholds['CUSUM']:.3g})":
                lambda c: Cusum(c.metric, c.direction, thresholds["CUSUM"])}


def reference_table(paths: list[Path], calib_runs: int = 20) -> None:
    """The reference trainer's runs: truth is the offline detector's overfit phase (no run comes
    with a known answer). Per run: stop step (recommended checkpoint, regret in accuracy points
    on a 5-evaluation moving average of the observed metric); then the same scores as above.
    FOCuS and CUSUM use the thresholds of the dense synthetic runs (`dense_thresholds`)."""
    if not paths:
        print("\nno reference-trainer runs found: table skipped")
        return
    from phasewatch.analysis import analyze_run
    from phasewatch.io import read_run

    methods = with_dense_baselines(calib_runs)
    print(f"\nReference trainer runs ({len(paths)}): stop step (recommended checkpoint, regret in "
          "accuracy points); truth = offline overfit onset")
    header = f"{'run':<22} {'truth':>6} " + " ".join(f"{name:>22}" for name in methods)
    print(header)
    print("-" * len(header))
    cases, results = [], {name: [] for name in methods}
    for path in paths:
        run = read_run(path)
        metric, direction = run.performance_metric or "eval/accuracy", run.direction or "max"
        offline = analyze_run(run, metric, direction)
        onset = next((p.start_step for p in offline.phases if p.name == "overfit"), None)
        series = run.series(metric)
        smooth = series.rolling(5, center=True, min_periods=1).mean()
        sign = 1.0 if direction == "max" else -1.0
        wide = run.wide()
        names = list(wide.columns)
        records = [(int(st), {n: float(v) for n, v in zip(names, row) if not math.isnan(v)})
                   for st, row in zip(wide.index.to_numpy(), wide.to_numpy(dtype=float))]
        events = [(e.step, e.name) for e in run.events if e.name != "resume"]
        steps = series.index.to_numpy()
        case = Case(path.name, "reference", records, metric, direction, steps,
                    smooth.to_numpy(), onset, planned=planned_steps(run.config),
                    events=tuple(events))
        cases.append(case)
        cells = []
        for name, make in methods.items():
            method = make(case)
            stop = None
            for step, values in records:
                method.update(step, values)
                if method.should_stop:
                    stop = step
                    break
            best = method.best_step if method.best_step is not None else int(steps[-1])
            at = smooth.index[np.searchsorted(smooth.index, best).clip(0, len(smooth) - 1)]
            regret = 100 * (sign * smooth).max() - 100 * sign * smooth.loc[at]
            results[name].append({"stop": stop, "best": best, "regret": regret / 100})
            cells.append(f"{'-' if stop is None else stop} ({best}, {regret:.1f})")
        label = path.name if path.parent.name == "sample_logs" else f"{path.parent.name}/{path.name}"
        print(f"{label:<22} {'-' if onset is None else onset:>6} "
              + " ".join(f"{c:>22}" for c in cells))
    print(f"\n{'method':<24} {'runs(o+c)':>9} {'detection':>9} {'early':>6} {'false':>6} "
          f"{'delay':>6} {'regret':>8}")
    for name in methods:
        sc = score(cases, results[name])
        print(f"{name:<24} {sc['n']:>9} {sc['detection']:>9.2f} {sc['early']:>6.2f} "
              f"{sc['false']:>6.2f} {sc['delay']:>6.3f} {sc['regret']:>8.1f}")
    print("(regret here: mean accuracy points below the smoothed best, on runs with overfit)")
    bounds = [oracle_delay(c) for c in cases if c.onset is not None]
    if bounds:
        print("oracle bound on the delay (knows the onset and the level before it, white noise, "
              "no confirmation): median " + ", ".join(
                  f"{np.nanmedian([b[z] for b in bounds]):.3f} at z = {z:g}" for z in (4.0, 3.0))
              + f"; never significant on {sum(math.isnan(b[4.0]) for b in bounds)} of {len(bounds)}")


def oracle_delay(case: Case, reference: int = 45) -> dict[float, float]:
    """How soon a z-test could call a run's decline if it knew the true onset c and the level
    before it (the mean of `reference` evaluations), with white noise (no autocorrelation
    inflation) and no search over c: the first evaluation at which the ramp matched filter, or a
    step test, reaches z. An optimistic bound for any live method at that z."""
    sign = 1.0 if case.direction == "max" else -1.0
    pairs = [(s, sign * r[case.metric]) for s, r in case.records if case.metric in r]
    steps = np.array([s for s, _ in pairs])
    y = np.array([v for _, v in pairs])
    c = int(np.searchsorted(steps, case.onset))
    count = min(reference, c)
    level = y[c - count:c].mean()
    sigma = noise_scale(y)
    fall = level - y[c:]
    length = np.arange(1, fall.size + 1, dtype=np.float64)
    ramp = np.cumsum(length * fall) / (
        sigma * np.sqrt(length * (length + 1) * (2 * length + 1) / 6
                        + (length * (length + 1) / 2) ** 2 / count))
    step = np.cumsum(fall) / length / (sigma * np.sqrt(1 / length + 1 / count))
    best = np.maximum(ramp, step)
    span = steps[-1] - steps[0]
    out = {}
    for z in (4.0, 3.0):
        hit = np.flatnonzero(best >= z)
        out[z] = (steps[c + hit[0]] - case.onset) / span if hit.size else float("nan")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="seeds per kind")
    parser.add_argument("--study", type=Path, default=None,
                        help="score the runs of `trainer_study.py --out DIR` (more seeds) "
                        "instead of sample_logs/")
    parser.add_argument("--only-regimes", action="store_true",
                        help="only the two families' dense and sparse tables")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the regime tables' seeds are first-seed .. first-seed + runs - 1 "
                        "(0: the report seeds; tune on 10000+)")
    parser.add_argument("--families", default="synth,logistic")
    parser.add_argument("--regimes", default="dense,medium")
    parser.add_argument("--only-reference", action="store_true",
                        help="only the reference trainer's runs")
    parser.add_argument("--only-upsets", action="store_true",
                        help="only the plateau-with-one-upset runs")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    if args.only_upsets:
        upset_table(args.runs, calib_runs=min(args.runs, 20))
        print(f"\n({time.perf_counter() - t0:.1f} s)")
        return 0
    if args.only_reference:
        reference_table(reference_runs(args.study), calib_runs=min(args.runs, 20))
        print(f"\n({time.perf_counter() - t0:.1f} s)")
        return 0
    for regime in filter(None, args.regimes.split(",")):  # --regimes "": none
        for family in args.families.split(","):
            regime_table(family, regime, args.runs, args.first_seed)
    if args.only_regimes:
        print(f"\n({time.perf_counter() - t0:.1f} s)")
        return 0
    cases = synth_cases(args.runs)
    if cases is not None:
        table("phasewatch.synth runs, all logged metrics (phasewatch also reads expert NLL)",
              cases, {**METHODS, "oracle: 2 sd below peak": Oracle})
        table("phasewatch.synth runs, the performance metric only",
              [c.performance_only() for c in cases])
        offline_agreement(cases[:: max(1, len(cases) // 90)])
    table("benchmark's own generator (accuracy only, decline starts smoothly)",
          own_cases(args.runs))
    upset_table(args.runs, calib_runs=min(args.runs, 20))
    for phi in (0.6, 0.8):
        table(f"long flat runs, AR(1) noise phi = {phi} (false alarms only)", ar_flat_cases(args.runs, phi))
    reference_table(reference_runs(args.study), calib_runs=min(args.runs, 20))
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
