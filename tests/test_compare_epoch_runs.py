"""Comparison figures of runs that count epochs, and how each run of a comparison is named
(trial 39b): two HF console logs without steps, `--x epoch`, were refused as sharing no x axis;
one GRPO run was labelled "RL (GRPO)" alone beside another run's bare name."""

from __future__ import annotations

import csv
import json

import numpy as np
from plot_inputs import make_run

from phasewatch.cli import main
from phasewatch.plot import compare_figure
from phasewatch.run import RecordCollector


def console_log(path, evals: list[float], rows_per_eval: int = 5) -> str:
    """An HF Trainer console log without its banner (so without steps: rows at the epoch)."""
    lines, n = [], len(evals) * rows_per_eval
    for i in range(1, n + 1):
        epoch = f"{i / n:.4g}"
        lines.append(str({"loss": f"{0.7 - 0.1 * i / n:.4g}", "epoch": epoch}))
        if i % rows_per_eval == 0:
            lines.append(str({"eval_loss": f"{evals[i // rows_per_eval - 1]:.4g}", "epoch": epoch}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_runs_that_all_count_epochs_share_an_epoch_axis(tmp_path, capsys):
    a = console_log(tmp_path / "a" / "train.log", [0.68, 0.675, 0.672, 0.673])
    b = console_log(tmp_path / "b" / "train.log", [0.687, 0.682, 0.681])
    for x in (["--x", "epoch"], []):
        out, data = tmp_path / "cmp.png", tmp_path / "cmp.csv"
        assert main(["plot", a, b, *x, "-o", str(out), "--data", str(data)]) == 0
        rows = list(csv.DictReader(data.open()))
        stops = {r["run"]: float(r["epoch"]) for r in rows if r["kind"] == "stop"}
        assert len(stops) == 2 and all(0 < v <= 1 for v in stops.values())  # epochs, not x 10,000
    # a run counting steps beside them still shares no axis with them
    steps = tmp_path / "c" / "log.jsonl"
    steps.parent.mkdir()
    steps.write_text("".join(json.dumps({"step": s, "eval_loss": 0.7 - s / 1e4}) + "\n"
                             for s in range(0, 100, 10)))
    capsys.readouterr()
    assert main(["plot", a, str(steps), "-o", str(tmp_path / "mixed.png")]) == 2
    assert "shares no x axis" in capsys.readouterr().err


def grpo_run(name: str | None, algorithm: str | None):
    collector = RecordCollector(f"mem:{name}", "test")
    rng = np.random.default_rng(1)
    for step in range(1, 120):
        collector.add(step, {"reward": float(0.2 + step / 200 + rng.normal(0, 0.05))})
    return collector.build(name=name, algorithm=algorithm)


def test_every_run_is_named_by_its_name_after_its_algorithm_where_known():
    runs = [grpo_run("trl-grpo-redteam", "grpo"), grpo_run("jsonl-grpo-redteam-stage1", None),
            grpo_run("dyndpo", "dpo")]
    labels = [t.get_text() for t in compare_figure(runs).legends[0].get_texts()]
    assert labels[:3] == ["RL (GRPO) \u00b7 trl-grpo-redteam", "jsonl-grpo-redteam-stage1",
                          "dpo \u00b7 dyndpo"]
    # a run named after its arm says the arm once
    labels = [t.get_text() for t in compare_figure([make_run("rl", extras=False),
                                                    make_run("sft", extras=False)])
              .legends[0].get_texts()]
    assert labels[:2] == ["RL (GRPO)", "SFT"]
