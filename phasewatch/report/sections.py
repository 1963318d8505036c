"""The report's figures: small multiples, seed groups, phase features vs hyperparameters, and
each run's drill-down. Each function takes the sweep results (`{"row", "detail"}` per run, as
the sweep tasks return them) and returns HTML text with inline SVG."""

from __future__ import annotations

import html
import itertools
import math
from collections import defaultdict
from typing import Any

import numpy as np

from phasewatch.plot.seeds import BAND_NOTES, band_label, joined_cuts, metric_bounds
from phasewatch.plot.style import ARM_LABELS, arm_colors, arm_key
from phasewatch.report.svg import Area, Band, Chart, Line, render
from phasewatch.step_units import at, step_text
from phasewatch.sweep.row import HP_PREFIX, config_without_seed, seed_groups_of

FEATURES = {"dip_depth": "dip depth", "readapt_gain": "readaptation gain",
            "overfit_decline": "overfit decline", "peak_step": "peak step",
            "recommended_value": "value at recommended step"}
MAX_HPS = 4
DIM_GREY = "#555555"  # what is beside the run's own curve: the readings left out, the other signals
GRID_POINTS = 120
esc = html.escape


def arm_of(row: dict[str, Any]) -> str:
    return arm_key(row.get("algorithm") or "") or "unknown"


def arm_label(arm: str) -> str:
    return ARM_LABELS.get(arm, arm)


def palette(results) -> dict[str, str]:
    """One colour per arm (the paper figures' colours for the known arms)."""
    return arm_colors(sorted({arm_of(r["row"]) for r in results if not r["row"].get("error")}))


def _ok(results):
    return [(i, r) for i, r in enumerate(results) if not r["row"].get("error") and "detail" in r]


def _bands(detail) -> list[Band]:
    return [Band(p["start_step"], p["end_step"], p["name"]) for p in detail["phases"]]


def _outliers(detail, row) -> list[tuple[float, float, str, str]]:
    """The readings the analysis left out, each a grey dot off the run's line (`plot`'s x)."""
    unit = row.get("step_unit") or "step"
    return [(step, value, DIM_GREY, f"outlier, left out: {at(step, unit)}: {value:.4g}")
            for step, value in detail.get("outliers", [])]


def _analysed(detail, row) -> list:
    """The run's metric as analysed: its curve less the readings left out as outliers, which
    drawn into the line stood as a spike over a stop elsewhere, with nothing to say so."""
    left_out = {step for step, _ in detail.get("outliers", [])}
    return [p for p in detail["curves"][row["metric"]] if p[0] not in left_out]


def run_title(row) -> str:
    name = row.get("name") or row["path"].rstrip("/").rsplit("/", 1)[-1]
    return name + (f" (seed {row['seed']})" if row.get("seed") is not None else "")


def small_multiples(results) -> str:
    """One card per run: its performance metric with its phase bands and recommended step."""
    colors = palette(results)
    cards = []
    for i, r in enumerate(results):
        row = r["row"]
        if row.get("error"):
            body = (f'<p class="ct">{esc(run_title(row))}</p>'
                    f'<p class="err">{esc(row["error"])}</p>')
        else:
            d = r["detail"]
            title = run_title(row) + (f" ({row['confidence']} confidence)"
                                       if row.get("confidence") else "")
            chart = Chart(width=230, height=130, title=title, ylabel=row["metric"],
                          bands=_bands(d),
                          lines=[Line(_analysed(d, row), colors[arm_of(row)],
                                      label=row["metric"])], points=_outliers(d, row))
            if row.get("recommended_step") is not None:
                unit = row.get("step_unit") or "step"  # an HF console log: "epoch 1.35"
                chart.vlines.append((row["recommended_step"], "#000000",
                                     f"recommended {at(row['recommended_step'], unit)}"))
            body = render(chart)
        cards.append(f'<a class="card" data-run="{i}" href="#run-{i}" '
                     f'title="{esc(row["path"])}">{body}</a>')
    return f'<div class="grid" id="multiples">{"".join(cards)}</div>'


