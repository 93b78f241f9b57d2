"""Graphs by name: ``dataflow run reps`` finds ``reps.yaml`` in ./graphs (a checkout first), then
in the folders installed packages register in the ``dataflow.graphs`` entry-point group (each
entry point names a function returning a folder)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from .errors import GraphError, did_you_mean

GROUP = "dataflow.graphs"
SUFFIXES = (".yaml", ".yml")


@cache
def installed_dirs() -> tuple[Path, ...]:
    """Graph folders registered by installed packages."""
    dirs = []
    for ep in entry_points(group=GROUP):
        try:
            dirs.append(Path(ep.load()()))
        except Exception:  # a broken plug-in must not stop graphs given by path
            continue
    return tuple(dirs)


def search_dirs() -> list[Path]:
    return [Path.cwd() / "graphs", *installed_dirs()]


def builtin_graphs() -> dict[str, Path]:
    """Name -> file of every graph found by name (the first folder that has it wins)."""
    found: dict[str, Path] = {}
    for folder in search_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found.setdefault(path.stem, path)
    return found


def find_graph(name: str | Path) -> Path:
    """A graph file: ``name`` itself when it exists or looks like a path, else a graph of that name."""
    path = Path(name)
    if path.exists() or path.suffix in SUFFIXES or len(path.parts) > 1:
        return path
    known = builtin_graphs()
    if str(name) in known:
        return known[str(name)]
    raise GraphError(f"no graph file or graph named '{name}'{did_you_mean(str(name), known)}")


def description(path: Path) -> str:
    """The first comment line of a graph file."""
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.startswith("#"):
                    return line.lstrip("# ").strip()
                if line.strip():
                    break
    except OSError:
        pass
    return ""
