"""Finding node classes: entry points in the ``dataflow.nodes`` group, or ``module:Class``."""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from .errors import GraphError, did_you_mean
from .node import Node

GROUP = "dataflow.nodes"


@cache
def node_types() -> dict[str, str]:
    """Registered node type names mapped to their ``module:Class`` targets."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def load_class(target: str, where: str | None = None, shown: str | None = None) -> type[Node]:
    """Import ``module:Class`` and check that it is a Node subclass."""
    module_name, _, attr = target.partition(":")
    label = shown or target
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise GraphError(f"node type '{label}': cannot import module '{exc.name}'", where) from None
    except Exception as exc:
        raise GraphError(f"node type '{label}': importing {module_name} failed: {exc}", where) from None
    cls = getattr(module, attr, None)
    if cls is None:
        names = [n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, Node)]
        raise GraphError(f"node type '{label}': module {module_name} has no '{attr}'{did_you_mean(attr, names)}", where)
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise GraphError(f"node type '{label}' is not a dataflow Node class", where)
    return cls


def resolve(type_name: str, where: str | None = None) -> type[Node]:
    """The class for a YAML ``type:``; user code only when named explicitly as ``module:Class``."""
    if ":" in type_name:
        return load_class(type_name, where)
    types = node_types()
    if type_name not in types:
        raise GraphError(f"unknown node type '{type_name}'{did_you_mean(type_name, types)}", where)
    return load_class(types[type_name], where, shown=type_name)
