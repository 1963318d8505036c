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
followed by the same scores per kind (`--regimes sparse`: 3-12 evaluations; `--families
powerlaw`: the held-out family `phasewatch.synth_powerlaw`, written without reading the
monitor's rules). Later: plateau runs with one upset that recovers (false
stops only) and the reference runs, where FOCuS and CUSUM take the dense runs' thresholds.
Run: .venv/bin/python benchmarks/bench_early_stop.py [--runs N] [--first-seed S] [--only-regimes]
     [--only-upsets] [--only-reference]
The runs are made in `early_stop_cases.py`, the methods in `early_stop_methods.py`, their
scores in `early_stop_scoring.py`; this script prints the tables.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from early_stop_baselines import Cusum, Focus, calibrate, regime_runs
from early_stop_cases import Case, ar_flat_cases, case_of, own_cases, synth_cases, upset_cases
from early_stop_methods import METHODS, Oracle, with_dense_baselines
from early_stop_scoring import evaluate, from_trace, oracle_delay, score, traced

from phasewatch.online import PhaseMonitor
from phasewatch.planned import planned_steps

TARGETS = {"detection": ">= 0.95", "early": "<= 0.05", "false": "<= 0.05", "delay": "<= 0.20"}


def upset_table(n_runs: int, calib_runs: int) -> None:
    """False stops on `upset_cases`, FOCuS and CUSUM at the dense runs' thresholds."""
    methods = with_dense_baselines(calib_runs)
    table("a plateau with one upset that recovers (3-10 evaluations, 4-10 sd; false alarms only)",
          upset_cases(n_runs), methods)


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
    parser.add_argument("--families", default="synth,logistic",
                        help="comma-separated: synth, logistic (the tuning families), powerlaw "
                        "(held out: written without reading the monitor's rules)")
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
