"""A scripted follower of one log file for the LineTail tests: each `poll()` is one read, and
the rotate-wait clock is advanced by hand (`now`), so races are exact and no test sleeps."""

from __future__ import annotations

import shutil

from phasewatch.follow import NEW_FILE, LineSource, LineTail


class Follower:
    def __init__(self, path, **options):
        self.now = 0.0
        self.lines: list = []
        self.notices: list[str] = []
        self.tail = LineTail(path, follow=True, notice=self.notices.append,
                             clock=lambda: self.now, **options)

    def poll(self, final: bool = False):
        self.lines.extend(self.tail.read(final))
        return self


def replay(*paths):
    """The lines of the final files, oldest first, as a fresh reader sees them."""
    out = []
    for i, path in enumerate(paths):
        if i:
            out.append(NEW_FILE)
        out.extend(LineSource(path))
    return out


def lines(start, stop, tag="r"):
    return "".join(f'{{"step": {i}, "{tag}": {i * 0.5}}}\n' for i in range(start, stop))


def write(path, text, mode="a"):
    with open(path, mode, encoding="utf-8") as fh:
        fh.write(text)


def copytruncate(path, copy):
    """What logrotate's `copytruncate` does: copy the file, then empty it in place."""
    shutil.copyfile(path, copy)
    with open(path, "r+", encoding="utf-8") as fh:
        fh.truncate(0)
