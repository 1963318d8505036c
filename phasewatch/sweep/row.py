"""One run -> one row of the sweep table: the task every engine runs, once per run.

The numbers are `phasewatch.analyze`'s (the same call, the same options), read off its
`Analysis`; the hyperparameters are what the reader found in the log (`Run.config`: run.json's
config, HF TrainingArguments (TensorBoard texts, trainer_state fields), the W&B config, MLflow
params, the Trackio config). A run that cannot be read or analysed is a row whose `error` says
why: one bad log never ends a sweep.

What a task returns is small (a flat dict of scalars, plus downsampled curves when the report
asks for them), since it is what travels back from a worker process or a Dask worker.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from phasewatch.errors import InputError, PhasewatchError

ID_COLUMNS = ("path", "name", "algorithm", "seed", "format", "metric", "direction")
PHASE_COLUMNS = (
    "start_level", "dip_depth", "dip_trough_step", "dip_low", "dip_high", "time_to_recover",
    "recovered_step", "readapt_gain",
    "peak_step", "overfit_onset_step", "overfit_decline", "recommended_step",
    "recommended_value", "recommended_beats_last", "final_value", "best_value", "noise_sd", "phases",
    "confidence", "n_changepoints", "n_warnings", "step_unit", "stage_switch_step",
)
# the columns that hold a step: in the table, epochs where the run's steps count epoch/10000
# (an HF console log that states no step; `step_unit` then says "epoch")
STEP_COLUMNS = ("dip_trough_step", "dip_low", "dip_high", "time_to_recover", "recovered_step",
                "peak_step", "overfit_onset_step", "recommended_step", "stage_switch_step")
TOKEN_COLUMNS = ("token_divergence", "token_mean_nll", "token_divergent_share")
HP_PREFIX = "hp."
#: Curves for the report are thinned to at most this many points per signal (a figure a few
#: hundred pixels wide shows no more; 10,000 raw steps x 14 signals would be ~1 MB per run).
CURVE_POINTS = 300

# A number written as text: MLflow params are always text ("0.001"), and a sweep compares them
# as numbers (the report's features-vs-hyperparameter panels take numeric columns only).
_NUMBER_TEXT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_SEED_IN_NAME = re.compile(r"(?:^|[_\-./])(?:seed|s)[_\-=]?(\d+)(?:$|[_\-./])", re.IGNORECASE)


@dataclass(frozen=True)
class SweepOptions:
    """`analyze`'s options, applied to every run of the sweep (picklable: sent to workers)."""

    metric: str | None = None
    direction: str | None = None
    aggregate: str | None = None
    baseline: str = "first"
    keep_outliers: bool = False
    penalty: float | None = None
    noise_sd: float | None = None
    eval_size: int | None = None
    detail: bool = False
    """Also return thinned curves, phases and the token summary (for the HTML report)."""

    def analyze_kwargs(self) -> dict[str, Any]:
        from phasewatch.phase_stats import Baseline

        return {"metric": self.metric, "direction": self.direction, "aggregate": self.aggregate,
                "baseline": Baseline.parse(self.baseline), "keep_outliers": self.keep_outliers,
                "penalty": self.penalty, "noise_sd": self.noise_sd, "eval_size": self.eval_size}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> `{"a.b": scalar}`; W&B's `{"value": x}` wrappers unwrapped, numbers
    written as text (MLflow params) read as numbers, lists of scalars kept as a short text,
    anything else dropped."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if set(value) <= {"value", "desc"} and "value" in value:
                value = value["value"]
            else:
                out.update(flatten_config(value, name + "."))
                continue
        if isinstance(value, (list, tuple)):
            if all(isinstance(v, (int, float, str, bool)) for v in value) and len(value) <= 16:
                out[name] = ",".join(str(v) for v in value)
            continue
        if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
            value = _number(value.strip())
        if value is None or isinstance(value, (bool, int, float, str)):
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[name] = value
    return out


