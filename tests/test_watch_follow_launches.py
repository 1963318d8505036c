"""`watch --follow` of an icefall recipe's `exp/log` while its run is resumed: icefall's
setup_logger opens a new `log-train-<date>` at each launch (`-<rank>` under DDP), so the
resumed run's records go to a new file beside the one followed. The follow stayed on the old
file, which no longer grows, and ended at --idle-exit without the new launch's records; it
now moves on to the new launch's file, and its alerts are a replay's of the final folder."""

from __future__ import annotations

import pytest
from test_io_icefall_console import icefall_log
from watch_follower import Follower, assert_same, replay, write_in_pieces

from phasewatch.io import read_run
from phasewatch.live import LiveWatch

KILLED_IN, RESUMED_AT = 7, 7  # the first launch stops inside epoch 7, the second resumes at 7


def launch_texts() -> tuple[str, str]:
    """The first launch's lines up to its batch 150 of epoch 7 (killed: no `Done!`), and the
    second launch's from epoch 7 (`--start-epoch 7`) to its `Done!` after epoch 16."""
    first = icefall_log(KILLED_IN).splitlines()
    first = first[:max(i for i, line in enumerate(first)
                       if f"Epoch {KILLED_IN}, batch 150," in line) + 1]
    second = icefall_log(16, done=True).splitlines()
    second = second[:2] + second[min(i for i, line in enumerate(second)
                                     if f"Epoch {RESUMED_AT}, batch 0," in line):]
    return "\n".join(first) + "\n", "\n".join(second) + "\n"


@pytest.mark.parametrize("ranks", [(), (0, 1)], ids=["one GPU", "DDP"])
def test_a_new_launch_is_followed_as_the_run_goes_on(tmp_path, ranks):
    log = tmp_path / "exp" / "log"
    log.mkdir(parents=True)
    first, second = launch_texts()
    old = log / "log-train-2024-01-08-10-00-00"
    cut = first.index("Epoch 3, batch 0,")
    old.write_text(first[:cut])
    follower = Follower(log, stop_on=(), idle_exit=3.0)
    follower.wait_for_message("following")
    with open(old, "a", encoding="utf-8") as fh:  # the first launch goes on, then stops
        fh.write(first[cut:])
    follower.wait_for_message("caught up")
    for suffix in [f"-{rank}" for rank in ranks] or [""]:
        write_in_pieces(log / f"log-train-2024-01-09-08-30-00{suffix}", second)
    followed = follower.ends_by_itself()
    replayed, result = replay(log, stop_on=())
    assert_same(followed, replayed)
    assert follower.watch.result.reason == "finished" and result.finished
    ours = follower.watch.result  # every record once: none lost, none read twice
    assert (ours.n_records, ours.last_step, ours.phase) == (result.n_records, result.last_step,
                                                           result.phase)
    new = "log-train-2024-01-09-08-30-00" + ("-0" if ranks else "")
    assert any(message.startswith(f"{log / new}: a new launch of the run")
               for message in follower.messages), follower.messages
    crashed = (f"{old.name}: an earlier launch of the run that ended without finishing (no "
               "end-of-training line: it crashed or was stopped) after step 1656, its last "
               f"record; {new}, the launch after it, resumed the run")
    # each file named once, the launch that crashed by its path (it read 'NEW: OLD: ...')
    assert f"{log}/{crashed}" in follower.messages, follower.messages
    assert crashed in read_run(log).warnings  # as a replay, analyze and inspect say it
    said: list[str] = []
    list(LiveWatch(log, notice=said.append, info=said.append, stop_on=()).alerts())
    assert f"{log}/{crashed}" in said, said  # a replay's watch as the follow's
