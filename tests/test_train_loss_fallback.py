"""A log with no held-out metric or reward (an SFT run that logged only its train loss) is
analysed on its train loss, saying so, by analyze, inspect and watch alike."""

import json
import math

from phasewatch.cli import main


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def train_only_log(path, with_eval: bool = False):
    rows = []
    for i in range(40):
        row = {"step": 10 * (i + 1), "loss": 2.0 * math.exp(-i / 8) + 1.0 + 0.01 * math.sin(7 * i),
               "learning_rate": 1e-4}
        if with_eval and i % 4 == 3:
            row["eval_loss"] = 2.5 - 0.01 * i
        rows.append(row)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


NOTE = "no held-out metric or reward phasewatch knows by name in this log: taking its train loss (loss)"


def test_analyze_takes_the_train_loss_and_says_so(tmp_path, capsys):
    log = train_only_log(tmp_path / "sft.jsonl")
    code, out, _ = run_cli(capsys, "analyze", log, "--format", "json")
    assert code == 0
    run = json.loads(out)["runs"][0]
    assert run["metric"] == "loss" and run["direction"] == "min"
    assert any(NOTE in w for w in run["warnings"])
    assert run["phases"][0]["name"] == "improvement"
    code, out, _ = run_cli(capsys, "inspect", log)
    assert "performance metric: loss (lower is better; the train loss, as no held-out metric " \
           "or reward is known by name)" in out
    # a held-out metric beside it is taken instead, with no note
    code, out, _ = run_cli(capsys, "analyze", train_only_log(tmp_path / "eval.jsonl", True),
                           "--format", "json")
    run = json.loads(out)["runs"][0]
    assert run["metric"] == "eval_loss" and not any(NOTE in w for w in run["warnings"])


def test_watch_takes_the_same_train_loss_and_checkpoint(tmp_path, capsys):
    log = train_only_log(tmp_path / "sft.jsonl")
    code, out, _ = run_cli(capsys, "analyze", log, "--format", "json")
    offline = json.loads(out)["runs"][0]
    code, out, err = run_cli(capsys, "watch", log, "--format", "jsonl")
    assert code == 0 and NOTE in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["metric"] == "loss"
    assert abs(summary["best_step"] - offline["recommended_stop_step"]) <= 10
