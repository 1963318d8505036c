"""Opening a log to watch: the reader's `RecordSource` for the path, and, when following, the
wait for the path to appear and hold something recognisable.

`watch --follow` is usually started next to the trainer, before the trainer has created its
folder or written its first line. Exiting with "no such file" there would make the user start
it again by hand, so a follower waits (saying so once on stderr) while waiting can still help:
the path is missing, a folder (files may appear in it), a file still smaller than what the
format sniffer reads, or a store its writer is still creating (`NotReadyError`: MLflow makes
and migrates `mlflow.db` seconds before `start_run`, Trackio's `<project>.db` may hold only
system metrics at first). An MLflow server address is waited for while the server does not answer
(not up yet), not when it answers that there is no such run. A young file whose first line is still being written is not sniffed yet,
since a cut JSON line could pass for another format.

A Hugging Face output folder holds its history in `checkpoint-N/trainer_state.json`, one new
folder per save (older ones deleted under `save_total_limit`), and `trainer_state.json` itself
only if the script calls `save_state()` (at the end). Following such a folder follows the
newest of these files as they appear (`followed_states.CheckpointStates`); each holds the
previous one's rows and more, so only the new rows are fed. Before the first checkpoint, the
folder may hold only the Trainer's TensorBoard log `runs/<date>_<host>/`, which a replay of the
finished folder does not read: the follow waits for the folder's choice (`TrainerFolderWait`),
and says which file it follows once it has one (`said_followed`). A folder whose
trainer_state.json says its run ended before the follow began is waited on too, for the next
run into it (`TrainerFolderWait._ended_run`, `stale_state`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from phasewatch.errors import InputError, NotReadyError
from phasewatch.followed_states import relative, said_followed


def open_when_ready(path: Path, follow: bool, notice: Callable[[str], None],
                    say: Callable[[str], None], poll: float, idle_exit: float | None,
                    stop: threading.Event):
    """The source of `path` and, when a followed Trainer folder was opened because its
    TensorBoard log stopped growing (`TrainerFolderWait`), the time it last grew (its
    --idle-exit has passed already), else None. Replaying, opened at once (an InputError
    propagates). Following, waits for the path; (None, None) if `stop` is set or `idle_exit`
    seconds pass meanwhile."""
    from phasewatch.io import open_source, url_reader

    told: set[str] = set()
    tries = 0
    started = time.monotonic()
    remote = url_reader(path) is not None
    trainer = TrainerFolderWait(path, say) if follow and not remote else None
    while True:
        try:
            if follow:
                check_ready(path)
            if trainer is not None and trainer.undecided():
                pass  # only the Trainer's TensorBoard log so far: wait (said once)
            else:
                source = open_source(path, follow=follow, notice=notice)
                if follow and path.is_dir():
                    try:
                        check_ready(path)  # again: a W&B run may have appeared while opening
                    except InputError:
                        source.close()
                        raise
                    if trainer is not None and trainer.undecided():
                        source.close()  # the Trainer's TensorBoard log appeared while opening
                        source = None
                    else:
                        source = said_followed(source, path, say)
                if source is not None:
                    idle = trainer is not None and trainer.decided == "idle"
                    return source, trainer.since if idle else None
        except InputError as exc:
            # a server: wait only while it does not answer
            not_ready = isinstance(exc, NotReadyError)  # a store its writer is still creating
            if not follow or not (getattr(exc, "transient", False) if remote
                                  else not_ready or may_still_come(path)):
                raise
            if remote:
                kind, message = "remote", f"{exc}; waiting for it (Ctrl-C to stop)"
            elif not path.exists():
                kind = "missing"
                message = f"{path} does not exist yet; waiting for it to appear (Ctrl-C to stop)"
            elif not_ready:
                kind = "not ready"
                message = (f"{path}: {exc.message}; waiting for {exc.waiting_for} "
                           "(Ctrl-C to stop)")
            else:
                kind = "unrecognised"
                message = f"{path}: no recognisable records yet ({exc.message}); waiting for them"
            if kind not in told:  # each kind of wait said once (a path that appears, then a
                told.add(kind)    # store that holds no run yet)
                say(message)
        waiting_trainer = trainer is not None and trainer.active
        waited = time.monotonic() - (trainer.since if waiting_trainer else started)
        if idle_exit is not None and waited >= idle_exit:
            if waiting_trainer:  # the run is over as far as this follow can tell: read the
                trainer.decide("idle", idle_exit)  # folder as a replay of it now does
                continue
            return None, None
        # A server not up yet is asked again after a pause growing to 5 s, not every poll.
        pause = min(max(poll, 0.5 * 2 ** tries), 5.0) if remote else poll
        tries += 1
        if stop.wait(pause if idle_exit is None else min(pause, idle_exit - waited)):
            if trainer is not None and trainer.active:
                trainer.decide("interrupted")  # read what the folder holds, as a replay would
                continue
            return None, None


def check_ready(path: Path) -> None:
    """Raise InputError for a file whose first line is not complete yet."""
    from phasewatch.io import HEAD_BYTES, read_head

    if path.is_dir():
        from phasewatch.io.trinity import young_wandb_run

        if young_wandb_run(path):  # a Trinity pair or a plain run: its name will tell
            raise InputError("a W&B run whose first records are not written yet", path)
    if path.is_file():
        head = read_head(path)
        binary = head.startswith(b":W&B") or b"brain.Event" in head[:256]
        if len(head) < HEAD_BYTES and b"\n" not in head and not binary and not is_json(head):
            # said as the replay at the end will say it: an empty file is empty (a console log
            # redirected before the trainer printed anything), not a line half written
            raise InputError("the first line is not complete yet" if head.strip()
                             else "the file is empty", path)


def is_json(data: bytes) -> bool:
    """A whole JSON document on one line (a trainer_state.json written without indent)."""
    from phasewatch.io.jsonlines import loads

    try:
        loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return True


def may_still_come(path: Path) -> bool:
    """Whether waiting can help: the path is missing, a folder, or a file still small."""
    from phasewatch.io import HEAD_BYTES

    if not path.exists() or path.is_dir():
        return True
    try:
        return path.stat().st_size < HEAD_BYTES
    except OSError:
        return True


class TrainerFolderWait:
    """A follow of a folder that holds only a TensorBoard log under `runs/`
    (`folders.trainer_tensorboard_first`). When it is the HF Trainer's (its `args` text, written
    with the first records) and the Trainer saves checkpoints (`save_strategy` not "no") into
    this folder, a replay or `analyze` of the finished folder will read the checkpoints'
    trainer_state.json, not that log: the follow waits until the folder's choice is made.
    That is when a checkpoint (or trainer_state.json) appears, or the log says the run
    finished (HF's final `train_runtime`, logged after the last save), or stops growing for
    `--idle-exit` seconds, or the follow is stopped: then the folder is opened as a replay of
    it would be then. Another writer's TensorBoard log (PyTorch's SummaryWriter also writes
    `runs/<date>_<host>/`) is followed at once. While waiting, the log is read (its records
    dropped) only to see its arguments, its growth and its end."""

    def __init__(self, folder: Path, say: Callable[[str], None]):
        self.folder, self.say = folder, say
        self.active = False  # waiting now
        self.decided = ""  # why the folder is opened with only TensorBoard in it
        self.since = time.monotonic()  # the TensorBoard log's last growth
        self._peek = None
        self._peeked: Path | None = None
        self._records = False  # the log has records
        self._told = False
        self.began = time.time()
        self._ended = False  # whether the wait for a new run into the folder was said (`_ended_run`)

    def _ended_run(self) -> bool:
        """Whether to wait because the folder's trainer_state.json says its run ended before
        this follow began: a follow started before a rerun into the same output_dir read that
        run, said it had finished and exited while the new run loaded (trial 40c). Waits until
        the new run writes a log or checkpoint of its own (`stale_state.previous_run`; its
        TensorBoard log alone is waited past, as for a first run), --idle-exit, or a stop."""
        from phasewatch.stale_state import ended_before, previous_run

        if not ended_before(self.folder, self.began) or previous_run(self.folder) is not None:
            return False
        if not self.active:
            self.active, self.since = True, time.monotonic()
        if not self._ended:
            self._ended = True
            self.say(f"{self.folder}: trainer_state.json says its run ended before this follow "
                     "began: waiting for a new run into the folder (a rerun into the same "
                     "output_dir); --idle-exit or a stop reads the ended run, as a replay does")
        return True

    def undecided(self) -> bool:
        from phasewatch.folders import trainer_tensorboard_first

        if not self.decided and self.folder.is_dir() and self._ended_run():
            return True
        logs = [] if self.decided or not self.folder.is_dir() \
            else trainer_tensorboard_first(self.folder)
        if not logs:
            self.close()
            self.active = False
            return False
        newest = max(logs, key=_mtime)
        if not self.active:
            self.active, self.since = True, time.monotonic()
        self._read_peek(newest)
        info = self._peek.info if self._peek is not None else None
        if info is not None and info.finished:
            self.decide("finished")
            return False
        args = info.config if info is not None else {}
        strategy = str(args.get("save_strategy", "")).lower()
        output = Path(str(args.get("output_dir", ""))).name
        if not strategy or (output and output != self.folder.resolve().name):
            if self._records:  # not the Trainer's, or its checkpoints go elsewhere: no wait
                self.decide("")
                return False
            return True  # nothing in it yet: its first records say whose it is
        if strategy == "no":
            self.decide("no saves")
            return False
        if not self._told:
            self._told = True
            every = f" every {args['save_steps']} steps" if strategy == "steps" \
                and "save_steps" in args else f" each {strategy}" if strategy == "epoch" else ""
            self.say(f"{self.folder}: only the Trainer's TensorBoard log "
                     f"({relative(newest, self.folder)}) so far: waiting for its first "
                     f"checkpoint (saved{every}), whose trainer_state.json a replay and "
                     "`analyze` of the finished folder read (the TensorBoard log is read if the "
                     f"run ends without one; give {newest} as PATH to follow it now)")
        return True

    def _read_peek(self, log: Path) -> None:
        from phasewatch.io import open_source

        try:
            if self._peeked != log:
                self.close()
                self._peek = open_source(log, follow=True, notice=lambda message: None)
                self._peeked = log
            for _ in self._peek.read(final=False):
                self.since, self._records = time.monotonic(), True
        except InputError:
            pass  # an event file still being created: looked at again at the next poll

    def decide(self, why: str, idle_exit: float | None = None) -> None:
        """Read the folder as it is now: the TensorBoard log (said, unless it is not the
        Trainer's: then there was nothing to wait for)."""
        self.decided, self.active = why or "not the Trainer's", False
        self.close()
        if not why:
            return
        if self._ended:
            self.say(f"{self.folder}: " + (f"no new run for {idle_exit:g} s (--idle-exit)"
                     if why == "idle" else "stopped") + ": reading the ended run, as a replay "
                     "of the folder does")
            return
        if why == "idle":
            why = f"no checkpoint, and the TensorBoard log has not grown for {idle_exit:g} s " \
                  "(--idle-exit)"
        else:
            why = {"finished": "the run ended without a checkpoint",
                   "no saves": "the Trainer saves no checkpoint (save_strategy \"no\")",
                   "interrupted": "stopped before any checkpoint"}[why]
        self.say(f"{self.folder}: {why}: reading the TensorBoard log, as a replay of the "
                 "folder now does")

    def close(self) -> None:
        if self._peek is not None:
            self._peek.close()
        self._peek, self._peeked = None, None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # deleted since the folder was listed
        return 0.0
