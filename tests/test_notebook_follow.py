"""`watch --follow` on a notebook: Jupyter rewrites the whole `.ipynb` at each save, and only the
steps after those already read are fed to the monitor (as for trainer_state.json)."""

from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("nbformat")
pytest.importorskip("transformers.utils.notebook")

from notebook_books import html_output, result, train_output, trainer_html, write_book
from test_notebook_reader import SUMMARY, curve_rows
from watch_follower import Follower, assert_same, replay


def save(path, html, outputs=()):
    """As Jupyter saves: the whole notebook written to a temporary file and moved over it."""
    tmp = path.with_name(f".~{path.name}")
    write_book(tmp, ["# run", ("trainer.train()", [html_output(html), *outputs])])
    os.replace(tmp, path)


def test_a_notebook_saved_as_the_table_grows_feeds_only_new_steps(tmp_path, monkeypatch):
    path = tmp_path / "finetune.ipynb"
    rows = curve_rows()
    follower = Follower(path, stop_on=())
    follower.wait_for_message("does not exist yet")
    write_book(path, ["# run", ("trainer.train()", [])])  # saved before training started
    for upto in range(20, len(rows), 40):
        save(path, trainer_html(monkeypatch, rows[:upto], max_steps=3000, finished=False))
        time.sleep(0.05)
    final = trainer_html(monkeypatch, rows, max_steps=3000)
    save(path, final, [result(train_output(rows[-1][0], 0.45, SUMMARY))])
    followed = follower.ends_by_itself()
    replayed, result_ = replay(path, stop_on=())
    assert_same(followed, replayed)
    # each step was fed once: as many records as the final table has rows (+ the summary row),
    # and no rewrite of the notebook looked like a step counter going back
    evaluations = sum(1 for _, _, logs in rows if "eval_accuracy" in logs)
    assert follower.watch.result.n_records == evaluations + 1 == result_.n_records
    assert follower.watch.result.resumes == [] and follower.watch.result.reason == "finished"
    assert followed[0].metric == "eval_accuracy"


def test_a_notebook_of_several_runs_is_followed_by_its_address(tmp_path, monkeypatch):
    path = tmp_path / "two.ipynb"
    rows = curve_rows()
    html = trainer_html(monkeypatch, rows, max_steps=rows[-1][0])  # the bar full: finished
    write_book(path, [("a.train()", [html_output(html)]), ("b.train()", [html_output(html)])])
    follower = Follower(f"{path}/2", stop_on=())
    followed = follower.ends_by_itself()
    replayed, _ = replay(f"{path}/2", stop_on=())
    assert_same(followed, replayed)


def test_a_printed_log_growing_between_saves_is_fed_once(tmp_path):
    """A cell printing HF dict lines (`disable_tqdm=True`) saved again and again: each row is fed
    once, at the step the hf_console reader gives it, and the summary row ends the watch."""
    from notebook_books import stream

    path = tmp_path / "printed.ipynb"
    rows = [f"{{'eval_loss': {0.5 + abs(i - 40) / 100:.4f}, 'eval_accuracy': {0.9 - abs(i - 40) / 200:.4f}, "
            f"'epoch': {i / 20:.2f}}}\n" for i in range(1, 81)]
    summary = "{'train_runtime': 50.0, 'train_loss': 0.4, 'epoch': 4.0}\n"
    follower = Follower(path, stop_on=())
    follower.wait_for_message("does not exist yet")
    for upto in range(10, 81, 10):
        tmp = path.with_name(".~printed.ipynb")
        write_book(tmp, [("trainer.train()", [stream("".join(rows[:upto]))])])
        os.replace(tmp, path)
        time.sleep(0.05)
    tmp = path.with_name(".~printed.ipynb")
    write_book(tmp, [("trainer.train()", [stream("".join(rows) + summary)])])
    os.replace(tmp, path)
    followed = follower.ends_by_itself()
    replayed, result_ = replay(path, stop_on=())
    assert_same(followed, replayed)
    assert follower.watch.result.n_records == len(rows) + 1 == result_.n_records
    assert follower.watch.result.resumes == [] and follower.watch.result.reason == "finished"
