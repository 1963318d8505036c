"""Opening an expert log-prob store: parse, validate, and memory-map it without reading the data.

`open_store(path)` checks everything that can be checked from the index and the `.npy` headers
(cheap, whatever the store's size): index fields, sequences inside `n_tokens` and not overlapping,
each step file's dtype and length against the index, and each file's size against what its header
says (a truncated file is never mapped past its end). Values (NaN, positive log-probs) are checked
while the summary pass streams over them (`phasewatch.tokens.summary`), since that pass reads every
value anyway. The index itself is parsed and validated by `phasewatch.tokens.store_index`.

Damaged step files are skipped with a warning naming the file (what is valid is still read), unless
`strict=True`; a store with no valid step file is an `InputError`.

Opening imports no numpy (the `tokens` command's compiled path needs none; numpy's import is
half of the command's fixed cost): numpy is imported only for what returns arrays
(`logprobs`, `steps`, `dtype`) and to parse an unusual `.npy` header (`npy_header`).
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from phasewatch.errors import InputError
from phasewatch.files import open_regular
from phasewatch.tokens.layout import DTYPES, INDEX_FILE, SPLITS
from phasewatch.tokens.npy_header import read_header
from phasewatch.tokens.store_index import TOLERATED_DTYPES, SequenceInfo, parse_index

if TYPE_CHECKING:
    import numpy as np

STORE_DIR = "expert_logprobs"
STEP_PATTERN = re.compile(r"^step_(\d+)\.npy$")
ITEMSIZE = {"float16": 2, "float32": 4, "float64": 8}
MAX_GAP_WARNINGS = 5


@dataclass(frozen=True)
class StepFile:
    """A validated step file: where its data starts and how it is stored."""

    step: int
    path: Path
    data_offset: int
    dtype_name: str
    itemsize: int

    @property
    def dtype(self) -> np.dtype:
        import numpy as np

        return np.dtype(self.dtype_name)


@dataclass
class TokenStore:
    """A validated, memory-mappable expert log-prob store (see DESIGN.md "Native run folder").

    `steps` are ascending; `files[i]` holds step `steps[i]`. `segments` are the maximal
    contiguous token ranges `(start, end, split)` whose sequences share a split, in token order;
    tokens covered by no sequence belong to no segment and are ignored by the summaries.
    """

    folder: Path
    dtype_name: str
    n_tokens: int
    sequences: list[SequenceInfo]
    files: list[StepFile]
    warnings: list[str] = field(default_factory=list)

    @property
    def dtype(self) -> np.dtype:
        import numpy as np

        return np.dtype(self.dtype_name)

    @property
    def steps(self) -> np.ndarray:
        import numpy as np

        return np.asarray([f.step for f in self.files], dtype=np.int64)

    @property
    def n_steps(self) -> int:
        return len(self.files)

    @property
    def splits(self) -> list[str]:
        """Splits present, in the canonical order (train, heldout)."""
        present = {s.split for s in self.sequences}
        return [s for s in SPLITS if s in present]

    @cached_property
    def segments(self) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        for seq in self.sequences:
            if out and out[-1][2] == seq.split and out[-1][1] == seq.offset:
                out[-1] = (out[-1][0], seq.end, seq.split)
            else:
                out.append((seq.offset, seq.end, seq.split))
        return out

    def split_tokens(self, split: str) -> int:
        return sum(s.length for s in self.sequences if s.split == split)

    def split_sequences(self, split: str) -> int:
        return sum(1 for s in self.sequences if s.split == split)

    def file_for(self, step: int) -> StepFile:
        found = self._by_step.get(int(step))
        if found is None:
            raise KeyError(f"no step {step} in the store (steps: {self.steps[:5].tolist()}...)")
        return found

    @cached_property
    def _offsets(self) -> list[int]:
        return [s.offset for s in self.sequences]

    @cached_property
    def _by_step(self) -> dict[int, StepFile]:
        return {f.step: f for f in self.files}

    def logprobs(self, step: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Read-only memory map of the log-probs of tokens `[start, stop)` at `step`.

        Only that window is mapped, so a caller streaming a huge file keeps its memory bounded.
        """
        return map_window(self.file_for(step), self.n_tokens, start, stop)

    def locate(self, token: int) -> tuple[SequenceInfo | None, int]:
        """The sequence holding a global token position, and the position inside it."""
        i = bisect.bisect_right(self._offsets, token) - 1
        if i >= 0 and token < self.sequences[i].end:
            return self.sequences[i], token - self.sequences[i].offset
        return None, token


