"""The real-log corpus benchmark runs end to end: every labelled log is read and analysed.

No score is asserted (the labels are a measurement, see benchmarks/real_corpus/README.md); the
test fails if a log cannot be read, a labelled metric is missing, or the script breaks. Skipped
when the corpus has not been built (benchmarks/real_corpus/build_corpus.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "real_corpus"


@pytest.mark.slow
def test_real_corpus_benchmark_runs():
    manifest = json.loads((CORPUS / "manifest.json").read_text())["logs"]
    missing = [e["id"] for e in manifest
               if not (CORPUS / "data" / e["id"] / Path(e["path"]).name).is_file()]
    if missing:
        pytest.skip(f"real corpus not built ({len(missing)} logs absent); "
                    "run benchmarks/real_corpus/build_corpus.py")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_real_corpus.py"),
                           "--json"], capture_output=True, text=True, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["read_errors"] == []
    labels = json.loads((CORPUS / "labels.json").read_text())["labels"]
    assert result["n_all"] == len(labels)
    assert {r["id"] for r in result["rows"]} == {e["id"] for e in manifest}
    for row in result["rows"]:
        assert row["n_evals"] >= 3, f"{row['id']} {row['metric']}: {row['n_evals']} values"
        assert row["error"] != "unreadable"
