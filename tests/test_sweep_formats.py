"""sweep's hyperparameter columns from every log format that carries them, each log written by
the real tool: HF Trainer's TensorBoard event files (its TrainingArguments and model config
texts) and trainer_state.json, a W&B offline run, an MLflow store (params are text: read as
numbers), a Trackio project, and phasewatch's own run.json."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from wandb_offline import offline_run

from phasewatch.sweep import sweep


def _row(table, suffix: str) -> dict:
    [row] = [r for r in table.to_dict("records") if r["path"].endswith(suffix)]
    return row


@pytest.fixture(scope="module")
def hf_output(tmp_path_factory):
    """A real transformers.Trainer run (tiny GPT-2 from a config) with report_to tensorboard,
    evaluated every 2 steps, expert log-probs captured, its state saved:
    output_dir/runs/<date>/events.*, output_dir/trainer_state.json, output_dir/expert_logprobs/."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("tensorboard")
    from capture_tiny import random_strings, tiny_model, tiny_tokenizer

    tok = tiny_tokenizer()

    class Texts(torch.utils.data.Dataset):
        def __init__(self, n, seed):
            self.ids = [torch.tensor(tok(t)["input_ids"]) for t in random_strings(n, 8, seed=seed)]

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            return {"input_ids": self.ids[i], "labels": self.ids[i]}

    out = tmp_path_factory.mktemp("hf") / "out"
    args = transformers.TrainingArguments(
        output_dir=str(out), max_steps=6, per_device_train_batch_size=4, learning_rate=3e-3,
        seed=7, eval_strategy="steps", eval_steps=2, logging_steps=1, save_strategy="no",
        report_to=["tensorboard"], use_cpu=True, disable_tqdm=True, dataloader_num_workers=0)
    from phasewatch.callbacks.hf_logprobs import ExpertLogprobCallback
    from phasewatch.capture import make_examples

    probe = make_examples(list(zip(random_strings(6, 3, seed=3), random_strings(6, 6, seed=4))))
    probe += make_examples([("ab", "cdefg"), ("hi", "jabc")], split="heldout")
    trainer = transformers.Trainer(model=tiny_model(seed=0), args=args,
                                   train_dataset=Texts(24, 1), eval_dataset=Texts(8, 2),
                                   processing_class=tok,
                                   callbacks=[ExpertLogprobCallback(probe, every=2)])
    trainer.train()
    trainer.save_state()
    return out, args


def test_tensorboard_of_an_hf_trainer_gives_its_training_arguments(hf_output):
    out, args = hf_output
    [events] = list(out.glob("runs/*"))
    table = sweep([str(events)], workers=1)
    row = table.iloc[0].to_dict()
    assert row["format"] == "tensorboard"
    assert row["hp.learning_rate"] == args.learning_rate == 3e-3
    assert row["hp.per_device_train_batch_size"] == 4 and row["hp.max_steps"] == 6
    assert row["seed"] == 7  # TrainingArguments.seed
    assert row["hp.n_embd"] == 16 and row["hp.model_type"] == "gpt2"  # the model config


def test_trainer_state_gives_its_training_argument_fields(hf_output):
    out, _ = hf_output
    row = sweep([str(out / "trainer_state.json")], workers=1).iloc[0].to_dict()
    assert row["format"] == "trainer_state"
    assert row["hp.max_steps"] == 6 and row["hp.train_batch_size"] == 4
    assert row["hp.eval_steps"] == 2 and row["hp.logging_steps"] == 1
    # TrainerState's bookkeeping is not a setting: no hp.global_step, hp.total_flos...
    assert not {"hp.global_step", "hp.total_flos", "hp.epoch", "hp.is_world_process_zero"} & set(row)


def test_the_output_folder_row_has_the_step_0_token_divergence(hf_output):
    """The trainer's output folder as a run: its hyperparameters, and the step-0 divergence of
    the store the capture callback wrote (the numbers `phasewatch.tokens` gives)."""
    from phasewatch.tokens import divergence_score, open_store

    out, _ = hf_output
    row = sweep([str(out)], workers=1).iloc[0].to_dict()
    score = divergence_score(open_store(out / "expert_logprobs"))
    assert row["hp.max_steps"] == 6
    assert row["token_divergence"] == score.score > 0
    assert row["token_mean_nll"] == score.mean_nll
    assert row["token_divergent_share"] == score.divergent_share


WANDB_SCRIPT = """
import sys, wandb
run = wandb.init(mode="offline", dir=sys.argv[1], project="p", name="wb",
                 config={"lr": 0.02, "seed": 5, "expert": {"size": 256}},
                 settings=wandb.Settings(console="off"))
for i in range(40):
    run.log({"eval/accuracy": 0.5 + 0.01 * i}, step=10 * i)
run.finish()
"""


