"""YAML loading that remembers where every mapping key came from (file:line)."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import GraphError


class LocDict(dict):
    """A dict from YAML that knows its file and the line of each key."""

    where: str = "?"
    key_where: dict[str, str]

    def at(self, key: str | None = None) -> str:
        if key is not None and key in getattr(self, "key_where", {}):
            return self.key_where[key]
        return self.where


class _Loader(yaml.SafeLoader):
    filename = "?"


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> LocDict:
    loader.flatten_mapping(node)
    out = LocDict()
    out.where = f"{loader.filename}:{node.start_mark.line + 1}"
    out.key_where = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        where = f"{loader.filename}:{key_node.start_mark.line + 1}"
        if not isinstance(key, (str, int, float, bool)):
            raise GraphError("mapping keys must be plain names", where)
        key = str(key)
        if key in out:
            raise GraphError(f"duplicate key '{key}' (first at {out.key_where[key]})", where)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_where[key] = where
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path, shown: str | None = None) -> LocDict:
    """Load a YAML mapping from ``path``; every failure is a one-line ``GraphError``."""
    name = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GraphError("file not found", name) from None
    except IsADirectoryError:
        raise GraphError("is a directory, not a graph file", name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphError(f"cannot read: {exc}", name) from None
    loader = _Loader(text)
    loader.filename = name
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{name}:{mark.line + 1}" if mark else name
        raise GraphError(f"not valid YAML: {exc.problem or exc.context}", line) from None
    except yaml.YAMLError as exc:
        raise GraphError(f"not valid YAML: {exc}", name) from None
    finally:
        loader.dispose()
    if not isinstance(data, LocDict):
        raise GraphError("a graph file must be a YAML mapping with a 'nodes' section", name)
    return data