#: Settings of a run's launch and bookkeeping, not of its training (by the last part of the key:
#: `output_dir`, `args.output_dir`): where it writes, what it is called, what it reports to,
#: which process logged. They differ between the runs of any sweep (HF's `output_dir`, and in
#: transformers 4 a `logging_dir` stamped with the launch time), so kept as hyperparameters
#: they made every run a configuration of its own: four HF runs, two learning rates x two
#: seeds, gave "No seed groups" in the report, for their output folders.
LAUNCH_SETTINGS = frozenset({
    # the files it writes and reads
    "output_dir", "logging_dir", "log_dir", "logdir", "save_dir", "checkpoint_dir", "ckpt_dir",
    "default_root_dir", "dirpath", "cache_dir", "work_dir", "overwrite_output_dir",
    "resume_from_checkpoint",
    # its names, and the trackers it reports to
    "run_name", "exp_name", "experiment_name", "report_to", "project", "wandb_project",
    "wandb_entity", "wandb_run_name", "trackio_space_id", "trackio_bucket_id",
    "trackio_static_space_id",
    # the Hugging Face Hub
    "push_to_hub", "hub_model_id", "hub_token", "hub_strategy", "hub_private_repo",
    "hub_always_push", "hub_revision", "push_to_hub_model_id", "push_to_hub_organization",
    "push_to_hub_token",
    # the process and its console
    "local_rank", "disable_tqdm", "log_level", "log_level_replica", "log_on_each_node",
})


def hyperparameters(run) -> dict[str, Any]:
    """The run's config, flattened, less its launch and bookkeeping settings (`LAUNCH_SETTINGS`)
    and a trainer_state's bookkeeping fields (global_step, total_flos, is_world_process_zero...:
    state, not settings): the training settings, which runs are compared by (seed groups,
    configurations, the report's panels)."""
    from phasewatch.io.trainer_state import FORMAT, STATE_FIELDS

    hp = {k: v for k, v in flatten_config(run.config).items()
          if k.rsplit(".", 1)[-1] not in LAUNCH_SETTINGS}
    if run.format == FORMAT:
        hp = {k: v for k, v in hp.items() if k not in STATE_FIELDS}
    return hp


