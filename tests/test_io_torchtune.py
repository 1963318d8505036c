"""torchtune's metric log, as its DiskLogger writes it: `Step {step} | ` then `{name}:{data} `
per item of a `log_dict` call (`data` through str(): floats, or tensors' reprs)."""

import json
import math

from phasewatch.cli import main
from phasewatch.io import read_run, sniff_format


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def disk_logger_file(path, steps=300, every=20):
    """What torchtune's SFT recipe logs each step, and a validation loss every `every` steps
    that falls, then rises after step 160 (memorisation)."""
    with open(path, "w") as fh:
        for step in range(1, steps + 1):
            loss = 2.0 * math.exp(-step / 60) + 0.5
            payload = {"loss": f"tensor({loss:.4f}, device='cuda:0')" if step % 2 else loss,
                       "lr": 2e-05, "tokens_per_second_per_gpu": 1234.5 + step % 7}
            fh.write(f"Step {step} | ")
            fh.writelines(f"{name}:{data} " for name, data in payload.items())
            fh.write("\n")
            if step % every == 0:
                val = 1.0 + 0.8 * math.exp(-step / 40) + 0.0012 * max(0, step - 160)
                fh.write(f"Step {step} | val_loss:{val:.5f} \n")
    return path


def test_disk_logger_file_is_read_and_analysed_on_its_validation_loss(tmp_path, capsys):
    path = disk_logger_file(tmp_path / "log_1718000000.txt")
    assert sniff_format(path).FORMAT == "torchtune"
    run = read_run(path)
    assert set(run.metrics) == {"loss", "lr", "tokens_per_second_per_gpu", "val_loss"}
    loss = run.series("loss")
    assert loss.index.tolist() == list(range(1, 301))
    assert loss.loc[1] == round(2.0 * math.exp(-1 / 60) + 0.5, 4)  # from "tensor(..., device=...)"
    code, out, _ = run_cli(capsys, "analyze", path, "--format", "json")
    result = json.loads(out)["runs"][0]
    assert code == 0 and result["metric"] == "val_loss" and result["direction"] == "min"
    assert [p["name"] for p in result["phases"]][-1] == "overfit"
    assert 140 <= result["recommended_stop_step"] <= 180


def test_a_step_line_without_items_is_reported_with_its_line(tmp_path, capsys):
    path = tmp_path / "log_1.txt"
    path.write_text("Step 1 | loss:1.0 \nStep 2 | \nStep 3 | loss:0.8 \nStep 4 | loss:0.7 \n")
    run = read_run(path)
    assert run.series("loss").index.tolist() == [1, 3, 4]
    assert any("line 2" in w and "name:value" in w for w in run.warnings)
