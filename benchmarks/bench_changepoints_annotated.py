"""`changepoints` defaults vs ruptures with a textbook BIC penalty vs "no change points",
on real training series annotated by eye (benchmarks/annotations/, see its README).

Metrics as in the Turing change-point benchmark (van den Burg & Williams, 2020):
- F1 with a margin of 5 points: precision of the predictions against the union of the
  annotators' change points, recall averaged over annotators; index 0 counts as a change point
  in every set (so a series with no change and no prediction scores 1);
- segment covering: how well the predicted segments cover each annotator's segments
  (weighted Jaccard overlap), averaged over annotators.

The series are read from ../shared/real_logs and the project's sample_logs at run time (never
copied into the project); a series whose file is absent is skipped and counted.

Usage: python benchmarks/bench_changepoints_annotated.py [--details]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import itertools

from phasewatch.changepoint import Segmenter
from phasewatch.errors import PhasewatchError
from phasewatch.io import read_run

ANNOTATIONS = ROOT / "benchmarks" / "annotations" / "changepoints.json"
ROOTS = {"real_logs": ROOT.parent / "shared" / "real_logs", "sample_logs": ROOT / "sample_logs"}
MARGIN = 5


# ----------------------------------------------------------------------- metrics (TCPDbench)
def true_positives(truth: set[int], predictions: set[int], margin: int = MARGIN) -> set[int]:
    """Annotated points matched by a distinct prediction within `margin` (closest first)."""
    left = set(predictions)
    hits = set()
    for tau in sorted(truth):
        close = sorted((abs(tau - x), x) for x in left if abs(tau - x) <= margin)
        if close:
            hits.add(tau)
            left.remove(close[0][1])
    return hits


def f_measure(annotations: dict[str, list[int]], predictions: list[int],
              margin: int = MARGIN) -> tuple[float, float, float]:
    per_annotator = {k: set(v) | {0} for k, v in annotations.items()}
    union = set().union(*per_annotator.values())
    predicted = set(predictions) | {0}
    precision = len(true_positives(union, predicted, margin)) / len(predicted)
    recall = float(np.mean([len(true_positives(t, predicted, margin)) / len(t)
                            for t in per_annotator.values()]))
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return f1, precision, recall


def _segments(cps: list[int], n: int) -> list[tuple[int, int]]:
    bounds = [0, *sorted({c for c in cps if 0 < c < n}), n]
    return list(itertools.pairwise(bounds))


def covering(annotations: dict[str, list[int]], predictions: list[int], n: int) -> float:
    predicted = _segments(predictions, n)

    def jaccard(a, b):
        inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
        return inter / (max(a[1], b[1]) - min(a[0], b[0]))

    scores = []
    for cps in annotations.values():
        truth = _segments(cps, n)
        scores.append(sum((b - a) * max(jaccard((a, b), p) for p in predicted)
                          for a, b in truth) / n)
    return float(np.mean(scores))


# ----------------------------------------------------------------------- methods
def phasewatch_default(steps, y):
    seg = Segmenter().fit(steps, y)
    return [int(np.searchsorted(steps, c.step)) for c in seg.changepoints]


def phasewatch_model(model):
    def detect(steps, y):
        seg = Segmenter(model=model).fit(steps, y)
        return [int(np.searchsorted(steps, c.step)) for c in seg.changepoints]
    return detect


def ruptures_bic_l2(steps, y):
    """ruptures Pelt, l2 cost, textbook BIC: pen = 2 * sigma^2 * log(n), sigma^2 = var(y)."""
    import ruptures as rpt

    n = y.size
    var = float(np.var(y))
    if var == 0:
        return []
    algo = rpt.Pelt(model="l2", min_size=2, jump=1).fit(y)
    return [b for b in algo.predict(pen=2 * var * math.log(n)) if b < n]


def no_changepoints(steps, y):
    return []


METHODS = {
    "phasewatch changepoints (defaults)": phasewatch_default,
    "phasewatch --model linear": phasewatch_model("linear"),
    "phasewatch --model mean": phasewatch_model("mean"),
    "ruptures Pelt l2 + BIC": ruptures_bic_l2,
    "no change points": no_changepoints,
}


# ----------------------------------------------------------------------- synthetic check
def synthetic_change(kind: str, seed: int, n: int = 300) -> np.ndarray:
    """White noise (sd 1) with one change at n/2 of `kind`, or none ("none")."""
    rng = np.random.default_rng([seed, 17])
    y = rng.standard_normal(n)
    half = n // 2
    if kind == "mean shift (2 sd)":
        y[half:] += 2.0
    elif kind == "slope change (0 -> 4 sd over the rest)":
        y[half:] += np.linspace(0, 4.0, n - half)
    elif kind == "variance x3 (sd 1 -> 3)":
        y[half:] *= 3.0
    return y


def synthetic_table(seeds: int = 30) -> None:
    """Which changes each method finds: detection within 10 points of n/2 (a slope change has
    no sharp location), and the other change points reported (spurious)."""
    kinds = ["none", "mean shift (2 sd)", "slope change (0 -> 4 sd over the rest)",
             "variance x3 (sd 1 -> 3)"]
    methods = {k: v for k, v in METHODS.items() if k != "no change points"}
    print("\n## Synthetic single changes (300 points, white noise, "
          f"{seeds} seeds): detected within 10 points / spurious change points per series\n")
    print("| method | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for name, method in methods.items():
        cells = []
        for kind in kinds:
            hits, spurious = 0, 0
            for seed in range(seeds):
                y = synthetic_change(kind, seed)
                found = method(np.arange(y.size), y)
                near = [c for c in found if abs(c - y.size // 2) <= 10]
                hits += bool(near) and kind != "none"
                spurious += len(found) - (1 if near and kind != "none" else 0)
            rate = "-" if kind == "none" else f"{hits / seeds:.2f}"
            cells.append(f"{rate} / {spurious / seeds:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


# ----------------------------------------------------------------------- driver
def load_series(entry, cache) -> tuple[np.ndarray, np.ndarray] | None:
    path = ROOTS[entry["root"]] / entry["path"]
    if not path.exists():
        return None
    key = str(path)
    if key not in cache:
        try:
            cache[key] = read_run(path)
        except PhasewatchError as exc:
            print(f"skipping {entry['id']}: {exc}", file=sys.stderr)
            cache[key] = None
    run = cache[key]
    if run is None:
        return None
    s = run.series(entry["metric"])
    return s.index.to_numpy(np.int64), s.to_numpy(np.float64)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--details", action="store_true", help="per-series predictions")
    parser.add_argument("--seeds", type=int, default=30, help="seeds of the synthetic check")
    args = parser.parse_args(argv)
    spec = json.loads(ANNOTATIONS.read_text())
    cache: dict = {}
    rows = {name: {"f1": [], "cover": [], "seconds": 0.0} for name in METHODS}
    used, skipped, changed = [], [], []
    for entry in spec["series"]:
        loaded = load_series(entry, cache)
        if loaded is None:
            skipped.append(entry["id"])
            continue
        steps, y = loaded
        if len(y) != entry["n"]:
            # e.g. sample_logs regenerated by a new trainer version: the marks no longer apply
            changed.append(f"{entry['id']} ({len(y)} points, annotated {entry['n']})")
            continue
        used.append(entry["id"])
        for name, method in METHODS.items():
            t0 = time.perf_counter()
            predicted = method(steps, y)
            rows[name]["seconds"] += time.perf_counter() - t0
            f1, p, r = f_measure(entry["annotations"], predicted)
            rows[name]["f1"].append(f1)
            rows[name]["cover"].append(covering(entry["annotations"], predicted, len(y)))
            if args.details:
                print(f"{entry['id']:<24} {name:<36} F1 {f1:.2f} (P {p:.2f} R {r:.2f}) "
                      f"pred {predicted}  truth {entry['annotations']}")
    print(f"\n## Annotated change points: {len(used)} series "
          f"({len(skipped)} skipped as absent: {', '.join(skipped) or 'none'})")
    if changed:
        print(f"not scored, the series changed since it was annotated (re-annotate): "
              f"{', '.join(changed)}")
    print(f"margin {MARGIN} points; annotators: {', '.join(spec['annotators'])}\n")
    print("| method | mean F1 | mean covering | time (s) |")
    print("|---|---|---|---|")
    for name, row in rows.items():
        if row["f1"]:
            print(f"| {name} | {np.mean(row['f1']):.3f} | {np.mean(row['cover']):.3f} | "
                  f"{row['seconds']:.2f} |")
    synthetic_table(args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
