"""A source that wraps another and changes how it reads (`io.joined_log.RotatedLog`: the rotated
parts first; `followed_states.CheckpointStates`: the newest state file of an HF output folder).
Everything it does not override is the wrapped source's, including where bad lines are
reported (`on_bad_line`, which the live monitor sets on the source it was given)."""

from __future__ import annotations


class WrappedSource:
    def __init__(self, source):
        self._source = source

    def __getattr__(self, name: str):
        return getattr(self._source, name)

    @property
    def on_bad_line(self):
        return self._source.on_bad_line

    @on_bad_line.setter
    def on_bad_line(self, callback) -> None:
        self._source.on_bad_line = callback