def config_without_seed(hp: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The hyperparameters apart from any seed, as a comparable key: runs of one arm and
    metric that agree on it and have different seeds are seeds of one configuration (the
    report's seed groups, a comparison figure's default groups). A setting a run does not
    record (absent, or empty in a sweep table) is left out: see `seed_groups_of`."""
    return tuple(sorted((k, str(v)) for k, v in hp.items() if k.rsplit(".", 1)[-1] != "seed"
                        and v is not None and not (isinstance(v, float) and math.isnan(v))))


def _agree(a: tuple, b: tuple) -> bool:
    """Keys of `seed_groups_of` that may be one configuration: the same arm and metric, and
    the same value for every setting both configs record (a key only one of them has, such as
    one an older trainer version did not write, is not a difference)."""
    if a[:-1] != b[:-1]:
        return False
    other = dict(b[-1])
    return all(other.get(k, v) == v for k, v in a[-1])


def seed_groups_of(keys: list[tuple], seeds: list[int | None]) -> list[list[int]]:
    """Indices of the runs that are seeds of one configuration: keys (arm, metric,
    `config_without_seed`) that agree with every other member's (`_agree`), a known seed, and
    at least two different seeds among them (two copies of one seed are a run read twice, not
    a group). Runs join the first group they agree with, in order."""
    groups: list[list[int]] = []
    for i, (key, seed) in enumerate(zip(keys, seeds)):
        if seed is None:
            continue
        home = next((g for g in groups if all(_agree(key, keys[j]) for j in g)), None)
        if home is None:
            groups.append([i])
        else:
            home.append(i)
    return [members for members in groups if len({seeds[i] for i in members}) >= 2]


def _number(text: str) -> int | float:
    """'3' -> 3, '0.001' / '1e-3' -> 0.001 (text that _NUMBER_TEXT matched)."""
    if text.lstrip("+-").isdigit():
        return int(text)
    return float(text)


def seed_of(run, hp: dict[str, Any]) -> int | None:
    """The config's seed (any key named `seed`), else a `seed3` / `s3` in the run's name."""
    for key in ("seed", "args.seed", "training_args.seed"):
        value = hp.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == int(value):
            return int(value)
    for key, value in hp.items():
        if key.rsplit(".", 1)[-1] == "seed" and isinstance(value, int) and not isinstance(value, bool):
            return value
    for text in (run.name, run.source):
        match = _SEED_IN_NAME.search(str(text or ""))
        if match:
            return int(match.group(1))
    return None


def _value_at(series, step: int | None) -> float | None:
    if step is None or series is None or series.empty:
        return None
    if step in series.index:
        return float(series.loc[step])
    pos = min(int(series.index.searchsorted(step)), len(series) - 1)
    return float(series.iloc[pos])


def phase_summary(analysis, series) -> dict[str, Any]:
    """The phase columns from an `Analysis` (the numbers `analyze --format json` prints)."""
    by_name: dict[str, Any] = {}
    for phase in analysis.phases:
        by_name.setdefault(phase.name, phase)
    row: dict[str, Any] = {c: None for c in PHASE_COLUMNS}
    row["start_level"] = analysis.baseline
    dip = by_name.get("disruption")
    if dip is not None:
        row["dip_depth"] = dip.stats.get("depth")
        trough = dip.stats.get("trough_step", dip.end_step)
        row["dip_trough_step"] = trough
        cp = next((c for c in analysis.changepoints if c.step == dip.end_step), None)
        row["dip_low"], row["dip_high"] = (cp.low, cp.high) if cp else (None, None)
        # steps from the trough back to the start level, and the step where it is regained:
        # the trough is the detector's boundary, which the rest of the run can move (trial 40e:
        # sft and sft_then_rl, identical to step 749, troughs 90 and 60 on seed 0, recovered
        # after 240 and 270 steps), while the step of the return is the data's (330 on both)
        back = dip.stats.get("time_to_recover")
        row["time_to_recover"] = back
        row["recovered_step"] = None if back is None or trough is None else trough + back
    rise = by_name.get("readaptation")
    if rise is not None:
        row["readapt_gain"] = rise.stats.get("gain_over_baseline")
    for name in ("readaptation", "improvement", "overfit"):
        phase = by_name.get(name)
        if phase is not None and phase.stats.get("peak_step") is not None:
            row["peak_step"] = phase.stats["peak_step"]
            break
    over = by_name.get("overfit")
    if over is not None:
        row["overfit_onset_step"] = over.start_step
        row["overfit_decline"] = over.stats.get("decline_since_peak")
    row["recommended_step"] = analysis.recommended_stop_step
    row["recommended_value"] = _value_at(series, analysis.recommended_stop_step)
    row["recommended_beats_last"] = analysis.extra.get("stop_beats_last")
    row["final_value"] = float(series.iloc[-1]) if series is not None and len(series) else None
    row["best_value"] = analysis.extra.get("best_value")
    row["noise_sd"] = analysis.extra.get("noise_sd")
    row["phases"] = ">".join(p.name for p in analysis.phases)
    row["confidence"] = analysis.extra.get("confidence")  # runs of at most 12 evaluations
    row["n_changepoints"] = len(analysis.changepoints)
    row["n_warnings"] = len(analysis.warnings)
    switches = analysis.stage_switch_steps
    row["stage_switch_step"] = switches[0] if switches else None
    return row


def token_summary(run) -> dict[str, Any]:
    """Step-0 divergence of the expert data from the policy (`phasewatch.tokens`), if stored."""
    row = {c: None for c in TOKEN_COLUMNS}
    if run.token_store is None:
        return row
    from phasewatch.tokens import divergence_score, open_store

    try:
        score = divergence_score(open_store(run.token_store))
    except PhasewatchError:
        return row
    if score is not None:
        row.update(token_divergence=score.score, token_mean_nll=score.mean_nll,
                   token_divergent_share=score.divergent_share)
    return row


def thin(series, points: int = CURVE_POINTS) -> list[list[float]]:
    """[[step, value], ...] with at most `points` points (every k-th, the last kept)."""
    import numpy as np

    n = len(series)
    if n == 0:
        return []
    idx = np.unique(np.linspace(0, n - 1, min(n, points)).round().astype(int))
    steps = series.index.to_numpy()[idx]
    values = series.to_numpy(dtype=float)[idx]
    return [[int(s), float(v)] for s, v in zip(steps, values) if math.isfinite(v)]


def _detail(run, analysis, series) -> dict[str, Any]:
    """The report's data of a run; `outliers`, the readings the analysis left out, which the
    run's card draws beside its line, as `plot` marks them (the seed groups' means keep them,
    as `plot`'s do)."""
    left_out = series.index.isin(analysis.extra.get("outlier_steps", []))
    outliers = [[int(s), float(v)] for s, v in series[left_out].items()]
    curves = {analysis.metric: thin(series)}
    for metric in run.metrics:
        if metric not in curves:
            curves[metric] = thin(run.series(metric), CURVE_POINTS // 2)
    tokens: dict[str, Any] = {}
    if run.token_store is not None:
        try:
            from phasewatch.tokens import signals_for_run

            for name, s in signals_for_run(run).items():
                tokens[name] = thin(s, CURVE_POINTS // 2)
        except PhasewatchError as exc:
            tokens["error"] = str(exc)
    return {"phases": [p.to_dict() | {"signals": None} for p in analysis.phases],
            "changepoints": [c.to_dict() for c in analysis.changepoints],
            "events": [e.to_dict() for e in run.events], "curves": curves, "outliers": outliers,
            "token_curves": tokens, "warnings": list(analysis.warnings)}


def summarize_run(path: str, options: SweepOptions | None = None) -> dict[str, Any]:
    """The sweep row of the run at `path` (a local path or an fsspec URL); never raises for a
    bad run: its `error` column says what went wrong. With `options.detail`, also `detail`."""
    from phasewatch.api import analysis_and_run
    from phasewatch.io import read_run
    from phasewatch.sweep.paths import local_path

    options = options or SweepOptions()
    row: dict[str, Any] = {"path": path}
    local = None
    try:
        with local_path(path) as local:
            _one_run_at_url(path, local)
            run = read_run(local)
            # identity and hyperparameters first: a run whose analysis fails keeps them
            hp = hyperparameters(run)
            row.update(name=run.name, algorithm=run.algorithm, seed=seed_of(run, hp),
                       format=run.format)
            row.update({HP_PREFIX + k: v for k, v in hp.items()})
            # the run analysed: with --aggregate mean it holds the sets' mean as a metric
            analysis, run = analysis_and_run(run, **options.analyze_kwargs())
            series = run.series(analysis.metric)
            row.update(metric=analysis.metric, direction=analysis.direction)
            row.update(phase_summary(analysis, series))
            from phasewatch.xaxis import step_unit

            row["step_unit"] = step_unit(run, analysis.metric)
            row.update(token_summary(run))
            row["error"] = None
            out: dict[str, Any] = {"row": row}
            if options.detail:
                out["detail"] = _detail(run, analysis, series)
            return out
    except PhasewatchError as exc:
        row["error"] = _named(str(exc), local, path)
    except Exception as exc:  # noqa: BLE001 - a bug on one run is that run's row, not an abort
        row["error"] = f"{INTERNAL_ERROR} ({type(exc).__name__}: {exc})"
    return {"row": row}


INTERNAL_ERROR = "internal error"  # a row's error that is a bug met on that run, not its log's


def failures(rows: list[dict[str, Any]]) -> str:
    """The failed runs of a sweep counted for its summary line: "2 unreadable", and ", 1 read
    but not analysed" for a run whose log was read (its `format` is known) but gave no
    analysis, as a log with no held-out or performance metric phasewatch knows by name does
    (its error says to pass --metric): such a log is not unreadable."""
    bad = [row for row in rows if row.get("error")]
    read = sum(1 for row in bad if row.get("format"))
    said = [f"{len(bad) - read} unreadable"] if len(bad) > read or not bad else []
    return ", ".join(said + ([f"{read} read but not analysed"] if read else []))


def _one_run_at_url(path: str, local) -> None:
    """A URL is read as one run (its copy is made by the worker); a folder of runs behind one
    is an error that says to give a glob of them instead."""
    from phasewatch.folders import find_runs
    from phasewatch.sweep.paths import is_url

    if not (is_url(path) and local.is_dir()):
        return
    try:
        runs = find_runs(local)
    except PhasewatchError:
        return  # read_run says why
    if len(runs) > 1:
        raise InputError(f"this folder holds {len(runs)} runs; a URL is read as one run: give a "
                         f"glob of its runs instead, '{path.rstrip('/')}/*'", path)


def _named(message: str, local, path: str) -> str:
    """An error about a URL's temporary copy names the URL."""
    if local is not None and str(local) != path and str(local) in message:
        return message.replace(str(local), path.rstrip("/"))
    return message
