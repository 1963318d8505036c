"""Opening and validating token stores: bad input gives clear errors or warnings naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phasewatch.errors import InputError
from phasewatch.tokens import SummaryConfig, TokenStoreWriter, open_store, summarize_store

SEQS = [
    {"id": "a", "split": "train", "length": 3},
    {"id": "b", "split": "train", "length": 2},
    {"id": "h", "split": "heldout", "length": 3},
]
N = 8


def make_store(tmp_path, steps=(0, 10, 20, 30), dtype="float16", seed=0):
    rng = np.random.default_rng(seed)
    folder = tmp_path / "run" / "expert_logprobs"
    with TokenStoreWriter(folder, SEQS, dtype) as writer:
        for step in steps:
            writer.append(step, -rng.exponential(1.0, N))
    return folder


def rewrite_index(folder, **changes):
    index = json.loads((folder / "index.json").read_text())
    index.update(changes)
    (folder / "index.json").write_text(json.dumps(index))


def test_open_run_folder_store_folder_or_index(tmp_path):
    folder = make_store(tmp_path)
    for path in (folder.parent, folder, folder / "index.json"):
        store = open_store(path)
        assert store.steps.tolist() == [0, 10, 20, 30]
        assert store.n_tokens == N
        assert store.splits == ["train", "heldout"]
        assert store.segments == [(0, 5, "train"), (5, 8, "heldout")]
        assert store.warnings == []


def test_logprobs_is_a_read_only_memory_map(tmp_path):
    folder = make_store(tmp_path)
    store = open_store(folder)
    window = store.logprobs(10, 2, 6)
    assert isinstance(window, np.memmap)
    full = np.load(folder / "step_00000010.npy", allow_pickle=False)
    np.testing.assert_array_equal(window, full[2:6])
    with pytest.raises(ValueError):
        window[0] = 0


def test_no_store_is_an_input_error(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(InputError, match="no expert log-prob store in this folder"):
        open_store(tmp_path / "run")
    log = tmp_path / "run" / "train.jsonl"
    log.write_text('{"step": 1, "loss": 0.5}\n')
    with pytest.raises(InputError, match="beside this file") as err:
        open_store(log)
    assert str(log) in str(err.value)  # the file given, not its folder


def test_truncated_step_file_is_skipped_with_a_warning_naming_it(tmp_path):
    folder = make_store(tmp_path)
    path = folder / "step_00000030.npy"
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    store = open_store(folder)
    assert store.steps.tolist() == [0, 10, 20]
    assert any("step_00000030.npy" in w and "truncated" in w for w in store.warnings)
    with pytest.raises(InputError, match="truncated") as info:
        open_store(folder, strict=True)
    assert "step_00000030.npy" in str(info.value)


def test_truncated_inside_the_header(tmp_path):
    folder = make_store(tmp_path, steps=(0,))
    path = folder / "step_00000000.npy"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(InputError, match="step_00000000.npy.*not a valid .npy"):
        open_store(folder)


def test_a_damaged_header_length_is_refused_without_reading_the_file(tmp_path):
    """A v2 header whose length field claims 4 GB: refused at once, not read through the
    step file (numpy's own 10,000-byte limit, before anything is read)."""
    import io
    import struct

    from phasewatch.tokens.npy_header import read_header

    class Counting(io.BytesIO):
        most = 0

        def read(self, n=-1):
            out = super().read(n)
            Counting.most = max(Counting.most, len(out))
            return out

    data = b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"x" * (8 << 20)
    with pytest.raises(ValueError, match="header"):
        read_header(Counting(data))
    assert Counting.most <= 12
    folder = make_store(tmp_path, steps=(0, 10))
    (folder / "step_00000010.npy").write_bytes(data)
    store = open_store(folder)
    assert store.steps.tolist() == [0]
    assert any("step_00000010.npy" in w and "header" in w for w in store.warnings)


def test_file_truncated_after_open_is_never_read_past_its_end(tmp_path):
    folder = make_store(tmp_path)
    store = open_store(folder)
    path = folder / "step_00000020.npy"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(InputError, match="truncated after the store was opened") as info:
        summarize_store(store)
    assert "step_00000020.npy" in str(info.value)


def test_index_that_disagrees_with_every_array(tmp_path):
    folder = make_store(tmp_path)
    rewrite_index(folder, n_tokens=N + 2)
    with pytest.raises(InputError, match=r"every step file disagrees with index.json \(n_tokens=10\)"):
        open_store(folder)


def test_one_array_of_the_wrong_length_is_skipped(tmp_path):
    folder = make_store(tmp_path)
    np.save(folder / "step_00000010.npy", np.full(N + 1, -1.0, np.float16))
    store = open_store(folder)
    assert store.steps.tolist() == [0, 20, 30]
    assert any("step_00000010.npy: skipped: holds 9 log-probs but index.json says n_tokens=8" in w
               for w in store.warnings)


@pytest.mark.parametrize(
    "sequences, message",
    [
        ([{"id": "a", "split": "train", "offset": 0, "length": 9}], "covers tokens"),
        ([{"id": "a", "split": "train", "offset": 0, "length": 5},
          {"id": "b", "split": "train", "offset": 4, "length": 2}], "overlap"),
        ([{"id": "a", "split": "valid", "offset": 0, "length": 5}], "split must be one of"),
        ([{"id": "a", "split": "train", "offset": -1, "length": 5}], "offset must be"),
        ([{"id": "a", "split": "train", "offset": True, "length": 5}], "offset must be"),
        ([{"id": "a", "split": "train", "offset": 0, "length": 5.0}], "offset must be"),
        ([{"id": "a", "split": ["train"], "offset": 0, "length": 5}], "split must be one of"),
        ([{"id": "a", "split": "train", "length": 5}], "offset must be"),
        ([["a", "train", 0, 5]], "sequence 0 is not an object"),
        ([{"id": "a", "split": "train", "offset": 0, "length": 2 ** 70}], "offset must be|covers"),
    ],
)
def test_inconsistent_sequences(tmp_path, sequences, message):
    folder = make_store(tmp_path)
    rewrite_index(folder, sequences=sequences)
    with pytest.raises(InputError, match=message) as info:
        open_store(folder)
    assert "index.json" in str(info.value)


def test_tokens_in_no_sequence_are_ignored_with_a_warning(tmp_path):
    folder = make_store(tmp_path)
    rewrite_index(folder, sequences=[{"id": "a", "split": "train", "offset": 2, "length": 4}])
    store = open_store(folder)
    assert any("4 of 8 tokens belong to no sequence" in w for w in store.warnings)
    summary = summarize_store(store)
    assert summary.rows["train"][0].n_tokens == 4
    x = np.load(folder / "step_00000000.npy").astype(np.float64)[2:6]
    assert summary.rows["train"][0].mean_logprob == pytest.approx(x.mean())


def test_missing_step_in_the_middle_is_a_warning(tmp_path):
    folder = make_store(tmp_path, steps=(0, 10, 20, 30, 40))
    (folder / "step_00000020.npy").unlink()
    store = open_store(folder)
    assert store.steps.tolist() == [0, 10, 30, 40]
    gaps = [w for w in store.warnings if "missing" in w]
    assert len(gaps) == 1 and "between step 10 and step 30" in gaps[0] and "step_00000020.npy" in gaps[0]


def test_irregular_schedule_is_not_called_a_gap(tmp_path):
    folder = make_store(tmp_path, steps=(0, 1, 2, 4, 8, 16, 32))
    assert not [w for w in open_store(folder).warnings if "missing" in w]


def test_float64_store_is_read_with_a_warning(tmp_path):
    folder = make_store(tmp_path, dtype="float32")
    rewrite_index(folder, dtype="float64")
    values = {}
    for path in folder.glob("step_*.npy"):
        x = np.load(path).astype(np.float64)
        np.save(path, x)
        values[path.name] = x
    store = open_store(folder)
    assert any("float64 is not part of the store format" in w for w in store.warnings)
    summary = summarize_store(store)
    x = values["step_00000000.npy"][:5]
    assert summary.rows["train"][0].mean_logprob == pytest.approx(x.mean(), rel=2 ** -8)


def test_float64_arrays_under_a_float16_index(tmp_path):
    folder = make_store(tmp_path)
    for path in folder.glob("step_*.npy"):
        np.save(path, np.load(path).astype(np.float64))
    with pytest.raises(InputError, match="holds float64 but index.json says dtype float16"):
        open_store(folder)


def test_unsupported_index_dtype(tmp_path):
    folder = make_store(tmp_path)
    rewrite_index(folder, dtype="int8")
    with pytest.raises(InputError, match="dtype must be one of float16, float32"):
        open_store(folder)


def test_object_array_is_never_unpickled(tmp_path):
    folder = make_store(tmp_path, steps=(0, 10))
    np.save(folder / "step_00000010.npy", np.array([{"x": 1}] * N, dtype=object), allow_pickle=True)
    store = open_store(folder)
    assert store.steps.tolist() == [0]
    assert any("step_00000010.npy: skipped: holds Python objects" in w for w in store.warnings)


def test_leftover_temporary_file_is_ignored(tmp_path):
    folder = make_store(tmp_path, steps=(0,))
    (folder / "step_00000010.npy.tmp").write_bytes(b"partial")
    store = open_store(folder)
    assert store.steps.tolist() == [0]
    assert any("unfinished write" in w for w in store.warnings)


def test_invalid_json_index_names_the_line(tmp_path):
    folder = make_store(tmp_path)
    (folder / "index.json").write_text('{\n "dtype": "float16",\n oops\n}')
    with pytest.raises(InputError) as info:
        open_store(folder)
    assert str(info.value).startswith(f"{folder / 'index.json'}:3:")


@pytest.mark.parametrize(
    "bad, kind",
    [(float("nan"), "NaN"), (0.25, "positive"), (float("-inf"), "infinite")],
)
@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_invalid_values_name_file_step_token_and_sequence(tmp_path, bad, kind, dtype):
    folder = make_store(tmp_path, dtype=dtype)
    path = folder / "step_00000020.npy"
    x = np.load(path)
    x[6] = bad  # sequence "h" (heldout), its token 1
    np.save(path, x)
    store = open_store(folder)
    with pytest.raises(InputError) as info:
        summarize_store(store, SummaryConfig(workers=1))
    message = str(info.value)
    assert message.startswith(str(path))
    assert f"step 20: token 6 (sequence 'h' (heldout) token 1) has a {kind} log-prob" in message


def test_many_gaps_are_summarised(tmp_path):
    folder = make_store(tmp_path, steps=range(0, 400, 10))
    for step in range(20, 400, 40):
        (folder / f"step_{step:08d}.npy").unlink()
    gaps = [w for w in open_store(folder).warnings if "gap" in w or "missing" in w]
    assert len(gaps) == 6 and gaps[-1] == "... and 5 more gaps in the step files"


def test_writer_rejects_bad_appends_and_leaves_no_partial_files(tmp_path):
    folder = tmp_path / "expert_logprobs"
    with TokenStoreWriter(folder, SEQS) as writer:
        writer.append(5, np.full(N, -1.0))
        with pytest.raises(ValueError, match="steps must increase"):
            writer.append(5, np.full(N, -1.0))
        with pytest.raises(ValueError, match="expected a 1-D array of 8"):
            writer.append(6, np.full(N + 1, -1.0))
        with pytest.raises(ValueError, match="finite and <= 0"):
            writer.append(7, np.r_[np.full(N - 1, -1.0), 0.5])
    assert sorted(p.name for p in folder.iterdir()) == ["index.json", "step_00000005.npy"]
    index = json.loads((folder / "index.json").read_text())
    assert index["n_tokens"] == N and [s["offset"] for s in index["sequences"]] == [0, 3, 5]


@pytest.mark.parametrize("seqs, message", [
    ([{"id": "a", "split": "test", "length": 3}], "split must be one of"),
    ([{"id": "a", "split": "train", "length": 0}], "length must be positive"),
    ([], "at least one sequence"),
])
def test_writer_rejects_bad_sequences(tmp_path, seqs, message):
    with pytest.raises(ValueError, match=message):
        TokenStoreWriter(tmp_path / "s", seqs)


def test_the_columnwise_index_check_agrees_with_the_entry_by_entry_one(tmp_path):
    """Valid indexes take the fast column-wise path (sorted by offset, same objects); anything
    it rejects is re-checked entry by entry for the message (the cases above)."""
    from phasewatch.tokens.store_index import sequences_checked, sequences_fast

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 5, 200)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    raw = [{"id": f"s{i}", "split": ("train", "heldout")[i % 2], "offset": int(o), "length": int(n)}
           for i, (o, n) in enumerate(zip(offsets, lengths))]
    shuffled = [raw[i] for i in rng.permutation(len(raw))]
    n_tokens = int(lengths.sum())
    fast = sequences_fast(shuffled, n_tokens)
    assert fast == sequences_checked(shuffled, n_tokens, tmp_path)
    assert [s.offset for s in fast] == offsets.tolist()
    overlapping = shuffled + [{"id": "x", "split": "train", "offset": 3, "length": 1}]
    assert sequences_fast(overlapping, n_tokens) is None
