"""Which files of a folder may be its training log: every file a reader recognises, less those
that are never logs (model and tokenizer configs, weights, scripts, W&B's own logs), a rotated
part read with the log it continues. `folders` decides from these which log is the run; a
glob of `sweep` skips the same files (`never_a_log`)."""

from __future__ import annotations

from pathlib import Path

from phasewatch.errors import InputError

MAX_FILES_SNIFFED = 200  # log candidates sniffed per folder

# Files in training output folders that are not training logs.
NOT_LOGS = frozenset({
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "added_tokens.json", "vocab.json", "adapter_config.json",
    "preprocessor_config.json", "chat_template.json", "all_results.json", "train_results.json",
    "eval_results.json", "predict_results.json", "wandb-summary.json", "wandb-metadata.json",
    "run.json", "model.safetensors.index.json", "pytorch_model.bin.index.json",
    "dataset_info.json", "latest_checkpointed_iteration.txt", "requirements.txt",
    "config.yaml", "meta.yaml", "README.md",
    # W&B's own logs in `wandb/` (symlinks into the latest run; JSON lines, not metrics), and
    # an old W&B run folder's system metrics (GPU, CPU, memory) beside its wandb-history.jsonl
    "debug.log", "debug-internal.log", "debug-core.log", "wandb-events.jsonl",
})
# W&B's capture of a run's console, in its run folder's `files/` beside the run's metadata: the
# same records as the run's history, read from there. Elsewhere `output.log` is a user's own
# redirect of the trainer's console (`python train.py > output.log`), and may be the only log.
WANDB_CONSOLE = "output.log"
WANDB_FILES = ("wandb-metadata.json", "wandb-summary.json")
NOT_LOG_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".npy", ".npz", ".png",
                    ".jpg", ".jpeg", ".pdf", ".svg", ".py", ".sh", ".yaml", ".yml", ".md",
                    ".model", ".tiktoken", ".arrow", ".gguf", ".lock", ".pkl", ".pickle")
# ... except Stable-Baselines3's EvalCallback file (`io.sb3_evaluations`): the held-out
# evaluations of the run whose Monitor files share its folder
EVALUATIONS_NPZ = "evaluations.npz"


def files_in(folder: Path) -> list[Path]:
    """The regular files directly in `folder`, hidden ones left out, sorted."""
    return _visible(folder, Path.is_file)


def subdirs_in(folder: Path) -> list[Path]:
    """The folders directly in `folder`, hidden ones left out, sorted."""
    return _visible(folder, Path.is_dir)


def _visible(folder: Path, keep) -> list[Path]:
    """The entries of `folder` that `keep` takes, hidden ones left out, sorted; none where the
    folder cannot be listed (gone, unreadable: a folder looked into while it changes)."""
    try:
        return sorted(p for p in folder.iterdir() if keep(p) and not p.name.startswith("."))
    except OSError:
        return []


def never_a_log(path: Path) -> bool:
    """A file no folder takes as a log: `NOT_LOGS`, `NOT_LOG_SUFFIXES` (but `EVALUATIONS_NPZ`),
    and W&B's console capture in its run folder (`WANDB_CONSOLE`)."""
    name = path.name
    return (name in NOT_LOGS
            or name.lower().endswith(NOT_LOG_SUFFIXES) and name != EVALUATIONS_NPZ
            or name == WANDB_CONSOLE and (path.parent.name == "files"
                                          or any((path.parent / f).is_file() for f in WANDB_FILES)))


def _is_log_candidate(path: Path) -> bool:
    name = path.name
    if never_a_log(path):
        return False
    return not (name.startswith(("tokenizer", "events.out.tfevents")) or name.endswith(".wandb"))


def log_files(folder: Path) -> list[Path]:
    """The files directly in `folder` that a reader recognises as a training log, a rotated
    part of another (`io.rotated`) read with it."""
    from phasewatch.io import sniff_format
    from phasewatch.io.rotated import without_rotated_parts

    found = []
    for path in [p for p in files_in(folder) if _is_log_candidate(p)][:MAX_FILES_SNIFFED]:
        try:
            module = sniff_format(path)
        except InputError:
            continue  # empty, unknown, an LFS pointer: not a log of this folder
        if module.FORMAT in ("native", "mlflow"):
            continue  # parts of a run folder, handled as folders
        if module.FORMAT == "trackio" and path.suffix == ".parquet" \
                and path.with_suffix(".db").is_file():
            continue  # Trackio's export of the project database beside it: the same runs
        if module.FORMAT == "notebook" and not module.holds_training(path):
            continue  # a tutorial, a data exploration: no training output shown
        found.append((path, module))
    return without_rotated_parts(found)
