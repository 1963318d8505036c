"""docs/sweeps.md's local Dask cluster snippet runs as a script (trial 40e finding 13: without
an `if __name__ == "__main__":` guard, the spawned workers re-ran it: "Nanny failed to start")."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="needs the dask extra: pip install 'phasewatch[dask]'")

ROOT = Path(__file__).resolve().parents[1]


def snippet() -> str:
    text = (ROOT / "docs" / "sweeps.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    return next(b for b in blocks if "local_cluster(" in b)


def test_the_local_cluster_snippet_runs_as_a_script(tmp_path):
    code = snippet()
    assert 'if __name__ == "__main__":' in code
    runs = ROOT / "sample_logs"
    code = (code.replace("local_cluster(8)", "local_cluster(2)")
            .replace('"runs/*"', repr(f"{runs}/sft"))
            .replace('"sweep.csv"', repr(str(tmp_path / "sweep.csv"))))
    script = tmp_path / "dask_sweep.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "sweep.csv").read_text().count("\n") == 2  # header and the one run
