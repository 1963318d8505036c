"""Student's t two-sided tail in pure Python (`t_tail`): the values scipy gives, and a `watch`
of a short run that no longer imports scipy for them."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from phasewatch.t_tail import two_sided_p

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("t", [0.0, 1e-6, 0.3, 1.0, 2.2, 7.5, 40.0, 1e3])
def test_closed_forms_of_one_two_and_three_degrees_of_freedom(t):
    """dof 1 (Cauchy), 2 and 3 have closed forms; dof 1 also checks the F(1, 1) reading."""
    assert two_sided_p(t * t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(t), rel=1e-12)
    assert two_sided_p(t * t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-12)
    theta = math.atan(t / math.sqrt(3))
    closed = 1 - 2 / math.pi * (theta + math.sin(theta) * math.cos(theta))
    assert two_sided_p(t * t, 3) == pytest.approx(closed, rel=1e-9, abs=1e-15)


def test_the_edges():
    assert two_sided_p(0.0, 5) == 1.0
    assert two_sided_p(math.inf, 5) == 0.0
    assert math.isnan(two_sided_p(math.nan, 5))


def test_scipys_student_t_and_f_tails():
    special = pytest.importorskip("scipy.special")
    t = np.geomspace(1e-4, 300, 200)
    for dof in range(1, 121):
        p = np.array([two_sided_p(x * x, dof) for x in t])
        np.testing.assert_allclose(p, 2 * special.stdtr(dof, -t), rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(p, special.fdtrc(1, dof, t * t), rtol=1e-10, atol=1e-300)


PROBE = """
import contextlib, io, json, sys
from phasewatch.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "scipy": sorted(m for m in sys.modules if m.startswith("scipy"))}))
"""


def test_watch_of_a_short_run_imports_no_scipy(tmp_path):
    """30 evaluations of a flat accuracy: the monitor refits the offline detector after each,
    and the refits test a shift after the first evaluation; the first of them imported
    scipy.special (0.1-0.3 s of a watch that takes 1 s)."""
    rng = np.random.default_rng(0)
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": 10 * i, "eval/accuracy": 0.5 + rng.normal(0, 0.02)})
                           + "\n" for i in range(30)))
    done = subprocess.run([sys.executable, "-c", PROBE, "watch", str(log), "--format", "jsonl"],
                          capture_output=True, text=True, cwd=tmp_path, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"code": 0, "scipy": []}
