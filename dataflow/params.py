"""Typed node and graph parameters: declaration, parsing from strings, range checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "<required>"})()

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Param:
    """A node parameter: name, type, default (``REQUIRED`` if none) and a one-line doc.

    ``type`` is a Python type or a tuple of them (``(int, str)`` for "camera index or path").
    ``min``/``max`` bound numbers; ``choices`` lists the allowed values.
    """

    name: str
    type: type | tuple[type, ...]
    default: Any = REQUIRED
    doc: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def type_name(self) -> str:
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        return " | ".join(t.__name__ for t in types)

    def coerce(self, value: Any, from_string: bool = False) -> Any:
        """Return ``value`` converted to this param's type, or raise ValueError saying why."""
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        out = _coerce(value, types, from_string)
        if self.choices is not None and out not in self.choices:
            raise ValueError(f"must be one of {', '.join(map(str, self.choices))}, got {out!r}")
        if isinstance(out, (int, float)) and not isinstance(out, bool):
            if self.min is not None and out < self.min:
                raise ValueError(f"must be >= {self.min}, got {out}")
            if self.max is not None and out > self.max:
                raise ValueError(f"must be <= {self.max}, got {out}")
        return out


def _coerce(value: Any, types: tuple[type, ...], from_string: bool) -> Any:
    if value is None and type(None) in types:
        return None
    for t in types:
        if t is bool and isinstance(value, bool):
            return value
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if t in (list, dict) and isinstance(value, t):
            return value
        if t is str and isinstance(value, str) and not from_string:
            return value
    if isinstance(value, str) and from_string:
        # Strings from the command line: try the declared types in order, str last.
        for t in sorted(types, key=lambda t: t is str):
            parsed = _parse_string(value, t)
            if parsed is not _NO:
                return parsed
    names = " | ".join(t.__name__ for t in types)
    raise ValueError(f"expected {names}, got {type(value).__name__} {value!r}")


_NO = object()


def _parse_string(text: str, t: type) -> Any:
    s = text.strip()
    if t is str:
        return text
    if t is bool:
        if s.lower() in _TRUE:
            return True
        if s.lower() in _FALSE:
            return False
        return _NO
    if t is int:
        try:
            return int(s)
        except ValueError:
            return _NO
    if t is float:
        try:
            return float(s)
        except ValueError:
            return _NO
    if t in (list, dict):
        try:
            v = yaml.safe_load(s)
        except yaml.YAMLError:
            return _NO
        return v if isinstance(v, t) else _NO
    return _NO


def infer_param(name: str, default: Any) -> Param:
    """A graph-level param's type comes from its default (``None`` means any scalar)."""
    if default is None:
        return Param(name, (int, float, bool, str, type(None)), None)
    if isinstance(default, bool):
        return Param(name, bool, default)
    if isinstance(default, int):
        return Param(name, int, default)
    if isinstance(default, float):
        return Param(name, float, default)
    return Param(name, type(default), default)
