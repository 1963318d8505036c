"""`watch`'s closing line says where the watched metric's values end when the log's records
go further: a per-batch loss logged at 10,000 steps beside 20 validations every 5 epochs read
'20 values of validation/loss ... up to step 10000' beside 'live best at step 25', as if the
validations reached step 10000 (tb-mathqa-val)."""

from __future__ import annotations

import json

from phasewatch.cli import main


def _write(path, eval_until: int, train_until: int) -> None:
    lines = []
    for step in range(1, train_until + 1):
        record = {"step": step, "train/loss": 2.0 / step}
        if step % 10 == 0 and step <= eval_until:
            record["eval/accuracy"] = 0.5 + 0.001 * step
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")


def _summary(path, capsys) -> str:
    assert main(["watch", str(path), "--metric", "eval/accuracy"]) == 0
    return capsys.readouterr().err.strip().splitlines()[-1]


def _summary_object(path, capsys) -> dict:
    assert main(["watch", str(path), "--metric", "eval/accuracy", "--format", "jsonl"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_the_metric_s_last_step_is_said_where_the_records_go_further(tmp_path, capsys):
    log = tmp_path / "metrics.jsonl"
    _write(log, eval_until=200, train_until=1000)
    line = _summary(log, capsys)
    assert "(20 values of eval/accuracy, the last at step 200) up to step 1000" in line
    summary = _summary_object(log, capsys)
    assert (summary["step"], summary["values"], summary["last_value_step"]) == (1000, 20, 200)


def test_nothing_is_added_where_the_metric_ends_with_the_records(tmp_path, capsys):
    log = tmp_path / "metrics.jsonl"
    _write(log, eval_until=1000, train_until=1000)
    line = _summary(log, capsys)
    assert "(100 values of eval/accuracy) up to step 1000" in line