def _hp_columns(rows) -> list[str]:
    """Numeric hyperparameters swept within an arm (`_swept`; seeds excluded), expert-set size
    and learning rate first: the ones sweeps are usually about."""
    cols = []
    swept = _swept([(arm_of(r), r.get("metric")) for r in rows],
                   [{k: v for k, v in r.items() if k.startswith(HP_PREFIX)} for r in rows])
    for key in sorted(swept):
        if key.rsplit(".", 1)[-1] in ("seed", "threads"):
            continue
        values = [r.get(key) for r in rows]
        nums = {v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if len(nums) >= 2 and all(v is None or v in nums for v in values):
            cols.append(key)
    first = ("expert", "lr", "learning_rate", "mu")
    return sorted(cols, key=lambda k: (not any(f in k for f in first), k))


def _swept(arms: list[tuple], hps: list[dict[str, Any]]) -> set[str]:
    """The keys of the runs' (or groups') hyperparameters `hps` that take two or more values
    among the runs of one arm and metric (`arms`, one per run). A setting that differs only
    between arms is the arm's identity, not a sweep: trial 40e's five arms all record switch_step (750 for sft_then_rl, 800 unused
    elsewhere), mu_decay_steps and rl_lr, and the report drew "dip depth vs switch_step" as if
    it had been varied, and titled a seed group "SFT · algorithm=sft, lr=0.001,
    mu_decay_steps=800,..."."""
    values: dict[tuple, set[str]] = defaultdict(set)
    for arm, hp in zip(arms, hps):
        for k, v in hp.items():
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                values[(arm, k)].add(str(v))
    return {k for (_, k), v in values.items() if len(v) > 1}


def group_band(by_x: dict[float, list[float]]):
    """(xs, lower, upper): the 95% t interval of the mean of the runs at each value (an arm's
    seeds, typically), at the values with at least two runs; None unless two values have one."""
    from phasewatch.plot.seeds import band_limits

    xs, lower, upper = [], [], []
    for x, ys in sorted(by_x.items()):
        if len(ys) < 2:
            continue
        _, low, high = band_limits(np.asarray(ys, dtype=float)[:, None])
        xs.append(x)
        lower.append(float(low[0]))
        upper.append(float(high[0]))
    return (xs, lower, upper) if len(xs) >= 2 else None


def features_vs_hps(results) -> str:
    """Scatter of each phase feature against each swept hyperparameter, coloured by arm, with
    the mean per (arm, value) joined and, where an arm has several runs (seeds) at a value, the
    95% confidence band of that mean."""
    ok = [r["row"] for _, r in _ok(results)] or [r["row"] for r in results if not r["row"].get("error")]
    hps = _hp_columns(ok)[:MAX_HPS]
    if not hps:
        return ('<p class="note">No numeric hyperparameter differs between runs of one arm '
                '(a setting that differs only between arms is the arm itself).</p>')
    colors = palette(results)
    # a feature is in its metric's units: runs analysed on different metrics (a loss, a reward)
    # get charts of their own, never one axis and one mean
    by_metric: dict[str, list[dict]] = defaultdict(list)
    for r in ok:
        by_metric[str(r.get("metric"))].append(r)
    groups = sorted(by_metric.items(), key=lambda item: (-len(item[1]), item[0]))
    charts = []
    for hp in hps:
        xs = [r[hp] for r in ok if isinstance(r.get(hp), (int, float))]
        for (metric, rows), (feature, label) in itertools.product(groups, FEATURES.items()):
            title = f"{label} vs {hp[len(HP_PREFIX):]}" + (f" ({metric})" if len(groups) > 1 else "")
            chart = Chart(width=230, height=150, title=title, xlabel=hp[len(HP_PREFIX):])
            chart.xlog = bool(xs) and min(xs) > 0 and max(xs) / min(xs) >= 100
            chart.xlim = (min(xs), max(xs)) if xs else None  # all runs: the panels line up
            means: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
            for r in rows:
                x, y = r.get(hp), r.get(feature)
                if not isinstance(x, (int, float)) or y is None or not math.isfinite(float(y)):
                    continue
                arm = arm_of(r)
                chart.points.append((float(x), float(y), colors[arm],
                                     f"{run_title(r)}: {hp[len(HP_PREFIX):]}={x:g}, {label}={y:.4g}"))
                means[arm][float(x)].append(float(y))
            if not chart.points:  # no run of this metric has both: an empty "no data" panel
                continue
            for arm, by_x in means.items():
                band = group_band(by_x)
                if band is not None:  # cut at the plot's edge: 3 seeds give mean +-2.5 sd
                    chart.areas.append(Area(*band, color=colors[arm], opacity=0.15,
                                            in_range=False))
                if len(by_x) > 1:
                    chart.lines.append(Line([[x, float(np.mean(v))] for x, v in sorted(by_x.items())],
                                            colors[arm], 1.0, 0.7, f"{arm_label(arm)} mean"))
            charts.append(render(chart))
    if not charts:
        return ('<p class="note">No run has both a phase feature and a hyperparameter that '
                'differs between the runs.</p>')
    legend = "".join(f'<span><i style="background:{c}"></i>{esc(arm_label(a))}</span>'
                     for a, c in colors.items())
    note = ('<p class="note">Each run (dot), the mean of an arm\'s runs at each value (line) and, '
            "where an arm has several runs at a value (its seeds), the 95% confidence band of "
            "that mean (t interval), cut at the chart's edge.</p>")
    return (f'{note}<div class="legend">{legend}</div>'
            f'<div class="grid">{"".join(charts)}</div>')


def seed_band(curves: list[np.ndarray], points: int = GRID_POINTS, breaks=(), band="ci95",
              metric: str = ""):
    """(grid, mean, low, high, cut, smoothing): the mean of the seeds' smoothed curves and its
    band (`plot.seeds.band_limits`, the paper figures' band: by default the 95% t interval of
    the mean; cut at the bounds `metric` is known to have, `cut` saying where), on `points`
    steps (and the `breaks`) spanning the range every seed covers; None when the seeds share no
    range. `curves`: (step, value) arrays.

    Each seed is smoothed as the paper figures smooth it (`phasewatch.plot.seeds`: a centred
    Gaussian, sd 1/60 of the range, cut at `breaks`), so the band is about the curves' course,
    not about each evaluation's noise; returns the smoothing too, for the legend."""
    from phasewatch.plot.seeds import band_limits, clip_band
    from phasewatch.plot.smoothing import Smoothing

    lo, hi = max(c[0, 0] for c in curves), min(c[-1, 0] for c in curves)
    if hi <= lo:
        return None
    smoothing = Smoothing().resolved(lo, hi)
    cuts = sorted(b for b in breaks if lo < b < hi)
    # the steps either side of a cut are on the grid, so a trough cut there is drawn as deep
    grid = np.union1d(np.linspace(lo, hi, points), [s for b in cuts for s in (b - 0.5, b + 0.5)])
    ys = np.vstack([np.interp(grid, c[:, 0], smoothing.apply(c[:, 1], c[:, 0], cuts))
                    for c in curves])
    mean, low, high = band_limits(ys, band)
    low, high, cut = clip_band(low, high, metric_bounds(metric, [c[:, 1] for c in curves]))
    return grid, mean, low, high, cut, smoothing


def _group_breaks(members) -> list[float]:
    """Where the seeds' smoothing is cut (`plot.smoothing.smoothing_breaks`): at known events
    and at the group's trough, the median of the members' troughs when most have one (the
    paper figures cut at the trough of the seeds' mean, one cut for all seeds: cuts at different
    steps would leave the mean a zigzag)."""
    from types import SimpleNamespace

    from phasewatch.plot.smoothing import event_breaks

    cuts = set()
    for m in members:
        events = [SimpleNamespace(step=e["step"], name=e["name"])
                  for e in m["detail"].get("events", [])]
        cuts.update(event_breaks(events))
    troughs = [m["row"]["dip_trough_step"] for m in members
               if m["row"].get("dip_trough_step") is not None]
    if 2 * len(troughs) > len(members):
        cuts.add(float(np.median(troughs)) + 0.5)
    return sorted(cuts)


def seed_groups(results, band: str = "ci95") -> str:
    """Runs that differ only in their seed: the mean curve and its `band` (`seed_band`)."""
    rows = [r for _, r in _ok(results)]
    keys = [(arm_of(r["row"]), r["row"]["metric"],
             config_without_seed({k: v for k, v in r["row"].items() if k.startswith(HP_PREFIX)}))
            for r in rows]
    groups = {keys[m[0]]: [rows[i] for i in m]
              for m in seed_groups_of(keys, [r["row"].get("seed") for r in rows])}
    if not groups:
        return ('<p class="note">No seed groups: no two runs share a configuration '
                'apart from their seed.</p>')
    varying = _varying(list(groups))
    colors = palette(results)
    charts = []
    cuts: set[str] = set()
    for (arm, metric, hp), members in sorted(groups.items(), key=_group_order):
        members = [m for m in members if len(m["detail"]["curves"][metric]) >= 2]
        curves = [np.asarray(m["detail"]["curves"][metric], dtype=float) for m in members]
        if len(curves) < 2:
            continue
        drawn = seed_band(curves, breaks=_group_breaks(members), band=band, metric=metric)
        if drawn is None:
            continue
        grid, mean, low, high, cut, smoothing = drawn
        n = len(curves)
        color = colors[arm]
        detail = ", ".join(f"{k[len(HP_PREFIX):]}={v}" for k, v in hp if k in varying)
        chart = Chart(width=300, height=160, ylabel=metric,
                      title=f"{arm_label(arm)} · {n} seeds" + (f" · {detail}" if detail else ""))
        chart.lines = [Line(c.tolist(), color, 0.6, 0.35, run_title(m["row"]))
                       for c, m in zip(curves, members)]
        # the band of a metric with known bounds (cut there) is drawn whole, as the paper figure
        # draws it; another (a reward's) is cut at the chart's edge: 2 seeds' t band is +-9 sd
        bounded = metric_bounds(metric, [c[:, 1] for c in curves]) != (None, None)
        chart.areas = [Area(grid.tolist(), low.tolist(), high.tolist(), color,
                            in_range=bounded)]
        if cut:
            cuts.add(cut)
        chart.lines.append(Line(np.column_stack([grid, mean]).tolist(), color, 1.6, 1.0,
                                f"mean of the {n} seeds ({smoothing.describe()})"))
        charts.append(render(chart))
    cut = f" Here the bands are {joined_cuts(cuts)}." if cuts else ""
    return ('<p class="note">Each seed (thin), the mean of the seeds\' smoothed curves (thick; '
            'a centred Gaussian of sd 1/60 of the steps shown, cut at the group\'s trough, as in '
            f'the paper figures) and the band of the paper figures: {esc(band_label(band))} '
            f'({BAND_NOTES[band]}), on the steps all seeds cover. A band is cut at the bounds '
            'of a metric known to have them (a rate in [0, 1], a loss at 0) and drawn whole; '
            f'another is cut at the chart\'s edge.{esc(cut)}</p>'
            f'<div class="grid">{"".join(charts)}</div>')


def _group_order(item) -> tuple:
    """Arm, metric, then the hyperparameters in numeric order (256 before 1024)."""
    (arm, metric, hp), _ = item

    def value(text: str) -> tuple:
        try:
            return (0, float(text), "")
        except ValueError:
            return (1, 0.0, text)

    return (arm, metric, [(k, value(v)) for k, v in hp])


def _varying(keys) -> set[str]:
    """The settings told in a seed group's title: those swept within its arm (`_swept`)."""
    return _swept([(arm, metric) for arm, metric, _ in keys], [dict(hp) for _, _, hp in keys])


def _num(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.4g}" if isinstance(v, float) else esc(str(v))


def drill_down(results) -> str:
    """One collapsible section per run: phases, every signal, the token summary, warnings."""
    colors = palette(results)
    out = []
    for i, r in enumerate(results):
        row = r["row"]
        confidence = f', confidence {row["confidence"]}' if row.get("confidence") else ""
        head = (f'<summary>{esc(run_title(row))} <small>{esc(row.get("phases") or "")}'
                f'{esc(confidence)}</small></summary>')
        if row.get("error"):
            out.append(f'<details class="run" id="run-{i}">{head}<p class="err">'
                       f'{esc(row["error"])}</p></details>')
            continue
        d = r["detail"]
        bands = _bands(d)
        unit = row.get("step_unit") or "step"
        phases = "".join(
            f"<tr><td>{esc(p['name'])}</td><td>{step_text(p['start_step'], unit)}</td>"
            f"<td>{step_text(p['end_step'], unit)}</td>"
            f"<td>{_num(p.get('start_value'))}</td><td>{_num(p.get('end_value'))}</td>"
            f"<td>{_num(p.get('change'))}</td><td>{_num(p.get('change_sd'))}</td></tr>"
            for p in d["phases"])
        # every panel on the run's steps: a signal logged for the first 100 steps only is
        # drawn as that, not stretched over the width
        main_curve = d["curves"][row["metric"]]
        span = (main_curve[0][0], main_curve[-1][0]) if main_curve else None
        signals = []
        for metric, pts in d["curves"].items():
            main = metric == row["metric"]
            color = colors[arm_of(row)] if main else DIM_GREY
            signals.append(render(Chart(width=220, height=110, title=metric, bands=bands,
                                        lines=[Line(_analysed(d, row) if main else pts, color,
                                                    1.0)], xlim=span,
                                        points=_outliers(d, row) if main else [])))
        tokens = [render(Chart(width=220, height=110, title=name, bands=bands,
                               lines=[Line(pts, "#0072B2", 1.0)], xlim=span))
                  for name, pts in d["token_curves"].items() if name != "error"]
        token_table = ""
        if row.get("token_divergence") is not None:
            token_table = (
                "<table class='kv'><tr><th>step-0 divergence (divergent NLL mass, nats/token)"
                f"</th><td>{_num(row['token_divergence'])}</td></tr><tr><th>mean expert NLL"
                f"</th><td>{_num(row['token_mean_nll'])}</td></tr><tr><th>share of expert "
                f"tokens with p &lt; 0.05</th><td>{_num(row['token_divergent_share'])}</td></tr>"
                "</table>")
        warnings = "".join(f"<li>{esc(w)}</li>" for w in d["warnings"])
        out.append(
            f'<details class="run" id="run-{i}">{head}<p class="path">{esc(row["path"])}</p>'
            "<table class='ph'><tr><th>phase</th><th>start</th><th>end</th><th>start value</th>"
            f"<th>end value</th><th>change</th><th>change (sd)</th></tr>{phases}</table>"
            f'<h4>Signals</h4><div class="grid">{"".join(signals)}</div>'
            + (f'<h4>Expert tokens</h4>{token_table}<div class="grid">{"".join(tokens)}</div>'
               if token_table or tokens else "")
            + (f"<h4>Warnings</h4><ul>{warnings}</ul>" if warnings else "")
            + "</details>")
    return "".join(out)
