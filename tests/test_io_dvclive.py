"""DVCLive folders written by the real dvclive library (`Live`, and the Hugging Face Trainer's
DVCLiveCallback on a tiny model built from a config): one run, each TSV's metric named by its
path under plots/metrics, steps from its `step` column, params.yaml as the config; a folder
whose dvc.yaml names the run; damaged rows reported by file and line, the rest read."""

from __future__ import annotations

import json

import pytest
from cli_json import watched

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run, sniff_format
from phasewatch.live import LiveWatch

dvclive = pytest.importorskip("dvclive", reason="dvclive is not installed (it is in the dev extra)")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """DVCLive writes dvc.yaml in the folder it runs in, and asks git about it: tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")


def write_live(folder="dvclive", n=12, eval_every=3, timestamp=False, **live_options):
    """A run of `n` steps: train/loss every step, eval/acc every `eval_every` (a disruption,
    a recovery, a decline), params.yaml with a nested setting."""
    from dvclive import Live

    acc = [0.5, 0.3, 0.45, 0.62, 0.7, 0.66, 0.6, 0.55, 0.5, 0.46, 0.42, 0.4]
    with Live(folder, save_dvc_exp=False, **live_options) as live:
        live.log_params({"lr": 0.001, "model": {"layers": 2}, "name": "tiny"})
        for i in range(n):
            live.log_metric("train/loss", 2.0 / (i + 1), timestamp=timestamp)
            if i % eval_every == 0:
                live.log_metric("eval/acc", acc[i // eval_every], timestamp=timestamp)
            live.next_step()
    return acc


def series(run, name):
    frame = run.series(name)
    return list(zip(frame.index.tolist(), frame.tolist()))


def test_live_folder_is_one_run(tmp_path):
    acc = write_live()
    run = read_run(tmp_path / "dvclive")
    assert run.format == "dvclive"
    assert set(run.metrics) == {"train/loss", "eval/acc"}
    assert series(run, "eval/acc") == [(3 * i, acc[i]) for i in range(4)]
    assert series(run, "train/loss") == [(i, 2.0 / (i + 1)) for i in range(12)]
    assert run.config == {"lr": 0.001, "model": {"layers": 2}, "name": "tiny"}
    assert run.name == tmp_path.name  # DVCLive's default folder: named by where it ran
    assert not run.warnings


def test_folder_named_by_dvc_yaml_among_other_files(tmp_path):
    """The folder DVCLive ran in holds dvc.yaml (naming `dvclive/metrics.json` and its plots)
    beside the user's own files: the run is the DVCLive folder it names."""
    write_live(folder="results/live")
    assert "results/live/metrics.json" in (tmp_path / "dvc.yaml").read_text()
    (tmp_path / "data.csv").write_text("x,y\n1,2\n3,4\n")
    run = read_run(tmp_path)
    assert run.format == "dvclive" and set(run.metrics) == {"train/loss", "eval/acc"}
    assert run.name == tmp_path.name
    assert sniff_format(tmp_path / "results" / "live").FORMAT == "dvclive"


def test_two_runs_named_by_one_dvc_yaml_are_two_runs(tmp_path, capsys):
    write_live(folder="a")
    write_live(folder="b", n=9)
    assert main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[folder of 2 runs]" in out and "dvclive" in out
    assert read_run(tmp_path / "b").series("train/loss").size == 9


def test_timestamp_column(tmp_path):
    """`log_metric(..., timestamp=True)` (DVCLive 1.x and 2.x always) writes `timestamp step
    name` rows: the step is still the step."""
    acc = write_live(timestamp=True)
    header = (tmp_path / "dvclive/plots/metrics/eval/acc.tsv").read_text().splitlines()[0]
    assert header.split("\t") == ["timestamp", "step", "acc"]
    run = read_run(tmp_path / "dvclive")
    assert series(run, "eval/acc") == [(3 * i, acc[i]) for i in range(4)]


