"""What a W&B run file with no history row says of why: its exit and its captured console.

A run that crashes before its first `wandb.log` call still leaves a `.wandb` file: the SDK
captures the script's stdout and stderr into it (`output_raw` records, `output` in older
SDKs: `wandb_run._console_raw_callback` -> `interface.publish_output_raw`, each record a chunk
of text, not always a whole line) and writes an `exit` record with the exit code and the
runtime in seconds. "No history rows" alone reads as a file phasewatch could not read; in a
reading of public repositories three W&B files were such runs (one stopped by `NameError: name
'math' is not defined` before its dataloader, one by a `TypeError` inside `wandb.log` itself,
one that ended normally after 13 s without logging). `ConsoleTail` keeps the end of the console
and the exit, and `why_empty` says what they show.

A run can also print its curve and log no history row: a Hugging Face Trainer run with W&B
initialised but `report_to` not naming it prints its dict lines to the console only (a
CodeBERT classifier's run file in a public repository: 25 minutes, exit code 0, 408 loss rows
and 3 evaluations in its console, which read "a run that stopped before it logged a history
row"). So the whole console is kept until a history row comes, for `printed_log` to read.
"""

from __future__ import annotations

from collections import deque

from phasewatch.io.crash_tail import TAIL_BYTES, exception_in


class ConsoleTail:
    """The last TAIL_BYTES characters of a run's captured console, and its exit record."""

    def __init__(self) -> None:
        self._chunks: deque[str] = deque()
        self._size = 0
        self._whole: list[str] | None = []  # the whole console, until a history row comes
        self.exit_code: int | None = None
        self.runtime: int | None = None

    def add(self, text: str) -> None:
        """One `output_raw` / `output` record's text."""
        if self._whole is not None:
            self._whole.append(text)
        self._chunks.append(text)
        self._size += len(text)
        while self._size > TAIL_BYTES and len(self._chunks) > 1:
            self._size -= len(self._chunks.popleft())

    def history_came(self) -> None:
        """A history row was read: the curve is there, the whole console is not needed."""
        self._whole = None

    def whole(self) -> str:
        """Everything the console printed ('' once a history row came)."""
        return "".join(self._whole or ())

    def exited(self, exit_record) -> None:
        self.exit_code = int(exit_record.exit_code)
        self.runtime = int(exit_record.runtime)

    def why_empty(self) -> str:
        """What to add to "no history rows" from the exit and the console's last Python error
        ('' when the file has neither): the run's end, and what a crash at start-up means."""
        said = []
        if self.exit_code is not None:
            how = "ended" if self.exit_code == 0 else "failed"
            said.append(f"the run {how} with exit code {self.exit_code} after {self.runtime} s")
        found = exception_in("".join(self._chunks))
        if found is not None:
            said.append(f"its console output, which the file keeps, ends with a Python error: "
                        f"{found[1]}")
        if not said:
            return ""
        return ("; " + "; ".join(said) + ": a run that stopped before it logged a history row "
                "leaves no curve to read")
