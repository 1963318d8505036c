"""Expected disruption from the expert data's NLL, and the calibration it rests on.

`calibration.json` (beside this module) is produced by `benchmarks/calibrate_preflight.py`:
reference-trainer SFT runs on expert data of graded divergence (format-B expert mixed with the
close-to-A control, several pre-training settings and seeds), each with the step-0 mean NLL of
the expert train probe and the depth of the disruption phase `analyze` found. The expected
depth for a new NLL is read off the runs nearest in NLL (their median; the interval is their
range), and the table's rank correlation and size are reported with it.

What it is not: the reference model is a toy on a toy task, and its NLL scale (nats per token of
its own tokenizer) is not a real LLM's. The rank correlation says that, within one model and
task, more expert NLL came with a deeper dip; an absolute depth carried over to another model is
a rough indication at best. Reports say so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

TABLE = Path(__file__).with_name("calibration.json")
NEIGHBOURS = 5


@dataclass
class Expectation:
    depth: float                  # median disruption depth (held-out accuracy lost, 0-1) of the nearest runs
    low: float                    # their range: the interval
    high: float
    neighbours: int
    nll_range: tuple[float, float]  # the NLLs the calibration covers
    inside: bool                  # whether the NLL falls inside that range
    rho: float                    # Spearman rank correlation, step-0 NLL vs depth
    n: int                        # calibration runs
    produced_by: str
    what: str
    caveat: str

    def to_dict(self) -> dict:
        out = asdict(self)
        out["nll_range"] = list(self.nll_range)
        return out


CAVEAT = ("calibrated on a toy reference model and task: the ordering (more expert NLL, deeper "
          "dip) is what the table supports; the NLL scale of another model and tokenizer differs, "
          "so read the depth as a rough indication, not a forecast")


def load_table(path: Path = TABLE) -> dict | None:
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def expected_disruption(mean_nll: float, table: dict | None = None,
                        neighbours: int = NEIGHBOURS) -> Expectation | None:
    """Depth (held-out accuracy lost on the reference task, 0-1) expected after SFT on data at
    `mean_nll`."""
    table = load_table() if table is None else table
    if not table:
        return None
    rows = [r for r in table["rows"] if r.get("dip_analyze") is not None]
    if len(rows) < 3:
        return None
    nll = np.array([r["mean_nll"] for r in rows], dtype=float)
    depth = np.array([r["dip_analyze"] for r in rows], dtype=float)
    k = min(neighbours, len(rows))
    nearest = np.argsort(np.abs(nll - mean_nll), kind="stable")[:k]
    corr = next((c for c in table.get("correlations", [])
                 if c["predictor"] == "mean_nll" and c["target"] == "dip_analyze"), None)
    return Expectation(
        depth=float(np.median(depth[nearest])), low=float(depth[nearest].min()),
        high=float(depth[nearest].max()), neighbours=k,
        nll_range=(float(nll.min()), float(nll.max())),
        inside=bool(nll.min() <= mean_nll <= nll.max()),
        rho=float(corr["rho"]) if corr else float("nan"), n=len(rows),
        produced_by=str(table.get("produced_by", "")), what=str(table.get("what", "")), caveat=CAVEAT,
    )
