"""Errors the engine reports to users as one line, never as a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DataflowError(Exception):
    """Base class of errors that are the user's to fix (bad graph, bad input, missing file)."""

    exit_code = 2

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class GraphError(DataflowError):
    """The graph file or its overrides are wrong; raised before anything runs."""


class UserError(DataflowError):
    """A node found something wrong with what the user gave it (path, device, model)."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest candidate, or the list of valid names."""
    options = sorted(set(candidates))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    if not options:
        return " (there are none)"
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f" (known: {shown})"