def map_window(file: StepFile, n_tokens: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    import numpy as np

    stop = n_tokens if stop is None else stop
    if not 0 <= start <= stop <= n_tokens:
        raise IndexError(f"token window [{start}, {stop}) outside [0, {n_tokens})")
    if stop == start:
        return np.zeros(0, dtype=file.dtype)
    try:
        return np.memmap(
            file.path, dtype=file.dtype, mode="r",
            offset=file.data_offset + start * file.itemsize, shape=(stop - start,),
        )
    except (OSError, ValueError) as exc:
        # mmap refuses a window past the end: the file shrank after open_store checked it.
        raise InputError(
            f"cannot map tokens [{start}, {stop}) ({exc}); the file changed or was truncated "
            "after the store was opened", file.path,
        ) from exc


def store_folder(path: str | Path) -> Path:
    """The store folder for a run folder (or a file in it), a store folder, or its index.json."""
    given = Path(path)
    if given.is_file() and given.name == INDEX_FILE:
        return given.parent
    # a file in a run folder (RUN/metrics.jsonl): the store of that run folder
    folder = given.parent if given.is_file() else given
    if (folder / INDEX_FILE).is_file():
        return folder
    if (folder / STORE_DIR / INDEX_FILE).is_file():
        return folder / STORE_DIR
    if not given.exists():
        raise InputError("no such file or folder", given)
    where = "beside this file" if given.is_file() else "in this folder"
    raise InputError(
        f"no expert log-prob store {where}: expected {STORE_DIR}/{INDEX_FILE} in the run folder "
        f"(or {INDEX_FILE} in the given folder); write one with phasewatch.tokens.TokenStoreWriter",
        given,
    )


def open_store(path: str | Path, strict: bool = False) -> TokenStore:
    """Open and validate a store. `path` is a run folder, its expert_logprobs/ folder, or index.json.

    Raises `InputError` for an unusable index or when no step file is valid. Damaged step files
    (truncated, wrong length or dtype, not a .npy) are skipped with a warning, or raise with
    `strict=True`. Gaps in the step sequence and float64 data give warnings.
    """
    folder = store_folder(path)
    warnings: list[str] = []
    index_path = folder / INDEX_FILE
    dtype, n_tokens, sequences = parse_index(index_path, warnings)

    step_paths = _list_step_files(folder, warnings)
    if not step_paths:
        raise InputError(
            f"the store has no step files (expected step_%08d.npy next to {INDEX_FILE})", folder
        )
    files: list[StepFile] = []
    problems: list[tuple[Path, str]] = []
    for step, file_path in step_paths:
        try:
            files.append(_check_step_file(step, file_path, dtype, n_tokens))
        except _BadStepFile as exc:
            if strict:
                raise InputError(str(exc), file_path) from None
            problems.append((file_path, str(exc)))
    if not files:
        raise InputError(_no_valid_file_message(problems, n_tokens, index_path), problems[0][0])
    for file_path, reason in problems:
        warnings.append(f"{file_path.name}: skipped: {reason}")
    warnings.extend(_gap_warnings([f.step for f in files]))
    if dtype in TOLERATED_DTYPES:
        warnings.append(
            f"{INDEX_FILE}: dtype {dtype} is not part of the store format (float16 or float32); "
            "read anyway, at 4x the disk and I/O of float16: write stores as float16"
        )
    return TokenStore(folder, dtype, n_tokens, sequences, files, warnings)


# ------------------------------------------------------------------ step files
def _list_step_files(folder: Path, warnings: list[str]) -> list[tuple[int, Path]]:
    found: dict[int, Path] = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        match = STEP_PATTERN.match(entry.name)
        if match is None:
            if entry.name.endswith(".npy.tmp"):
                warnings.append(f"{entry.name}: ignored (an unfinished write)")
            continue
        if len(match.group(1)) > 16:  # beyond any real step (and int64): not ours
            warnings.append(f"{entry.name[:40]}...: ignored, the step in its name is too large")
            continue
        step = int(match.group(1))
        if step in found:
            warnings.append(f"{entry.name}: ignored, step {step} is already in {found[step].name}")
            continue
        found[step] = Path(entry.path)
    return sorted(found.items())


class _BadStepFile(Exception):
    pass


def _check_step_file(step: int, path: Path, dtype: str, n_tokens: int) -> StepFile:
    """Parse the .npy header (never the data) and check it against the index and the file size."""
    try:
        size = path.stat().st_size
        with open_regular(path) as fh:  # a FIFO named step_*.npy is refused, not waited on
            header = read_header(fh)
    except OSError as exc:
        raise _BadStepFile(f"cannot read: {exc}") from exc
    except InputError as exc:
        raise _BadStepFile(exc.message) from exc
    except (ValueError, SyntaxError, EOFError) as exc:
        raise _BadStepFile(f"not a valid .npy file ({exc})") from exc
    file_dtype, shape, data_offset = header.dtype_name, header.shape, header.data_offset
    if header.has_object:
        raise _BadStepFile("holds Python objects; only float16/float32 arrays are read")
    if header.kind != "f" or file_dtype not in DTYPES + TOLERATED_DTYPES:
        raise _BadStepFile(f"holds {file_dtype}, not a float16/float32 array")
    if file_dtype != dtype:
        raise _BadStepFile(f"holds {file_dtype} but {INDEX_FILE} says dtype {dtype}")
    if not header.native:
        raise _BadStepFile("holds a big-endian array; write it with np.save on this machine")
    if len(shape) != 1:
        raise _BadStepFile(f"holds an array of shape {shape}; expected 1-D ({n_tokens},)")
    if shape[0] != n_tokens:
        raise _BadStepFile(
            f"holds {shape[0]} log-probs but {INDEX_FILE} says n_tokens={n_tokens}"
        )
    itemsize = ITEMSIZE[file_dtype]
    needed = data_offset + n_tokens * itemsize
    if size < needed:
        raise _BadStepFile(
            f"truncated: {size} bytes, its header needs {needed} "
            f"({n_tokens} x {file_dtype} after a {data_offset}-byte header)"
        )
    return StepFile(step, path, data_offset, file_dtype, itemsize)


def _no_valid_file_message(problems: list[tuple[Path, str]], n_tokens: int, index: Path) -> str:
    first_path, first_reason = problems[0]
    if len(problems) > 1 and all("log-probs but" in reason for _, reason in problems):
        return (
            f"every step file disagrees with {index.name} (n_tokens={n_tokens}): {first_reason}; "
            "fix n_tokens/sequences in the index or rewrite the store"
        )
    more = f" (and {len(problems) - 1} more damaged step files)" if len(problems) > 1 else ""
    return f"no valid step file; {first_path.name}: {first_reason}{more}"


def _gap_warnings(steps: list[int]) -> list[str]:
    """Missing steps in a regular cadence: most differences equal one value, some are multiples.

    A store saved on an irregular schedule (e.g. log-spaced) has no cadence, so no gap is claimed.
    """
    if len(steps) < 3:
        return []
    diffs = [b - a for a, b in itertools.pairwise(steps)]
    counts = Counter(diffs)
    most = max(counts.values())
    cadence = min(d for d, c in counts.items() if c == most)  # the smallest of the most frequent
    if most < 0.5 * len(diffs):
        return []
    out = []
    gaps = [i for i, d in enumerate(diffs) if d > cadence and d % cadence == 0]
    for i in gaps[:MAX_GAP_WARNINGS]:
        a, b = steps[i], steps[i + 1]
        n_missing = (b - a) // cadence - 1
        out.append(
            f"step files missing between step {a} and step {b}: {n_missing} expected at a cadence "
            f"of {cadence} (e.g. step_{a + cadence:08d}.npy)"
        )
    if len(gaps) > MAX_GAP_WARNINGS:
        out.append(f"... and {len(gaps) - MAX_GAP_WARNINGS} more gaps in the step files")
    return out
