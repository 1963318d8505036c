"""A Hugging Face Trainer console log that starts with a `[...]` log prefix (DeepSpeed's launcher:
`[2024-08-19 10:27:57,181] [INFO] [real_accelerator.py:161:get_accelerator] ...`, LLaMA-Factory's
`[INFO|...]`) was refused by the sniffer, which took any `[` start for a JSON array: "unknown log
format" on 4 sweep files of 2 repos (yunsaijc/Eso-LLaVA, CqGao112/CN-Mini-Phi3)."""

from __future__ import annotations

import json

from phasewatch.cli import main
from phasewatch.io import read_run

LAUNCHER = """\
[2024-08-19 10:27:57,181] [INFO] [real_accelerator.py:161:get_accelerator] Setting ds_accelerator to cuda (auto detect)
[2024-08-19 10:27:58,214] [WARNING] [runner.py:202:fetch_hostfile] Unable to find hostfile, will proceed with training with local resources only.
[2024-08-19 10:28:05,990] [INFO] [launch.py:146:main] WORLD INFO DICT: {'localhost': [0]}
Formatting inputs...Skip in lazy mode
"""


def test_a_trainer_log_behind_a_deepspeed_launcher_prefix_is_read(tmp_path, capsys):
    rows = [f"{{'loss': {3.5 * 0.97 ** i:.4f}, 'learning_rate': 2e-05, 'epoch': {i / 100:.2f}}}"
            for i in range(1, 61)]
    log = tmp_path / "sft.log"
    log.write_text(LAUNCHER + "\n".join(rows) + "\n")
    run = read_run(log)
    assert run.format == "hf_console"
    assert len(run.series("loss")) == 60
    assert main(["analyze", "--format", "json", str(log)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "loss"


def test_json_arrays_are_still_left_to_the_json_readers(tmp_path):
    rows = tmp_path / "log_history.json"
    rows.write_text(json.dumps([{"step": s, "loss": 1 / s, "epoch": s / 10} for s in range(1, 30)]))
    assert read_run(rows).format != "hf_console"
