"""Runs written by the real mlflow client for the MLflow tests: the client's environment
(`ENV`: synchronous logging, no tracking URI of the user's), the script that logs the runs
(`WRITER`: an SFT run resumed from step 3, a one-point RL run, a Trinity explorer/trainer pair and a
deleted run) and `log_runs`, which runs it in a subprocess against a tracking URI; `cli` runs a
command in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from phasewatch.cli import main

ENV = {**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "GIT_PYTHON_REFRESH": "quiet",
       "MLFLOW_TRACKING_URI": ""}

WRITER = textwrap.dedent(
    """
    import json, sys, mlflow
    from mlflow.tracking import MlflowClient
    mlflow.set_tracking_uri(sys.argv[1])
    ids = {}
    with mlflow.start_run(run_name="sft") as run:
        mlflow.log_params({"lr": 0.001, "epochs": 3})
        for step in range(6):
            mlflow.log_metrics({"eval/accuracy": step / 10, "train/loss": 2.0 - step / 5},
                               step=step)
        mlflow.log_metric("eval/accuracy", 0.9, step=3)  # a run resumed from step 3
        mlflow.log_metric("train/loss", float("nan"), step=6)
        mlflow.log_metric("train/loss", float("inf"), step=7)
        ids["sft"] = run.info.run_id
    with mlflow.start_run(run_name="rl") as run:
        mlflow.log_metric("eval/mean_at_4", 0.5, step=0)
        ids["rl"] = run.info.run_id
    for role in ("explorer", "trainer"):  # Trinity-RFT's MlflowMonitor: `@` logged as `_at_`
        with mlflow.start_run(run_name=f"job_{role}", tags={"role": role}):
            for step in range(1, 11):
                if role == "explorer":
                    mlflow.log_metrics({"eval/gsm8k/accuracy/mean_at_4": step / 20,
                                        "rollout/accuracy/mean": step / 30}, step=step)
                else:
                    mlflow.log_metrics({"actor/mu": 1 - step / 10, "actor/loss": 1 / step},
                                       step=step - 1)
    with mlflow.start_run(run_name="gone") as run:
        mlflow.log_metric("x", 1.0, step=0)
    MlflowClient().delete_run(run.info.run_id)
    print(json.dumps(ids))
    """
)


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def log_runs(tracking_uri: str) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-c", WRITER, tracking_uri], env=ENV, check=True,
                          capture_output=True, text=True, timeout=300)
    return json.loads(done.stdout.strip().splitlines()[-1])
