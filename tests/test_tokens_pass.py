"""The summary pass, compiled (`_count.c` via `fused`) and numpy (`numpy_pass`): the same numbers
as a plain numpy computation and as each other, whatever the threads and windows; errors that
name the file, step and token; no numpy import on the `tokens` command's compiled path."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from test_tokens_summary import fragmented_store

from phasewatch.errors import InputError
from phasewatch.tokens import SummaryConfig, TokenStoreWriter, open_store, summarize_store
from phasewatch.tokens.fused import compiled_available, resolve
from phasewatch.tokens.npy_header import _numpy_header, read_header

QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95]
KERNELS = ["numpy", pytest.param("compiled", marks=pytest.mark.skipif(
    not compiled_available(), reason="the compiled pass is not built (no C compiler at install time)"))]
needs_compiled = pytest.mark.skipif(not compiled_available(), reason="the compiled pass is not built")
EXACT = ("n_tokens", "mean_logprob", "p_quantiles", "divergent_share", "mastered_share",
         "newly_learned_share", "learned_share")
ROUNDED = ("logprob_std", "mean_phi", "mean_binary_entropy", "divergent_nll")


def interleaved_store(tmp_path, dtype="float16", n_steps=4, seed=11):
    """Every fifth sequence held out (the benchmark's layout); the values as stored, in float64."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(50, 400, 500)
    splits = np.array(["heldout" if i % 5 == 4 else "train" for i in range(lengths.size)])
    seqs = [{"id": f"s{i}", "split": str(s), "length": int(n)} for i, (s, n) in enumerate(zip(splits, lengths))]
    folder = tmp_path / "expert_logprobs"
    arrays = []
    with TokenStoreWriter(folder, seqs, dtype) as writer:
        for step in range(n_steps):
            x = -rng.exponential(1.5 / (1 + step), int(lengths.sum()))
            x[rng.random(x.size) < 0.01] = 0.0  # p = 1 exactly: the +0 key
            writer.append(step, x)
            arrays.append(x.astype(dtype).astype(np.float64))
    return folder, arrays, np.repeat(splits == "train", lengths)


def assert_same_summary(a, b, exact=EXACT):
    """Integers, means, quantiles and shares bit for bit; sums of transcendental tables to
    float64 rounding (C and numpy add them in different orders)."""
    assert a.steps == b.steps and a.learned_at == b.learned_at
    for split in a.rows:
        for x, y in zip(a.rows[split], b.rows[split], strict=True):
            for name in exact:
                assert getattr(x, name) == getattr(y, name), (split, x.step, name)
            for name in ROUNDED + tuple(n for n in EXACT if n not in exact):
                assert getattr(x, name) == pytest.approx(getattr(y, name), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("workers", [1, 2])
def test_interleaved_store_matches_a_plain_numpy_reference(tmp_path, kernel, workers):
    """Against boolean-mask numpy on the same values: n, mean, quantiles and shares bit for bit,
    std and phi to float64 rounding."""
    folder, arrays, mask = interleaved_store(tmp_path)
    summary = summarize_store(open_store(folder), SummaryConfig(workers=workers, chunk_tokens=4096, kernel=kernel))
    for i, x in enumerate(arrays):
        for split, m in (("train", mask), ("heldout", ~mask)):
            row, v = summary.rows[split][i], x[m]
            p = np.exp(v)
            assert row.n_tokens == v.size
            assert row.mean_logprob == v.mean()
            assert list(row.p_quantiles.values()) == np.quantile(p, QUANTILES).tolist()
            assert row.divergent_share == np.mean(p < 0.05) and row.mastered_share == np.mean(p > 0.95)
            assert row.logprob_std == pytest.approx(v.std(), rel=1e-13)
            assert row.mean_phi == pytest.approx(np.mean(p * (1 - p)), rel=1e-13)


@needs_compiled
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_compiled_and_numpy_passes_agree(tmp_path, dtype):
    folder, _, _ = interleaved_store(tmp_path, dtype="float32" if dtype == "float64" else dtype)
    if dtype == "float64":  # tolerated: rewrite as float64 under a float64 index
        import json

        index = json.loads((folder / "index.json").read_text())
        (folder / "index.json").write_text(json.dumps({**index, "dtype": "float64"}))
        for path in folder.glob("step_*.npy"):
            np.save(path, np.load(path).astype(np.float64) * 1.0001)
    store = open_store(folder)
    runs = {kernel: summarize_store(store, SummaryConfig(chunk_tokens=333, workers=2, kernel=kernel))
            for kernel in ("numpy", "compiled")}
    # float16 quantiles come from one exp table; wider types call exp per value, and numpy's
    # SIMD exp may differ from the C library's in the last bit on some CPUs (AVX-512)
    exact = EXACT if dtype == "float16" else tuple(n for n in EXACT if n != "p_quantiles")
    assert_same_summary(runs["compiled"], runs["numpy"], exact)


@needs_compiled
@pytest.mark.parametrize("chunk_tokens, workers", [(1 << 20, 1), (64, 1), (37, 2), (500, 3), (9, 4)])
def test_threads_and_windows_give_exactly_the_same_numbers(tmp_path, chunk_tokens, workers):
    """Counts are integers merged across threads: every number, rounded ones included, is the
    same as one thread reading the whole step at once."""
    folder, _, _ = fragmented_store(tmp_path)
    store = open_store(folder)
    alone = summarize_store(store, SummaryConfig(workers=1, chunk_tokens=1 << 20))
    other = summarize_store(store, SummaryConfig(workers=workers, chunk_tokens=chunk_tokens))
    assert other.rows == alone.rows and other.learned_at == alone.learned_at


@needs_compiled
def test_counts_merged_before_32_bits_could_wrap_give_the_same_result(tmp_path):
    """A thread merges its 32-bit counts every 2**32 - 1 tokens; lowered to 100 here (the window of
    7 tokens is rounded up to 64: whole words of the learned-at bits)."""
    from phasewatch.tokens import _count
    from phasewatch.tokens.fused import FusedPass

    folder, _, _ = fragmented_store(tmp_path)
    store = open_store(folder)
    config = SummaryConfig()
    results = []
    for flush in (None, 100):
        engine = FusedPass(store, config, True, 2)
        args = (engine.tables, str(store.files[2].path), store.files[2].data_offset, store.n_tokens,
                engine.ends, engine.slots, engine.seen, engine.ranks, 2, 7)
        results.append((_count.step(*args) if flush is None else _count.step(*args, flush), bytes(engine.seen)))
    assert results[0] == results[1]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("bad", [1.0, float("nan"), float("-inf")])
def test_the_first_bad_value_is_named_whatever_the_threads(tmp_path, kernel, bad):
    rng = np.random.default_rng(3)
    folder = tmp_path / "expert_logprobs"
    seqs = [{"id": f"s{i}", "split": "train" if i % 2 else "heldout", "length": 7} for i in range(300)]
    with TokenStoreWriter(folder, seqs) as writer:
        for step in range(5):
            writer.append(step, -rng.exponential(1.0, 2100))
    for step, tokens in ((3, (1234, 1900)), (4, (10,))):
        path = folder / f"step_{step:08d}.npy"
        x = np.load(path)
        x[list(tokens)] = bad  # step 3: in the second half (the second thread's), met first
        np.save(path, x)
    store = open_store(folder)
    messages = set()
    for workers in (1, 2):
        with pytest.raises(InputError) as info:
            summarize_store(store, SummaryConfig(workers=workers, chunk_tokens=256, kernel=kernel))
        assert info.value.path == str(folder / "step_00000003.npy")
        assert "step 3: token 1234 (sequence 's176' (heldout) token 2)" in str(info.value)
        assert "(1 such values in tokens [1024, 1280) of this file)" in str(info.value)
        messages.add(str(info.value))
    assert len(messages) == 1


@pytest.mark.parametrize("kernel", KERNELS)
def test_a_file_truncated_after_open_is_named(tmp_path, kernel):
    folder, _, _ = fragmented_store(tmp_path)
    store = open_store(folder)
    path = folder / "step_00000015.npy"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(InputError, match="truncated after the store was opened") as info:
        summarize_store(store, SummaryConfig(workers=2, chunk_tokens=100, kernel=kernel))
    assert info.value.path == str(path)


@needs_compiled
@pytest.mark.parametrize("case", ["runs short", "slot too large", "runs not ascending", "seen short",
                                  "seen read-only", "ranks not tuples", "rank too large", "threads 0",
                                  "flush below window", "tables", "missing file"])
def test_the_compiled_step_rejects_bad_arguments(tmp_path, case):
    from phasewatch.tokens import _count

    path = tmp_path / "x.npy"
    np.save(path, np.full(100, -1.0, dtype=np.float16))
    tables = _count.tables(2, 0.05, 0.95, 0.5, 30.0)
    args = {"tables": tables, "path": str(path), "offset": 128, "n": 100,
            "ends": np.array([40, 100], dtype=np.int64), "slots": np.array([0, 1], dtype=np.uint8),
            "seen": bytearray(16), "ranks": ((0, 39), (59,)), "threads": 2, "window": 16}
    error: type[Exception] | tuple = ValueError
    if case == "runs short":
        args["ends"] = np.array([40, 99], dtype=np.int64)
    elif case == "slot too large":
        args["slots"] = np.array([0, 2], dtype=np.uint8)
    elif case == "runs not ascending":
        args["ends"] = np.array([100, 100], dtype=np.int64)
    elif case == "seen short":
        args["seen"] = bytearray(15)  # 100 tokens need two 64-bit words
    elif case == "seen read-only":
        args["seen"], error = bytes(16), (TypeError, BufferError)
    elif case == "ranks not tuples":
        args["ranks"], error = ([0], (59,)), TypeError
    elif case == "rank too large":
        args["ranks"] = ((0, 40), (59,))
    elif case == "threads 0":
        args["threads"] = 0
    elif case == "flush below window":
        args["flush"] = 8
    elif case == "tables":
        args["tables"], error = b"x" * 10, TypeError
    elif case == "missing file":
        args["path"], error = str(tmp_path / "gone.npy"), FileNotFoundError
    with pytest.raises(error):
        _count.step(*args.values())


def test_resolve_names_the_kernels():
    assert resolve("numpy") == "numpy"
    assert resolve("auto") == ("compiled" if compiled_available() else "numpy")
    with pytest.raises(ValueError, match="kernel must be one of"):
        resolve("fortran")
    if not compiled_available():
        with pytest.raises(ValueError, match="not built"):
            resolve("compiled")


@needs_compiled
def test_the_tokens_command_imports_no_numpy(tmp_path):
    folder, _, _ = fragmented_store(tmp_path)
    code = ("import sys; from phasewatch.cli import main; code = main(['tokens', sys.argv[1], '--format', "
            "'json']); sys.stdout.flush(); assert code == 0; print('numpy' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "False"
    assert '"schema_version": 1' in out.stdout


@pytest.mark.parametrize("array", [
    np.zeros(5, np.float16), np.zeros(123456789 // 1000, np.float32), np.zeros(3, np.float64),
    np.zeros(0, np.float16), np.zeros(4, ">f2"), np.zeros(4, np.int32), np.zeros((2, 3), np.float16),
    np.zeros(4, dtype=[("a", "<f2")]),
])
@pytest.mark.parametrize("version", [(1, 0), (2, 0)])
def test_npy_header_reads_what_numpy_reads(array, version):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version)
    buffer.seek(0)
    ours = read_header(buffer)
    buffer.seek(0)
    assert ours == _numpy_header(buffer)
    if array.dtype.kind == "f" and array.dtype.isnative and array.ndim == 1:
        assert ours.dtype_name == array.dtype.name and ours.shape == array.shape and ours.native
        assert ours.data_offset == len(buffer.getvalue()) - array.nbytes


def test_npy_header_of_another_writer_goes_to_numpy():
    """Spacing numpy never writes: parsed by numpy's own reader (literals only)."""
    text = "{'shape': (3,), 'fortran_order': False, 'descr': '<f2'}"
    header = text.ljust(117) + "\n"
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 6
    parsed = read_header(io.BytesIO(data))
    assert parsed.dtype_name == "float16" and parsed.shape == (3,) and parsed.data_offset == 128
