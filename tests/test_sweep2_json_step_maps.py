"""A JSON document whose metrics are `{step: value}` objects (`{split: {metric: {step: value}}}`,
a home-made logger's dump; pandas' `DataFrame.to_json()`): metrics `split/metric`, the keys the
steps. It used to be read as one JSON-lines record whose metric names carried the steps
(`dev/correctness_rate/109`...): "no performance metric found" (37 files of one repository in
the first new-user sweep)."""

from __future__ import annotations

import json

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run


def _split_log(n_loss: int = 60) -> dict:
    loss = {str(i): round(1.7 * 0.97 ** i, 4) for i in range(n_loss)}
    accuracy = {str(s): round(0.1 + 0.012 * s - 0.00012 * max(0, s - 40) ** 2, 4)
                for s in range(9, n_loss, 10)}
    return {"train": {"loss": loss, "accuracy": {k: v + 0.02 for k, v in accuracy.items()}},
            "dev": {"accuracy": accuracy, "loss": {}},
            "test": {"accuracy": {str(n_loss): 0.55}, "loss": {}}}


def test_split_metric_step_maps_are_metrics_over_steps(tmp_path, capsys):
    log = tmp_path / "train_log.json"
    doc = _split_log()
    log.write_text(json.dumps(doc))
    run = read_run(log)
    assert run.format == "generic_json"
    assert {"train/loss", "train/accuracy", "dev/accuracy", "test/accuracy"} <= set(run.metrics)
    assert not any(name.rsplit("/", 1)[-1].isdigit() for name in run.metrics)
    dev = run.series("dev/accuracy")
    assert [int(s) for s in dev.index] == [9, 19, 29, 39, 49, 59]
    assert list(dev.values) == list(doc["dev"]["accuracy"].values())
    assert len(run.series("train/loss")) == 60

    assert main(["analyze", "--format", "json", str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == "dev/accuracy"


def test_pandas_to_json_table_reads_its_row_index_as_steps(tmp_path):
    log = tmp_path / "history.json"
    log.write_text(json.dumps({"loss": {"0": 0.9, "1": 0.7, "2": 0.6},
                               "val_accuracy": {"0": 0.5, "1": 0.6, "2": 0.65}}))
    run = read_run(log)
    assert run.format == "generic_json"
    assert list(run.series("val_accuracy").values) == [0.5, 0.6, 0.65]


def test_a_large_step_map_document_is_sniffed_from_its_start(tmp_path):
    """Past the 64 KiB the sniffer reads, the document is recognised by how it starts."""
    log = tmp_path / "train_log.json"
    doc = {"train": {"loss": {str(i): 1.0 / (1 + i) for i in range(6000)}}}
    log.write_text(json.dumps(doc, indent=1))
    assert log.stat().st_size > 64 * 1024
    run = read_run(log)
    assert run.format == "generic_json" and len(run.series("train/loss")) == 6000


def test_objects_that_are_not_step_maps_stay_what_they_were(tmp_path):
    """A label map (string values) or one number per metric is no curve: not read as one."""
    labels = tmp_path / "config.json"
    labels.write_text(json.dumps({"id2label": {"0": "neg", "1": "pos"}, "hidden": 8}))
    summary = tmp_path / "scores.json"
    summary.write_text(json.dumps({"test": {"accuracy": {"250": 0.76}}}))
    for log in (labels, summary):
        try:
            fmt = read_run(log).format
        except InputError:  # refused outright is fine too
            fmt = None
        assert fmt != "generic_json"