def test_wandb_config(tmp_path):
    folder = offline_run(WANDB_SCRIPT, tmp_path)
    row = sweep([str(folder)], workers=1).iloc[0].to_dict()
    assert row["format"] == "wandb" and row["name"] == "wb"
    assert row["hp.lr"] == 0.02 and row["hp.expert.size"] == 256 and row["seed"] == 5
    assert row["error"] is None


def test_mlflow_params_are_numbers_in_the_table(tmp_path):
    """MLflow keeps params as text ("0.001"): the table and the report compare them as numbers."""
    pytest.importorskip("mlflow")
    from mlflow_runs import log_runs

    db = tmp_path / "mlflow.db"
    log_runs(f"sqlite:///{db}")
    table = sweep([str(db)], workers=1)
    sft = _row(table, "/sft")
    assert sft["format"] == "mlflow_sqlite"
    assert sft["hp.lr"] == 0.001 and sft["hp.epochs"] == 3
    assert table["hp.lr"].dtype.kind == "f" and table["hp.epochs"].dtype.kind in "if"
    # the same store behind a URL: the store is one entry (its error lists the runs), and
    # URL/RUN is that run, read from the worker's copy of the file
    fsspec = pytest.importorskip("fsspec")
    mem = fsspec.filesystem("memory")
    mem.pipe("/mlflowtest/mlflow.db", db.read_bytes())
    try:
        [whole] = sweep(["memory://mlflowtest/mlflow.db"], workers=1).to_dict("records")
        assert "holds 4 runs" in whole["error"] and "memory://mlflowtest/mlflow.db" in whole["error"]
        remote = sweep(["memory://mlflowtest/mlflow.db/sft"], workers=1)
        local = sweep([f"{db}/sft"], workers=1)
        assert remote["error"].isna().all() and remote["hp.lr"].tolist() == [0.001]
        pd.testing.assert_frame_equal(remote.drop(columns="path"), local.drop(columns="path"))
    finally:
        mem.rm("/mlflowtest", recursive=True)


def test_trackio_config(tmp_path):
    pytest.importorskip("trackio")
    from test_io_trackio import WRITER, writer_env

    subprocess.run([sys.executable, "-c", WRITER], env=writer_env(tmp_path), check=True,
                   capture_output=True, text=True, timeout=300)
    table = sweep([str(tmp_path / "proj.db")], workers=1)
    sft = _row(table, "proj.db/sft")
    assert sft["format"] == "trackio" and sft["hp.lr"] == 0.001 and sft["hp.epochs"] == 3


def test_native_run_json_config(tmp_path):
    from phasewatch.synth import generate

    folder = generate("three_phase", seed=0, n_points=60, eval_every=5).write(tmp_path / "r")
    meta = json.loads((folder / "run.json").read_text())
    meta["config"] = {"seed": 4, "mu": {"schedule": "cosine", "start": 0.9}}
    (folder / "run.json").write_text(json.dumps(meta))
    row = sweep([str(folder)], workers=1).iloc[0].to_dict()
    assert row["seed"] == 4 and row["hp.mu.schedule"] == "cosine" and row["hp.mu.start"] == 0.9


@pytest.mark.parametrize("args", [
    "output_dir=out lr=0.1",  # not HF's JSON
    "[" * 100_000 + "]" * 100_000,  # nested past the recursion limit: was exit 70
])
def test_tensorboard_args_text_that_is_not_json_is_a_warning(tmp_path, args):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    from phasewatch.io import read_run

    writer = torch_tb.SummaryWriter(log_dir=str(tmp_path))
    writer.add_text("args", args)
    writer.add_text("notes", '{"lr": 5}')  # another text: not a config
    for step in range(5):
        writer.add_scalar("eval/accuracy", step / 10, step)
    writer.close()
    run = read_run(tmp_path)
    assert run.config == {} and run.series("eval/accuracy").size == 5
    assert any("args/text_summary text is not a JSON object" in w for w in run.warnings)


def test_the_csv_table_says_a_difference_as_people_write_it(tmp_path):
    """Trial 37: a sweep CSV said readapt_gain -0.30000000000000004 (0.57 - 0.87)."""
    from phasewatch.sweep.table import write_table

    path = tmp_path / "sweep.csv"
    write_table(pd.DataFrame({"run": ["a"], "readapt_gain": [0.57 - 0.87], "steps": [1000]}),
                str(path), "csv")
    assert path.read_text().splitlines() == ["run,readapt_gain,steps", "a,-0.3,1000"]
