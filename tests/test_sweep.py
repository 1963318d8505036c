"""sweep: one row per run with analyze's numbers; bad runs are rows; every engine, same table."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.sweep import SweepOptions, build_table, expand_paths, run_tasks, sweep
from phasewatch.synth import generate

SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Six small synthetic runs with a seed and a hyperparameter in their config, and one
    unreadable 'run'."""
    root = tmp_path_factory.mktemp("runs")
    for i, kind in enumerate(("three_phase", "dip_recover", "flat", "overfit_only",
                              "three_phase", "monotone")):
        folder = generate(kind, seed=i, n_points=80, eval_every=5).write(root / f"run{i}")
        meta = json.loads((folder / "run.json").read_text())
        meta["config"].update(seed=i, lr=1e-3 * (i + 1), expert_size=64 * (1 + i % 3))
        (folder / "run.json").write_text(json.dumps(meta))
    bad = root / "zz_broken"
    bad.mkdir()
    (bad / "metrics.jsonl").write_text('{"step": oops\nnot json\n')
    return root


def _analyze_json(path, capsys) -> dict:
    assert main(["analyze", str(path), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


def _close(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None
    return b is not None and math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("name", ["demo", "sft_then_rl", "rl"])
def test_row_has_the_numbers_analyze_prints(name, capsys):
    ref = _analyze_json(SAMPLES / name, capsys)
    row = sweep([str(SAMPLES / name)], workers=1).iloc[0].to_dict()
    assert row["error"] is None or pd.isna(row["error"])
    assert row["metric"] == ref["metric"] and row["direction"] == ref["direction"]
    assert _close(row["start_level"], ref["baseline"])
    assert row["recommended_step"] == ref["recommended_stop_step"]
    assert row["phases"] == ">".join(p["name"] for p in ref["phases"])
    assert row["n_changepoints"] == len(ref["changepoints"])
    phases = {}
    for p in ref["phases"]:
        phases.setdefault(p["name"], p)
    dip = phases.get("disruption")
    assert _close(row["dip_depth"], dip and dip["depth"])
    assert _close(row["dip_trough_step"], dip and dip["trough_step"])
    if dip:
        cp = next(c for c in ref["changepoints"] if c["step"] == dip["end_step"])
        assert (row["dip_low"], row["dip_high"]) == (cp["low"], cp["high"])
    rise = phases.get("readaptation")
    assert _close(row["readapt_gain"], rise and rise["gain_over_baseline"])
    over = phases.get("overfit")
    assert _close(row["overfit_onset_step"], over and over["start_step"])
    assert _close(row["overfit_decline"], over and over["decline_since_peak"])
    assert _close(row["best_value"], ref["best_value"])
    # the hyperparameters and identity come from run.json
    meta = json.loads((SAMPLES / name / "run.json").read_text())
    assert row["name"] == meta["name"] and row["algorithm"] == meta["algorithm"]
    assert row["seed"] == meta["config"]["seed"]
    assert _close(row["hp.lr"], meta["config"]["lr"])
    # and the store's step-0 divergence
    assert row["token_divergence"] > 0 and 0 < row["token_divergent_share"] < 1


def test_bad_run_is_a_row_not_an_abort(runs):
    table = sweep([str(runs / "*")], workers=1)
    assert len(table) == 7
    bad = table[table["path"].str.endswith("zz_broken")].iloc[0]
    assert "metrics.jsonl:1: no valid record" in bad["error"] and "zz_broken" in bad["error"]
    good = table[table["error"].isna()]
    assert len(good) == 6
    assert sorted(good["seed"].tolist()) == list(range(6))
    assert good["hp.expert_size"].dtype.kind in "if"


def test_process_pool_gives_the_serial_table(runs):
    paths = expand_paths([str(runs / "*")])
    serial = build_table([r["row"] for r in run_tasks(paths, SweepOptions(), workers=1,
                                                       progress=False)])
    pooled = build_table([r["row"] for r in run_tasks(paths, SweepOptions(), workers=2,
                                                      progress=False)])
    pd.testing.assert_frame_equal(serial, pooled)


def test_fsspec_memory_and_file_urls_give_the_local_table(runs):
    fsspec = pytest.importorskip("fsspec")
    mem = fsspec.filesystem("memory")
    for folder in sorted(runs.iterdir()):
        for file in folder.iterdir():
            mem.pipe(f"/sweeptest/{folder.name}/{file.name}", file.read_bytes())
    local = sweep([str(runs / "run*")], workers=1)
    for pattern in ("memory://sweeptest/run*", f"file://{runs}/run*"):
        remote = sweep([pattern], workers=1)
        assert remote["path"].str.startswith(pattern.split("://")[0] + "://").all()
        assert [p.rsplit("/", 1)[-1] for p in remote["path"]] == [f"run{i}" for i in range(6)]
        pd.testing.assert_frame_equal(local.drop(columns="path"), remote.drop(columns="path"))
    mem.rm("/sweeptest", recursive=True)


def test_cli_writes_csv_json_parquet(runs, tmp_path, capsys):
    for suffix in ("csv", "json", "parquet"):
        out = tmp_path / f"table.{suffix}"
        assert main(["sweep", str(runs / "run*"), "--workers", "1", "--no-progress",
                     "-o", str(out)]) == 0
        assert f"6 runs (0 unreadable) -> {out}" in capsys.readouterr().err
    csv = pd.read_csv(tmp_path / "table.csv")
    parquet = pd.read_parquet(tmp_path / "table.parquet")
    doc = json.loads((tmp_path / "table.json").read_text())
    assert doc["schema_version"] == 1 and len(doc["runs"]) == 6
    assert list(csv.columns) == list(parquet.columns) == list(doc["runs"][0])
    assert csv["recommended_step"].tolist() == parquet["recommended_step"].tolist() \
        == [r["recommended_step"] for r in doc["runs"]]


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nothing*")]) == 3
    assert "no file or folder matches" in capsys.readouterr().err
    assert main(["sweep", str(SAMPLES / "demo"), "-o", str(tmp_path / "t.xlsx")]) == 2
    assert "unknown table format" in capsys.readouterr().err


def test_fsspec_missing_url_is_an_error_row():
    pytest.importorskip("fsspec")
    table = sweep(["memory://no/such/run"], workers=1)
    assert "no such file or folder" in table.iloc[0]["error"]


def test_copy_is_removed(tmp_path):
    fsspec = pytest.importorskip("fsspec")
    from phasewatch.sweep.paths import local_path

    fsspec.filesystem("memory").pipe("/cp/run/metrics.jsonl", b'{"step": 0, "a": 1}\n')
    with local_path("memory://cp/run") as p:
        assert (p / "metrics.jsonl").is_file()
        where = p
    assert not where.exists()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_exit_code_3_only_when_no_run_was_read(runs, tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert main(["sweep", str(runs / "zz_broken"), "--no-progress", "-o", str(out)]) == 3
    assert "phasewatch: 1 run (1 unreadable) -> " in capsys.readouterr().err  # not "1 runs"
    assert "no valid record" in pd.read_csv(out)["error"][0]
    assert main(["sweep", str(runs / "zz_broken"), str(runs / "run0"), "--workers", "1",
                 "--no-progress", "-o", str(out)]) == 0


def test_stdout_csv_and_progress_on_stderr(runs, capsys):
    assert main(["sweep", str(runs / "run0"), str(runs / "run1"), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("path,name,algorithm,seed,")
    assert len(captured.out.splitlines()) == 3
    assert "sweep:" in captured.err and "run/s" in captured.err  # the tqdm bar


def test_glob_skips_files_a_folder_of_runs_skips(runs, tmp_path):
    """'runs/*' over a folder with a README.md and a figure: its runs only, as the folder itself
    would give; named explicitly, such a file is still a row with its error."""
    root = tmp_path / "sweep"
    for name in ("run0", "run1"):
        shutil.copytree(runs / name, root / name)
    (root / "README.md").write_text("# my sweep\n")
    (root / "curve.png").write_bytes(b"\x89PNG\r\n")
    assert expand_paths([str(root / "*")]) == [str(root / "run0"), str(root / "run1")]
    assert expand_paths([str(root / "*")]) == expand_paths([str(root)])
    assert expand_paths([str(root / "README.md")]) == [str(root / "README.md")]
    with pytest.raises(InputError, match=r"\*\.md: no run matches this pattern"):
        expand_paths([str(root / "*.md")])


@pytest.mark.parametrize("name", ["demo", "chord_mu", "rl"])
def test_peak_noise_and_values_are_analyzes_and_the_logs(name, capsys):
    """The columns analyze prints besides the phases (peak, noise) and the ones read off the
    logged curve (value at the recommended step, last value)."""
    from phasewatch.io import read_run

    ref = _analyze_json(SAMPLES / name, capsys)
    row = sweep([str(SAMPLES / name)], workers=1).iloc[0].to_dict()
    peaks = [p["peak_step"] for kind in ("readaptation", "improvement", "overfit")
             for p in ref["phases"] if p["name"] == kind and p.get("peak_step") is not None]
    assert _close(row["peak_step"], peaks[0] if peaks else None)
    assert _close(row["noise_sd"], ref["noise_sd"])
    series = read_run(SAMPLES / name).series(ref["metric"]).dropna()
    assert _close(row["final_value"], series.iloc[-1])
    assert _close(row["recommended_value"], series.loc[ref["recommended_stop_step"]])
    assert row["recommended_beats_last"] == ref.get("stop_beats_last")


def test_parquet_without_pyarrow_says_what_to_install(runs, tmp_path):
    """Parquet is optional: without pyarrow (and fastparquet) the sweep says what to install,
    exit 2, no traceback; CSV and JSON need nothing more. In a fresh interpreter that cannot
    import them: pandas 3 keeps strings in pyarrow once it has been imported, so hiding it
    from a process that already loaded it breaks pandas itself, which no user sees."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['pyarrow'] = sys.modules['fastparquet'] = None; "
            "from phasewatch.cli import main; raise SystemExit(main(sys.argv[1:]))")

    def sweep(out):
        return subprocess.run([sys.executable, "-c", code, "sweep", str(runs / "run0"),
                               "--workers", "1", "--no-progress", "-o", str(out)],
                              check=False, capture_output=True, text=True, timeout=120)
    done = sweep(tmp_path / "t.parquet")
    assert done.returncode == 2, done.stderr
    assert "writing parquet needs pyarrow: pip install pyarrow" in done.stderr
    assert "Traceback" not in done.stderr
    done = sweep(tmp_path / "t.json")
    assert done.returncode == 0, done.stderr


def test_default_is_a_pool_of_every_cpu_this_process_may_use(runs, monkeypatch):
    """No --workers: a process pool as wide as the CPUs allowed to this process."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    from phasewatch.sweep import engines

    widths: list[int] = []

    class Recorded(ProcessPoolExecutor):
        def __init__(self, max_workers=None, **kwargs):
            widths.append(max_workers)
            super().__init__(max_workers=max_workers, **kwargs)

    monkeypatch.setattr(engines, "ProcessPoolExecutor", Recorded)
    paths = expand_paths([str(runs / "run*")])
    rows = run_tasks(paths, SweepOptions(), progress=False)
    assert [r["row"]["path"] for r in rows] == paths
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert widths == ([expected] if expected > 1 else [])


def test_url_folders_of_runs(runs, tmp_path):
    """file://FOLDER is the folder (its runs, as the local path gives them); on another
    filesystem a folder URL is one run, so a folder of runs there is an error row naming the
    glob to give instead, and that glob leaves out files that are never logs."""
    fsspec = pytest.importorskip("fsspec")
    local = expand_paths([str(runs)])
    assert expand_paths([f"file://{runs}"]) == [f"file://{p}" for p in local]
    assert expand_paths([f"file://{runs}/*"]) == [f"file://{p}" for p in expand_paths([str(runs / '*')])]
    mem = fsspec.filesystem("memory")
    for name in ("run0", "run1"):
        for file in (runs / name).iterdir():
            mem.pipe(f"/urlfold/{name}/{file.name}", file.read_bytes())
    mem.pipe("/urlfold/README.md", b"# notes\n")
    try:
        [row] = sweep(["memory://urlfold"], workers=1).to_dict("records")
        assert row["error"] == ("memory://urlfold: this folder holds 2 runs; a URL is read as one "
                                "run: give a glob of its runs instead, 'memory://urlfold/*'")
        urls = expand_paths(["memory://urlfold/*"])  # README.md left out
        assert [u.rsplit("/", 1)[-1] for u in urls] == ["run0", "run1"]
        table = sweep(["memory://urlfold/*"], workers=1)
        assert table["error"].isna().all() and len(table) == 2
    finally:
        mem.rm("/urlfold", recursive=True)


def test_integer_hyperparameters_stay_integers_where_a_run_lacks_them(tmp_path, capsys):
    """A setting some runs do not log (NaN in pandas' float columns) is still written as 250,
    not 250.0, in CSV and JSON; float settings stay floats, text stays text."""
    rows = [{"path": "a", "hp.max_steps": 250, "hp.lr": 0.001, "hp.sched": "cosine"},
            {"path": "b", "hp.lr": 0.01},
            {"path": "c", "hp.max_steps": 2 ** 60, "hp.sched": "linear"}]
    table = build_table(rows)
    assert str(table["hp.max_steps"].dtype) == "Int64" and table["hp.lr"].dtype.kind == "f"
    assert table["hp.max_steps"].tolist()[::2] == [250, 2 ** 60]  # exact beyond 2**53
    from phasewatch.sweep import write_table

    write_table(table, str(tmp_path / "t.csv"), "csv")
    write_table(table, str(tmp_path / "t.json"), "json")
    lines = (tmp_path / "t.csv").read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("hp.max_steps")
    assert [line.split(",")[col] for line in lines[1:]] == ["250", "", str(2 ** 60)]
    runs = json.loads((tmp_path / "t.json").read_text())["runs"]
    assert [r["hp.max_steps"] for r in runs] == [250, None, 2 ** 60]
    assert [r["hp.sched"] for r in runs] == ["cosine", None, "linear"]


def test_the_table_says_where_a_run_switches_to_rl():
    """Trial 37: comparing SFT lengths before RL, the table could not say where each run's RL
    began; a run of one stage has the column empty."""
    frame = sweep([str(SAMPLES / "trl" / "joined"), str(SAMPLES / "sft_then_rl"),
                   str(SAMPLES / "sft")], workers=1)
    assert frame["stage_switch_step"].tolist()[:2] == [700, 800]
    assert pd.isna(frame["stage_switch_step"].iloc[2])
