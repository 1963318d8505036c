"""Writing an expert log-prob store, for the reference trainer and for other trainers.

A TRL or verl user can produce the same store phasewatch reads:

    from phasewatch.tokens import TokenStoreWriter
    seqs = [{"id": "ex0", "split": "train", "length": 12}, {"id": "ex1", "split": "heldout", "length": 9}]
    with TokenStoreWriter("RUN/expert_logprobs", seqs) as writer:
        for step in eval_steps:
            writer.append(step, logprobs)   # 1-D: token t of each sequence given its prefix, concatenated

Each step file is written to a temporary name and renamed into place, so a reader watching the
folder never sees half an array.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from phasewatch.tokens.layout import DTYPES, INDEX_FILE, SPLITS, STEP_FILE

__all__ = ["DTYPES", "INDEX_FILE", "SPLITS", "STEP_FILE", "TokenStoreWriter"]


class TokenStoreWriter:
    """Appends one step's per-token log-probs at a time to a store folder.

    `resume=True` continues a store an interrupted run left behind: if the folder's index
    describes the same sequences and dtype, it is kept and `last_step` is the last complete step
    file (leftover `.tmp` files of an unfinished write are removed); a different index is an
    error rather than a silent mix of two probe sets. Without `resume` the index is rewritten.
    """

    def __init__(self, folder: str | Path, sequences: Iterable[Mapping[str, Any]], dtype: str = "float16",
                 resume: bool = False):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        self.folder = Path(folder)
        self.dtype = np.dtype(dtype)
        self.sequences: list[dict[str, Any]] = []
        offset = 0
        for i, seq in enumerate(sequences):
            split = seq.get("split")
            length = int(seq["length"])
            if split not in SPLITS:
                raise ValueError(f"sequence {i}: split must be one of {SPLITS}, got {split!r}")
            if length <= 0:
                raise ValueError(f"sequence {i}: length must be positive, got {length}")
            self.sequences.append({"id": str(seq.get("id", i)), "split": split, "offset": offset, "length": length})
            offset += length
        if not self.sequences:
            raise ValueError("a token store needs at least one sequence")
        self.n_tokens = offset
        self._last_step: int | None = None
        self.folder.mkdir(parents=True, exist_ok=True)
        index = {"schema_version": 1, "dtype": dtype, "n_tokens": self.n_tokens, "sequences": self.sequences}
        if resume and (self.folder / INDEX_FILE).is_file():
            self._resume(index)
        else:
            _atomic_write_bytes(self.folder / INDEX_FILE, _index_json(index).encode())

    @property
    def last_step(self) -> int | None:
        """The last step written (or found complete when resuming), None before any."""
        return self._last_step

    def _resume(self, index: dict[str, Any]) -> None:
        path = self.folder / INDEX_FILE
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot resume, the index is unreadable ({exc})") from None
        same = (isinstance(old, dict) and old.get("dtype") == index["dtype"]
                and old.get("n_tokens") == index["n_tokens"] and old.get("sequences") == index["sequences"])
        if not same:
            raise ValueError(f"{path}: cannot resume, this store holds other sequences or another dtype; "
                             "write to a new folder (or delete this store)")
        steps = []
        for entry in os.scandir(self.folder):
            if entry.name.endswith(".npy.tmp"):
                os.unlink(entry.path)  # an unfinished write of the interrupted run
            elif entry.name.startswith("step_") and entry.name.endswith(".npy"):
                try:
                    steps.append(int(entry.name[5:-4]))
                except ValueError:
                    continue
        self._last_step = max(steps) if steps else None

    def append(self, step: int, logprobs: np.ndarray) -> Path:
        """Store the log-probs of every expert token under the policy at `step`."""
        step = int(step)
        if self._last_step is not None and step <= self._last_step:
            raise ValueError(f"steps must increase: got {step} after {self._last_step}")
        array = np.asarray(logprobs)
        if array.shape != (self.n_tokens,):
            raise ValueError(f"expected a 1-D array of {self.n_tokens} log-probs, got shape {array.shape}")
        array = array.astype(self.dtype)
        if not np.all(np.isfinite(array)) or np.any(array > 0):
            raise ValueError("log-probs must be finite and <= 0 (after conversion to the store's dtype)")
        path = self.folder / STEP_FILE.format(step)
        tmp = path.with_suffix(".npy.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        os.replace(tmp, path)
        self._last_step = step
        return path

    def close(self) -> None:
        """Nothing is buffered; kept so the writer works as a context manager."""

    def __enter__(self) -> TokenStoreWriter:  # noqa: PYI034 (typing.Self needs 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _index_json(index: dict[str, Any]) -> str:
    """The index as JSON with one sequence per line: readable, and written by the C encoder
    (`indent=` falls back to the pure-Python one, ~20 us per sequence)."""
    head = json.dumps({k: v for k, v in index.items() if k != "sequences"})
    rows = ",\n  ".join(map(json.dumps, index["sequences"]))
    return head[:-1] + ', "sequences": [\n  ' + rows + "\n]}\n"


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
