"""The built-in graphs and workouts, shipped as package data so ``dataflow run reps`` works from
any directory once the package is installed (``builtin_dir()`` is where they are)."""

from __future__ import annotations

from pathlib import Path


def builtin_dir() -> Path:
    """The folder of the built-in graphs (``workouts/`` and ``parts/`` inside it)."""
    return Path(__file__).resolve().parent
