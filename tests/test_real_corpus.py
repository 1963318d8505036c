"""The real-log corpus benchmark runs end to end: every labelled log is read and analysed.

No score is asserted (the labels are a measurement, see benchmarks/real_corpus/README.md); the
test fails if a log cannot be read, a labelled metric is missing, or the script breaks. Run for
the main set and for each held-out batch; each is skipped when its logs have not been built
(benchmarks/real_corpus/build_corpus.py [--set heldout|heldout2|heldout3|heldout4|heldout5]).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "real_corpus"
sys.path.insert(0, str(ROOT / "benchmarks"))

from real_corpus.build_corpus import SETS, load_manifest


@pytest.mark.slow
@pytest.mark.parametrize("corpus_set", sorted(SETS))
def test_real_corpus_benchmark_runs(corpus_set):
    manifest_name, labels_name = SETS[corpus_set]
    manifest = json.loads((CORPUS / manifest_name).read_text())["logs"]
    missing = [e["id"] for e in manifest
               if not (CORPUS / "data" / e["id"] / Path(e["path"]).name).is_file()]
    if missing:
        pytest.skip(f"real corpus ({corpus_set}) not built ({len(missing)} logs absent); "
                    f"run benchmarks/real_corpus/build_corpus.py --set {corpus_set}")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_real_corpus.py"),
                           "--set", corpus_set, "--json"], capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["read_errors"] == []
    labels = json.loads((CORPUS / labels_name).read_text())["labels"]
    assert result["n_all"] == len(labels)
    assert {r["id"] for r in result["rows"]} == {e["id"] for e in manifest}
    for row in result["rows"]:
        assert row["n_evals"] >= 3, f"{row['id']} {row['metric']}: {row['n_evals']} values"
        assert row["error"] != "unreadable"


def test_no_two_sets_share_a_log():
    """A held-out batch is only held out if none of its files is in an earlier set."""
    sets = {name: json.loads((CORPUS / SETS[name][0]).read_text())["logs"] for name in SETS}
    assert len(sets) >= 3
    for a, b in itertools.combinations(sorted(sets), 2):
        assert not {e["sha256"] for e in sets[a]} & {e["sha256"] for e in sets[b]}, (a, b)
        assert not {e["id"] for e in sets[a]} & {e["id"] for e in sets[b]}, (a, b)


def test_a_manifest_member_names_the_labelled_run_of_a_store(tmp_path):
    """A row naming a `member` (one run of an MLflow or Trackio database holding several) is read
    as `<file>/<member>`, the form read_run takes; a row without one is read as its file."""
    rows = [{"id": "store", "repo": "o/r", "commit": "c" * 40, "path": "a/mlruns.db",
             "sha256": "0" * 64, "member": "RUN1"},
            {"id": "plain", "repo": "o/r", "commit": "c" * 40, "path": "b/log.csv",
             "sha256": "1" * 64}]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"logs": rows}))
    store, plain = load_manifest(manifest)
    assert store.dest.name == "mlruns.db"
    assert store.source == store.dest / "RUN1"
    assert plain.source == plain.dest