def test_damaged_rows_are_reported_by_file_and_line_and_the_rest_read(tmp_path, capsys):
    write_live()
    tsv = tmp_path / "dvclive/plots/metrics/train/loss.tsv"
    lines = tsv.read_text().splitlines()
    lines[3] = "2\t0.6\t7"  # a third cell
    lines[6] = "\x00\x00\x00"  # a crash's zeroed block
    tsv.write_text("\n".join(lines) + "\n" + "12\t0.1")  # a last row cut mid-write
    run = read_run(tmp_path / "dvclive")
    assert run.series("train/loss").index.tolist() == [0, 1, 3, 4, 6, 7, 8, 9, 10, 11]
    assert run.series("eval/acc").size == 4
    [warning] = [w for w in run.warnings if "loss.tsv" in w]
    assert warning.startswith("plots/metrics/train/loss.tsv: skipped 3 of 14 lines that are "
                              "not valid records (lines 4, 7, 14; first: 3 tab-separated cells")
    # watch says each as it reads it, with the file and line
    said = []
    list(LiveWatch(tmp_path / "dvclive", notice=said.append, info=lambda m: None).alerts())
    assert f"{tsv}:4: skipped a line that is not a valid record: 3 tab-separated cells, not 2" \
        in said
    assert f"{tsv}:14: skipped a line that is not a valid record: the last row has no line end " \
        "(cut mid-write)" in said
    assert main(["inspect", str(tmp_path / "dvclive")]) == 0
    assert "loss.tsv: skipped 3 of 14 lines" in capsys.readouterr().out


def test_a_folder_with_no_valid_row_names_the_file_and_line(tmp_path, capsys):
    metrics = tmp_path / "dvclive" / "plots" / "metrics"
    metrics.mkdir(parents=True)
    (metrics / "acc.tsv").write_text("step\tacc\nfirst\t0.5\n")
    with pytest.raises(InputError) as caught:
        read_run(tmp_path / "dvclive")
    assert str(caught.value) == (f"{metrics / 'acc.tsv'}:2: no valid row in the metric files; "
                                 "first problem: step is not an integer: 'first'")
    assert main(["inspect", str(tmp_path / "dvclive")]) == 3
    assert "acc.tsv" in capsys.readouterr().err


