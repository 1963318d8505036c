"""Stable-Baselines3's `EvalCallback` file `evaluations.npz`: the held-out evaluations of a run.

`EvalCallback(eval_env, log_path=DIR)` evaluates the policy every `eval_freq` steps on
`n_eval_episodes` episodes of its own environment and, after each evaluation, rewrites
`DIR/evaluations.npz` whole with `np.savez(path, timesteps=..., results=..., ep_lengths=...)`
(and `successes=...` where the environment reports `is_success`): `timesteps` the environment
steps taken at each evaluation, `results` and `ep_lengths` one row per evaluation of the
returns and lengths of its episodes. SB3 writes it by default beside its Monitor files, and
it is the one file of such a run that holds held-out results (`rollout/ep_rew_mean` is the
training episodes' running mean): `phasewatch analyze logs/evaluations.npz` stopped at "binary
content that is not a known log format".

Each evaluation is one record at its `timesteps`, under the names EvalCallback logs the same
numbers by (its logger's `eval/mean_reward`, `eval/mean_ep_length`, `eval/success_rate`: the
means over the evaluation's episodes), so the file and the run's TensorBoard or progress.csv
read alike. The arrays are read with `allow_pickle=False`: an array of Python objects (what
an old SB3 wrote for evaluations of different lengths) is refused, never unpickled.

SB3 before 1.2 summed each episode's rewards as the evaluation `VecEnv` returns them, arrays of
one reward per environment (`episode_reward += reward`), so where the environment is not wrapped
in a `Monitor` its `results` are (evaluations, episodes, 1) float32 beside `ep_lengths`
(evaluations, episodes): that last axis of one is its single environment's and is read away.
Any other shape is refused with what EvalCallback writes, not guessed at.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError
from phasewatch.files import open_regular
from phasewatch.io.rewritten import RewrittenFileSource
from phasewatch.io.source import Record, collect
from phasewatch.run import Run

FORMAT = "sb3_evaluations"
ZIP_MAGIC = b"PK\x03\x04"
REQUIRED = frozenset({"timesteps.npy", "results.npy"})
# (array in the file, the name EvalCallback logs its per-evaluation mean by)
MEANS = (("results", "eval/mean_reward"), ("ep_lengths", "eval/mean_ep_length"),
         ("successes", "eval/success_rate"))


def sniff(path: Path, head: bytes) -> bool:
    if not path.is_file() or not head.startswith(ZIP_MAGIC):
        return False
    try:
        with open_regular(path) as fh, zipfile.ZipFile(fh) as archive:
            return REQUIRED <= set(archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def parse(path: Path) -> tuple[list[Record], dict[str, Any]]:
    """The records of the file and its config (`n_eval_episodes`); InputError where it is not
    EvalCallback's arrays."""
    import numpy as np

    try:
        with open_regular(path) as fh, np.load(fh, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputError("an array of Python objects (pickled; what an old Stable-Baselines3 "
                             "wrote for evaluations of different lengths): phasewatch does "
                             "not unpickle; save the means with np.savez and numbers only",
                             path) from None
        raise InputError(f"not a readable .npz file ({exc})", path) from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise InputError(f"not a readable .npz file ({exc})", path) from None
    steps = arrays["timesteps"]
    if steps.ndim != 1 or steps.dtype.kind not in "iuf":
        raise InputError(f"'timesteps' is not a list of steps (shape {steps.shape}, dtype "
                         f"{steps.dtype}): not EvalCallback's evaluations file", path)
    arrays = {name: _one_env_axis_read_away(values, arrays.get("ep_lengths"))
              for name, values in arrays.items()}
    means: dict[str, Any] = {}
    for array, name in MEANS:
        values = arrays.get(array)
        if values is None or values.size == 0:
            continue
        if values.dtype.kind not in "biuf" or values.ndim not in (1, 2) or \
                len(values) != len(steps):
            raise InputError(f"'{array}' holds {values.shape} {values.dtype} values for "
                             f"{len(steps)} evaluations: not EvalCallback's evaluations file "
                             f"(it writes numbers of shape ({len(steps)},) or ({len(steps)}, "
                             "episodes), or a results of (evaluations, episodes, 1) beside "
                             "ep_lengths of (evaluations, episodes))", path)
        means[name] = values.astype(float).reshape(len(steps), -1).mean(axis=1)
    records = [Record(int(step), {name: float(column[i]) for name, column in means.items()})
               for i, step in enumerate(steps)]
    config = {"n_eval_episodes": int(arrays["results"].reshape(len(steps), -1).shape[1])} \
        if len(steps) else {}
    return records, config


def _one_env_axis_read_away(values: Any, lengths: Any) -> Any:
    """`values` without a last axis of one where the rest is `ep_lengths`' (evaluations,
    episodes): an SB3 before 1.2 summed a one-environment VecEnv's rewards as arrays of one.
    Without `ep_lengths` to match, or with any other shape, `values` is returned as it is."""
    if lengths is None or values.ndim != 3 or values.shape[-1] != 1 or \
            values.shape[:-1] != lengths.shape:
        return values
    return values[..., 0]


class Source(RewrittenFileSource):
    """The whole file, read again when it is rewritten (each evaluation rewrites it)."""

    format = FORMAT

    def __init__(self, path: Path, follow: bool = False, notice=None):
        super().__init__(path, follow)
        self.info.performance_metric, self.info.direction = "eval/mean_reward", "max"

    def read(self, final: bool = True):
        strict = final or not self.follow
        try:
            if (stamp := self.stamp()) is None:
                return
            records, config = parse(self.path)
        except (OSError, InputError) as exc:
            if not strict:
                return  # caught mid-write: read again when it changes
            if isinstance(exc, InputError):
                raise
            raise InputError(f"cannot read: {exc.strerror or exc}", self.path) from exc
        self.info.config.update(config)
        yield from self.fresh(stamp, records)

    def finish(self, collector) -> None:
        if collector.n_records == 0:
            raise InputError("no evaluation in this evaluations.npz (EvalCallback writes the "
                             "file at its first evaluation)", self.path)


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
