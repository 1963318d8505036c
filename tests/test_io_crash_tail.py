"""A console log with no record that ends with a Python traceback: "unknown log format" says the
error the run stopped with (`io.crash_tail`). Four of the logs a reading of public repositories
picked were such runs (verl GRPO runs that ran out of GPU memory or whose Ray workers failed,
a TRL GRPO script's out-of-memory error under wandb's summary); the layouts below are theirs."""

from __future__ import annotations

from phasewatch.cli import main
from phasewatch.io.crash_tail import TAIL_BYTES, last_exception

RAY = "\x1b[36m(main_task pid=1936360)\x1b[0m "

VERL_CRASH = [
    RAY + "{'actor_rollout_ref': {'actor': {'ppo_mini_batch_size': 256,",
    RAY + "                                 'kl_loss_coef': 0.001}}}",
    "Error executing job with overrides: ['algorithm.adv_estimator=grpo']",
    "Traceback (most recent call last):",
    '  File "verl/trainer/main_ppo.py", line 105, in main',
    "    ray.get(main_task.remote(config))",
    '  File "ray/_private/worker.py", line 871, in get_objects',
    "    raise value.as_instanceof_cause()",
    "ray.exceptions.RayTaskError(OutOfMemoryError): \x1b[36mray::main_task()\x1b[39m (pid=1936360)",
    '  File "verl/workers/actor/dp_actor.py", line 272, in update_policy',
    "    loss.backward()",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.70 GiB.",
    "\x1b[36m(WorkerDict pid=1943254)\x1b[0m /torch/utils/checkpoint.py:1399: FutureWarning: ...",
]


def inspect_error(capsys, path) -> str:
    assert main(["inspect", str(path)]) == 3
    return capsys.readouterr().err


def test_a_verl_run_that_crashed_before_its_first_step_says_its_error(tmp_path, capsys):
    path = tmp_path / "verl_demo.log"
    path.write_text("\n".join(VERL_CRASH) + "\n")
    err = inspect_error(capsys, path)
    assert "unknown log format (formats tried: " in err
    assert ("it ends with a Python error, line 12: torch.OutOfMemoryError: CUDA out of memory. "
            "Tried to allocate 2.70 GiB. (a run that stopped before its first logged step "
            "leaves no curve to read; if it logged steps, they are in a format phasewatch does "
            "not read)") in err


def test_a_launchers_prefix_and_the_lines_after_the_traceback(tmp_path):
    """torchrun's `[rank0]: ` on every line of the traceback; wandb's summary after one, whose
    `wandb: Find logs at: ...` reads like `Name: message` but is no part of it; a second
    traceback cut by another thread's lines gives none, and the complete one before it counts."""
    ranked = tmp_path / "ranked.log"
    ranked.write_text("starting\n[rank0]: Traceback (most recent call last):\n"
                      '[rank0]:   File "train.py", line 9, in <module>\n[rank0]:     loop()\n'
                      "[rank0]: KeyboardInterrupt\n")
    assert last_exception(ranked) == (5, "KeyboardInterrupt")
    summary = tmp_path / "summary.log"
    summary.write_text("Traceback (most recent call last):\n  File \"t.py\", line 3, in f\n"
                       "    g()\nRuntimeError: boom\nwandb: Run history:\nwandb: Find logs at: ./w\n"
                       "Exception in thread NetStatThr:\nTraceback (most recent call last):\n"
                       '  File "threading.py", line 1016, in _bootstrap_inner\n'
                       "Exception in thread IntMsgThr:\n")
    assert last_exception(summary) == (4, "RuntimeError: boom")


def test_no_traceback_no_word_and_the_line_counted_past_the_tail(tmp_path, capsys):
    plain = tmp_path / "notes.log"
    plain.write_text("epoch 1 done, loss was low\nall good\n")
    assert "Python error" not in inspect_error(capsys, plain)
    long = tmp_path / "long.log"
    filler = "x" * 99 + "\n"
    n = TAIL_BYTES // len(filler) + 50
    long.write_text(filler * n + "Traceback (most recent call last):\n  File \"a.py\", line 1\n"
                    "ValueError: bad\n")
    assert last_exception(long) == (n + 3, "ValueError: bad")
