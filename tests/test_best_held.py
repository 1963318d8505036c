"""A held-out rate pinned at its best, then a collapse (trial 38: a DPO policy's exact match 1.0
at every evaluation to step 120). `analyze` dates the collapse at the drop, not inside the flat
stretch, and says that every checkpoint of the stretch is as good: "recommended stop: step 0"
alone read as "keep the model before DPO" for runs that held their best for 120 steps."""

import json

from phasewatch.cli import main

EXACT_MATCH = [1.0] * 13 + [0.775, 0.505, 0.485, 0.365, 0.395, 0.375, 0.385, 0.39, 0.395, 0.4,
                            0.445, 0.45, 0.415, 0.405, 0.405, 0.36, 0.335, 0.375, 0.34, 0.325,
                            0.355, 0.345, 0.33, 0.325, 0.325, 0.33, 0.305, 0.28]


def test_a_best_held_for_13_evaluations_then_a_collapse(tmp_path, capsys):
    path = tmp_path / "dpo.jsonl"
    path.write_text("".join(json.dumps({"step": 10 * i, "eval_exact_match": v}) + "\n"
                            for i, v in enumerate(EXACT_MATCH)))
    assert main(["analyze", str(path), "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert [(p["name"], p["start_step"]) for p in run["phases"]] in (
        [("plateau", 0), ("overfit", 120)], [("plateau", 0), ("overfit", 130)])
    assert run["changepoints"][0]["low"] <= 120 <= run["changepoints"][0]["high"]
    assert run["recommended_stop_step"] == 0
    assert run["best_held"] == {"from_step": 0, "to_step": 120, "evaluations": 13}
    assert main(["analyze", str(path)]) == 0
    assert ("  best held: eval_exact_match 1 at each of the 13 evaluations from step 0 to step 120: "
            "any checkpoint of those is as good by it") in capsys.readouterr().out.splitlines()


def test_no_best_held_on_a_noisy_best(tmp_path, capsys):
    path = tmp_path / "noisy.jsonl"
    values = [0.5, 0.61, 0.7, 0.74, 0.73, 0.75, 0.72, 0.6, 0.55, 0.5]
    path.write_text("".join(json.dumps({"step": 10 * i, "eval_accuracy": v}) + "\n"
                            for i, v in enumerate(values)))
    assert main(["analyze", str(path), "--format", "json"]) == 0
    assert "best_held" not in json.loads(capsys.readouterr().out)["runs"][0]
