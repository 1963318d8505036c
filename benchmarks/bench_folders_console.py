"""Reading what users have: HF console output, generic JSON documents, folders of many runs.

Prints one table: time to read (end to end, into a Run) against the bare parse of the same
content measured in the same run (`ast.literal_eval` per dict line; one `json.loads`), and the
time `folders.find_runs` takes to find every run in a tree of mixed formats.

    python benchmarks/bench_folders_console.py [--rows 50000] [--runs 300]
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import tempfile
import time
from pathlib import Path


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def write_console(path: Path, rows: int) -> None:
    with open(path, "w") as fh:
        fh.write("***** Running training *****\n  Num examples = 100,000\n")
        for i in range(rows):
            epoch = (i + 1) / 1000
            fh.write(f"\r {i % 100}%|####      | {i}/{rows} [00:10<01:00,  4.2it/s]"
                     f"{{'loss': '{1 / (i + 2):.4f}', 'grad_norm': '1.52', "
                     f"'learning_rate': '2e-05', 'epoch': '{epoch:.4f}'}}\n")
            if i % 10 == 0:
                fh.write(f"{{'eval_loss': '{0.5 + 1 / (i + 2):.4f}', 'eval_runtime': '3.2', "
                         f"'epoch': '{epoch:.4f}'}}\n")
            if i % 50 == 0:
                fh.write("Some warning printed by a library while training\n")


def write_json(path: Path, rows: int) -> None:
    doc = {"model": "x", "history": [{"step": s, "loss": 1 / (s + 1), "val_acc": s / rows}
                                     for s in range(rows)]}
    path.write_text(json.dumps(doc))


def write_tree(root: Path, runs: int) -> None:
    """Runs of four kinds, two or three levels down, beside files that are not logs."""
    for i in range(runs):
        kind = i % 4
        folder = root / f"group{i % 7}" / f"run{i:04d}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text('{"lr": 1}')
        if kind == 0:
            (folder / "metrics.jsonl").write_text('{"step": 1, "eval/accuracy": 0.5}\n')
        elif kind == 1:
            ckpt = folder / "checkpoint-100"
            ckpt.mkdir()
            (ckpt / "trainer_state.json").write_text('{"log_history": [{"step": 1, "loss": 1}]}')
        elif kind == 2:
            (folder / "trainer_log.jsonl").write_text('{"current_steps": 1, "loss": 1}\n')
        else:
            (folder / "train.log").write_text("step:1 - critic/score/mean:0.5\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    from phasewatch.folders import find_runs
    from phasewatch.io import read_run

    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        console = tmp / "nohup.out"
        write_console(console, args.rows)
        lines = console.read_text().splitlines()
        dicts = [m.group(0) for line in lines for m in [re.search(r"\{'.*\}", line)] if m]
        t_read = best_of(lambda: read_run(console))
        t_base = best_of(lambda: [ast.literal_eval(d) for d in dicts])
        n = len(dicts)
        rows_out.append(("hf_console read_run", f"{n:,} dict lines", t_read, t_base,
                         "ast.literal_eval of the dicts alone"))

        doc = tmp / "history.json"
        write_json(doc, args.rows)
        text = doc.read_text()
        t_read = best_of(lambda: read_run(doc))
        t_base = best_of(lambda: json.loads(text))
        rows_out.append(("generic_json read_run", f"{args.rows:,} records", t_read, t_base,
                         "json.loads of the document"))

        tree = tmp / "tree"
        write_tree(tree, args.runs)
        found = find_runs(tree)
        assert len(found) == args.runs, len(found)
        t_find = best_of(lambda: find_runs(tree))
        rows_out.append(("folders.find_runs", f"{args.runs} runs, 4 kinds", t_find, None, ""))

    print(f"{'what':<24} {'size':<18} {'time':>9} {'baseline':>9} {'ratio':>6}  baseline is")
    for what, size, t, base, note in rows_out:
        ratio = f"{t / base:.1f}x" if base else "-"
        base_s = f"{base:.3f} s" if base else "-"
        print(f"{what:<24} {size:<18} {t:>7.3f} s {base_s:>9} {ratio:>6}  {note}")


if __name__ == "__main__":
    main()