def test_a_lone_tsv_keeps_the_split_its_folder_names(tmp_path, capsys):
    """One TSV given alone (`dvclive/plots/metrics/eval/loss.tsv`) is the metric the folder's
    read names (`eval/loss`), not its header's `loss`: a held-out loss was taken as the train
    loss ("an instability of training, not an overfit"), and `val/f1_macro.tsv` alone had no
    performance metric (exit 2)."""
    from dvclive import Live

    eval_loss = [0.9, 0.7, 0.6, 0.55, 0.53, 0.52, 0.55, 0.6, 0.66, 0.72, 0.8, 0.86]
    with Live("dvclive", save_dvc_exp=False) as live:
        live.log_params({"lr": 0.001})
        for i, loss in enumerate(eval_loss):
            live.log_metric("train/loss", 2.0 / (i + 1))
            live.log_metric("eval/loss", loss, timestamp=True)
            live.log_metric("val/f1_macro", 0.5 + 0.3 * (1 - abs(i - 6) / 6))
            live.next_step()
    metrics = tmp_path / "dvclive/plots/metrics"
    run = read_run(metrics / "eval/loss.tsv")
    assert run.format == "dvclive" and list(run.metrics) == ["eval/loss"]
    assert series(run, "eval/loss") == list(enumerate(eval_loss))
    assert run.config == {"lr": 0.001} and run.name == tmp_path.name and not run.warnings
    assert main(["analyze", str(metrics / "eval/loss.tsv"), "--format", "json"]) == 0
    [result] = json.loads(capsys.readouterr().out)["runs"]
    assert result["metric"] == "eval/loss" and result["phases"][-1]["name"] == "overfit"
    assert not [w for w in result["warnings"] if "train loss" in w or "instability" in w]
    assert main(["analyze", str(metrics / "val/f1_macro.tsv"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "val/f1_macro"


def test_a_lone_tsv_given_from_inside_its_folder_and_its_damaged_rows(tmp_path, monkeypatch,
                                                                       capsys):
    """The split is kept when the path given is relative from inside plots/metrics; a damaged
    row is reported by file and line, the rest read; the same file copied out of its folder, or
    a TSV whose header is not DVCLive's, is a plain table (its header's names)."""
    write_live()
    metrics = tmp_path / "dvclive/plots/metrics"
    tsv = metrics / "train/loss.tsv"
    lines = tsv.read_text().splitlines()
    lines[3] = "2\t0.6\t7"
    tsv.write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(metrics)
    run = read_run("train/loss.tsv")
    assert list(run.metrics) == ["train/loss"] and run.series("train/loss").size == 11
    [warning] = run.warnings
    assert warning == ("plots/metrics/train/loss.tsv: skipped 1 of 13 lines that are not valid "
                       "records (line 4; first: 3 tab-separated cells, not 2)")
    assert main(["inspect", "train/loss.tsv"]) == 0
    assert "train/loss " in capsys.readouterr().out
    (tmp_path / "loss.tsv").write_text(tsv.read_text())
    (metrics / "table.tsv").write_text("step\tloss\tacc\n0\t1.0\t0.5\n1\t0.9\t0.6\n")
    for plain, names in ((tmp_path / "loss.tsv", {"loss"}), (metrics / "table.tsv",
                                                               {"loss", "acc"})):
        run = read_run(plain)
        assert run.format == "csv" and set(run.metrics) == names


def test_a_lone_tsv_copied_out_with_its_split_folder_keeps_the_split(tmp_path, capsys):
    """DVCLive writes `<dir>/plots/metrics/<name>.tsv` wherever `dir=` puts the run; a TSV
    copied out of it with its split's folder (`results/eval/acc.tsv`) keeps the split
    (`eval/acc`, a held-out accuracy), where it was a plain table whose one metric named none
    (`acc`: no performance metric, exit 2). A TSV of another header, or in a folder that is no
    split, stays a plain table."""
    write_live("runs/exp1")
    metrics = tmp_path / "runs/exp1/plots/metrics"
    assert read_run(tmp_path / "runs/exp1").format == "dvclive"  # `dir=` moves the whole folder
    for name in ("eval/acc", "train/loss"):
        copy = tmp_path / "results" / f"{name}.tsv"
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text((metrics / f"{name}.tsv").read_text())
        run = read_run(copy)
        assert (run.format, list(run.metrics)) == ("dvclive", [name])
        assert series(run, name) == series(read_run(metrics / f"{name}.tsv"), name)
    assert main(["analyze", str(tmp_path / "results/eval/acc.tsv"), "--format", "json"]) == 0
    [result] = json.loads(capsys.readouterr().out)["runs"]
    assert (result["metric"], result["direction"]) == ("eval/acc", "max")
    (tmp_path / "results/val").mkdir()
    (tmp_path / "results/val/table.tsv").write_text("step\tloss\tacc\n0\t1.0\t0.5\n1\t0.9\t0.6\n")
    (tmp_path / "results/exp").mkdir()
    (tmp_path / "results/exp/acc.tsv").write_text((metrics / "eval/acc.tsv").read_text())
    for plain, names in ((tmp_path / "results/val/table.tsv", {"loss", "acc"}),
                         (tmp_path / "results/exp/acc.tsv", {"acc"})):
        run = read_run(plain)
        assert run.format == "csv" and set(run.metrics) == names



def test_a_lone_tsv_of_a_bare_name_is_the_runs_metric(tmp_path, capsys):
    """A loop that logs `acc` alone (`plots/metrics/acc.tsv`, no split folder): the lone file
    is analysed on its one metric, as `--metric acc` analyses the folder, with a warning that
    says so, where it exited 2 ("pass --metric acc"). The folder keeps the choice every log's
    metric gets (exit 2), and so does a lone file of a name a role or a folder places, or one
    that counts steps."""
    from dvclive import Live

    acc = [0.5, 0.62, 0.7, 0.78, 0.8, 0.77, 0.72, 0.69, 0.65, 0.6, 0.58, 0.55]
    with Live("dvclive", save_dvc_exp=False) as live:
        for i, value in enumerate(acc):
            live.log_metric("acc", value)
            live.log_metric("epoch", i)
            live.log_metric("train/acc", 0.5 + 0.04 * i)
            live.next_step()
    metrics = tmp_path / "dvclive/plots/metrics"
    assert main(["analyze", str(metrics / "acc.tsv"), "--format", "json"]) == 0
    [lone] = json.loads(capsys.readouterr().out)["runs"]
    assert (lone["metric"], lone["direction"]) == ("acc", "max")
    said = "the file holds one metric, acc, which no role names: it is analysed as the run's " \
        "metric, as --metric acc would be"
    assert said in lone["warnings"]
    assert main(["analyze", str(tmp_path / "dvclive"), "--metric", "acc", "--format", "json"]) == 0
    [chosen] = json.loads(capsys.readouterr().out)["runs"]
    assert [p["name"] for p in lone["phases"]] == [p["name"] for p in chosen["phases"]]
    assert lone["recommended_stop_step"] == chosen["recommended_stop_step"] == 4
    summary, err = watched(capsys, metrics / "acc.tsv")
    assert summary["metric"] == "acc" and said in err
    for other in (tmp_path / "dvclive", metrics / "epoch.tsv", metrics / "train/acc.tsv"):
        assert main(["analyze", str(other)]) == 2, other
        assert "no performance metric found" in capsys.readouterr().err


# ------------------------------------------------------------------ the Hugging Face callback
def trainer_run(tmp_path, accuracy, **arguments):
    """The tiny Trainer (`tiny_trainer`) trained with transformers' DVCLiveCallback into
    tmp_path/dvclive, evaluated with the scripted `accuracy` (TrainingArguments `arguments`:
    `max_steps` and the logging and evaluation cadence)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from dvclive import Live
    from scripted_eval import ScriptedMetrics
    from tiny_trainer import tiny_trainer
    from transformers.integrations import DVCLiveCallback

    live = Live(str(tmp_path / "dvclive"), save_dvc_exp=False)
    tiny_trainer(tmp_path / "out", callbacks=[DVCLiveCallback(live)],
                 compute_metrics=ScriptedMetrics(accuracy=accuracy), eval_strategy="steps",
                 save_strategy="no", **arguments).train()
    return tmp_path / "dvclive"


def test_hf_trainer_callback_run_is_analysed(tmp_path, capsys):
    """transformers' DVCLiveCallback steps DVCLive once a Trainer log: with an evaluation each
    step and no training logs, the eval metrics' steps are the evaluations' numbers. The
    scripted accuracy peaks at evaluation PEAK; analyze finds the overfit there."""
    from scripted_eval import scripted_accuracy

    n, peak = 60, 20
    accuracy = scripted_accuracy()[::3][:n + 1]  # peak at 60 of 200: 20 of 67
    folder = trainer_run(tmp_path, accuracy, max_steps=n, eval_steps=1, logging_steps=1000)
    capsys.readouterr()  # the Trainer's printed logs
    run = read_run(folder)
    assert series(run, "eval/accuracy")[:3] == [(i, accuracy[i]) for i in range(3)]
    assert run.series("eval/accuracy").size == n
    assert run.config["learning_rate"] == 1e-3 and run.config["max_steps"] == n
    assert main(["analyze", str(folder), "--format", "json"]) == 0
    [result] = json.loads(capsys.readouterr().out)["runs"]
    assert result["metric"] == "eval/accuracy" and result["direction"] == "max"
    assert result["phases"][-1]["name"] == "overfit"
    assert abs(result["recommended_stop_step"] - peak) <= 3


def test_hf_callback_steps_count_the_trainers_logs_not_the_plans_optimizer_steps(tmp_path,
                                                                                 capsys):
    """With a train log every 2 optimizer steps and an evaluation every 3, the callback's 60
    optimizer steps are DVCLive steps 0-50 (30 train logs, 20 evaluations, the closing
    summary), and params.yaml's max_steps 60 counts the optimizer's: `watch` judged "early"
    against a plan of 60 and `analyze` said the log ended before step 60, "stopped early". No
    plan is taken from it, and watch says why; a run set by epochs (max_steps -1) has its
    planned epochs x the log's steps an epoch takes, which is in the log's steps."""
    from scripted_eval import scripted_accuracy

    accuracy = scripted_accuracy()[::6]  # peak at evaluation 10 of 20
    folder = trainer_run(tmp_path, accuracy, max_steps=60, eval_steps=3, logging_steps=2)
    capsys.readouterr()
    run = read_run(folder)
    assert run.config["max_steps"] == 60 and run.steps.max() == 50
    assert series(run, "eval/accuracy")[:2] == [(1, accuracy[0]), (4, accuracy[1])]
    summary, said = watched(capsys, folder)
    assert summary["planned"] is None
    assert ("no planned length from the run's config: the run's config `max_steps` 60 counts "
            "the Trainer's optimizer steps") in said
    assert main(["analyze", str(folder), "--format", "json"]) == 0
    [result] = json.loads(capsys.readouterr().out)["runs"]
    assert not [w for w in result["warnings"] if "before the step 60" in w]
    # by epochs: 16 rows a batch of 4 is 4 steps an epoch, 15 epochs the same 60 steps
    by_epochs = trainer_run(tmp_path / "epochs", accuracy, max_steps=-1, num_train_epochs=15,
                            eval_steps=3, logging_steps=2)
    capsys.readouterr()
    summary, said = watched(capsys, by_epochs)
    assert summary["planned"] == {"steps": 50, "from": "epochs", "key": "num_train_epochs"}


# ------------------------------------------------------------------ the Lightning logger
def test_lightning_logger_run(tmp_path):
    """dvclive.lightning.DVCLiveLogger: Lightning's `val_acc` is `val/acc` (a held-out
    accuracy), `train_loss` is `train/loss`, the module's hparams the config. DVCLive writes
    Lightning's step 0 at step 1 (`if step:`), beside Lightning's step 1: the later row is
    read, and said."""
    torch = pytest.importorskip("torch")
    lightning = pytest.importorskip("lightning")
    from dvclive.lightning import DVCLiveLogger

    class Module(lightning.LightningModule):
        def __init__(self, lr=0.01):
            super().__init__()
            self.save_hyperparameters()
            self.lin = torch.nn.Linear(2, 1)

        def training_step(self, batch, _):
            x, y = batch
            loss = ((self.lin(x) - y) ** 2).mean()
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _):
            self.log("val_acc", 0.5 + 0.01 * self.current_epoch)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    torch.manual_seed(0)
    x = torch.randn(16, 2)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)),
                                       batch_size=4)
    trainer = lightning.Trainer(
        max_epochs=5, logger=DVCLiveLogger(dir="dvclive", save_dvc_exp=False),
        log_every_n_steps=1, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu")
    trainer.fit(Module(), data, data)
    run = read_run(tmp_path)  # the folder Lightning ran in: its dvc.yaml names dvclive/
    acc = run.series("val/acc")
    assert acc.index.tolist() == [3, 7, 11, 15, 19]  # each epoch's last step (4 batches)
    assert acc.tolist() == pytest.approx([0.5 + 0.01 * e for e in range(5)])
    assert run.series("train/loss").index.tolist() == list(range(1, 20))
    assert run.config == {"lr": 0.01}
    assert any(w.startswith("train/loss: logged several times at one step") for w in run.warnings)
