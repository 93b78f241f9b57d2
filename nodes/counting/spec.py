"""Workout files: metrics over named joints, gating, states with hysteresis, the rep sequence.

A workout is data, never code: conditions are expressions of the small grammar in ``expr``.
Every mistake is reported with the workout file and line.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dataflow import GraphError
from dataflow.errors import did_you_mean
from dataflow.library import search_dirs
from dataflow.yamlsrc import LocDict, load_yaml

from .expr import Expr, ExprError, comparisons, parse

KINDS = ("angle", "distance", "vertical", "horizontal", "tilt", "expr", "level")
ARITY = {"angle": 3, "distance": 2, "vertical": 2, "horizontal": 2, "tilt": 2}
SIDES = ("mean", "min", "max", "left", "right", "best")
GATE_KEYS = ("visible", "when", "min_time")
METRIC_KEYS = (*KINDS, "side", "smooth", "median", "min_range", "window")
LEVEL_ONLY = ("min_range", "window")
TOP_KEYS = (
    "exercise", "description", "metrics", "gate", "states", "rep", "hold", "range_metric", "min_confidence",
    "min_rep_time",
)  # fmt: skip


@dataclass(frozen=True)
class Metric:
    """One named measurement: a joint geometry (``kind`` over ``joints``), an expression, or the
    ``level`` of earlier metrics within the range of motion this person shows (``sources``:
    metric name and +1, or -1 where the metric falls as the level rises; ``min_range`` per source:
    a range narrower than this is not exercise; ``window``: the seconds of history the range is taken over).
    ``median`` (seconds) removes one-frame outliers, then ``smooth`` (seconds) smooths."""

    name: str
    kind: str
    joints: tuple[str, ...] = ()
    expr: Expr | None = None
    side: str = "mean"
    smooth: float = 0.0
    median: float = 0.0
    sources: tuple[tuple[str, int], ...] = ()
    min_range: tuple[float, ...] = ()
    window: float = 10.0

    @cached_property
    def sided(self) -> bool:
        return any(len(sides_of(j)) == 2 for j in self.joints)


@dataclass(frozen=True)
class State:
    name: str
    enter: Expr
    min_time: float = 0.0


@dataclass(frozen=True)
class Workout:
    exercise: str
    metrics: dict[str, Metric]
    states: dict[str, State]
    rep: tuple[str, ...]
    gate_visible: tuple[str, ...] = ()
    gate_when: Expr | None = None
    gate_min_time: float = 0.5
    hold: str | None = None
    range_metric: str | None = None
    min_confidence: float = 0.5
    min_rep_time: float = 0.1
    description: str = ""
    source: str = ""
    required: tuple[str, ...] = field(default=())

    def plot(self) -> dict[str, Any] | None:
        """The metric the states are decided on, and each state's threshold on it: what a view of
        the session draws (None when no state compares a metric with a number)."""
        found = [(s.name, *c) for s in self.states.values() for c in comparisons(s.enter)]
        if not found:
            return None
        names = [metric for _, metric, _, _ in found]
        metric = max(dict.fromkeys(names), key=names.count)
        thresholds = [{"state": st, "op": op, "value": v} for st, m, op, v in found if m == metric]
        return {"metric": metric, "thresholds": thresholds}


def find(name: str) -> Path:
    """A workout by name (graphs/workouts/NAME.yaml) or by path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return path
    for folder in workout_dirs():
        candidate = folder / f"{name}.yaml"
        if candidate.exists():
            return candidate
    raise GraphError(f"unknown exercise '{name}'{did_you_mean(name, available())}")


def workout_dirs() -> list[Path]:
    """Where workouts are found by name: ``workouts/`` in each folder graphs are found in by name
    (./graphs first: a checkout or the user's own, then the ones installed packages register)."""
    return list(dict.fromkeys(folder / "workouts" for folder in search_dirs()))


def available() -> list[str]:
    return sorted({p.stem for folder in workout_dirs() for p in folder.glob("*.yaml")})


def load(name: str) -> Workout:
    path = find(name)
    doc = load_yaml(path)
    for key in doc:
        if key not in TOP_KEYS:
            raise GraphError(f"unknown workout key '{key}'{did_you_mean(key, TOP_KEYS)}", doc.at(key))
    metrics = _metrics(doc)
    known = set(metrics)
    states_doc = _mapping(doc, "states")
    states = {}
    for sname, body in states_doc.items():
        body = body if isinstance(body, LocDict) else LocDict({"enter": body})
        where = states_doc.at(sname)
        if "enter" not in body:
            raise GraphError(f"state '{sname}' needs an 'enter' condition", where)
        states[sname] = State(sname, _expr(body["enter"], known, body.at("enter")), float(body.get("min_time", 0.0)))
    hold = doc.get("hold")
    rep = tuple(doc.get("rep") or ())
    if hold is None and len(rep) < 2:
        raise GraphError("'rep' must list the states of one repetition, e.g. [up, down, up]", doc.at("rep"))
    for s in (*rep, *([hold] if hold else [])):
        if s not in states:
            raise GraphError(f"unknown state '{s}'{did_you_mean(s, states)}", doc.at("rep" if s in rep else "hold"))
    gate = doc.get("gate") or LocDict()
    visible = tuple(gate.get("visible") or ())
    when = _expr(gate["when"], known, gate.at("when")) if "when" in gate else None
    for key in gate:
        if key not in ("visible", "when", "min_time"):
            raise GraphError(
                f"gate: unknown key '{key}'{did_you_mean(key, ('visible', 'when', 'min_time'))}", gate.at(key)
            )
    range_metric = doc.get("range_metric")
    if range_metric is not None and range_metric not in metrics:
        raise GraphError(
            f"unknown range_metric '{range_metric}'{did_you_mean(range_metric, metrics)}", doc.at("range_metric")
        )
    required = _required(metrics, visible)
    return Workout(
        exercise=str(doc.get("exercise") or path.stem),
        metrics=metrics,
        states=states,
        rep=rep,
        gate_visible=visible,
        gate_when=when,
        gate_min_time=float(gate.get("min_time", 1.5)),
        hold=hold,
        range_metric=range_metric,
        min_confidence=float(doc.get("min_confidence", 0.5)),
        min_rep_time=_seconds(doc, "min_rep_time", "", 0.1),  # a 0.5 s rep spends about 0.12 s past the far level
        description=str(doc.get("description", "")),
        source=str(path),
        required=required,
    )


def _mapping(doc: LocDict, key: str) -> LocDict:
    value = doc.get(key)
    if not isinstance(value, LocDict) or not value:
        raise GraphError(f"workout needs a '{key}' mapping", doc.at(key))
    return value


def _expr(text: Any, known: set[str], where: str) -> Expr:
    try:
        return parse(text, known)
    except ExprError as exc:
        raise GraphError(str(exc), where) from None


def _metrics(doc: LocDict) -> dict[str, Metric]:
    mdoc = _mapping(doc, "metrics")
    out: dict[str, Metric] = {}
    for name, body in mdoc.items():
        where = mdoc.at(name)
        if not name.isidentifier() or keyword.iskeyword(name) or name in ("abs", "min", "max"):
            raise GraphError(f"metric name '{name}' must be a plain name (letters, digits, _), not a keyword", where)
        if isinstance(body, str):
            body = LocDict({"expr": body})
            body.key_where = {"expr": where}
        if not isinstance(body, LocDict):
            raise GraphError(f"metric '{name}' must be a mapping like {{angle: [hip, knee, ankle]}}", where)
        for key in body:
            if key not in METRIC_KEYS:
                raise GraphError(f"metric '{name}': unknown key '{key}'{did_you_mean(key, METRIC_KEYS)}", body.at(key))
        kinds = [k for k in KINDS if k in body]
        if len(kinds) != 1:
            raise GraphError(f"metric '{name}' needs exactly one of {', '.join(KINDS)}", where)
        kind = kinds[0]
        side = body.get("side", "mean")
        if side not in SIDES:
            raise GraphError(f"metric '{name}': side must be one of {', '.join(SIDES)}", body.at("side"))
        smooth = _seconds(body, "smooth", name, 0.0)
        median = _seconds(body, "median", name, 0.0)
        if kind != "level":
            for key in LEVEL_ONLY:
                if key in body:
                    raise GraphError(f"metric '{name}': '{key}' belongs to a level metric", body.at(key))
        if kind == "expr":
            expr = _expr(body["expr"], set(out), body.at("expr"))
            out[name] = Metric(name, kind, expr=expr, side=side, smooth=smooth, median=median)
            continue
        if kind == "level":
            out[name] = _level(name, body, out, smooth, median)
            continue
        joints = body[kind]
        if not isinstance(joints, list) or len(joints) != ARITY[kind] or not all(isinstance(j, str) for j in joints):
            raise GraphError(f"metric '{name}': {kind} takes {ARITY[kind]} joint names", body.at(kind))
        out[name] = Metric(name, kind, tuple(joints), side=side, smooth=smooth, median=median)
    return out


def _seconds(body: LocDict, key: str, metric: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        owner = f"metric '{metric}': " if metric else ""
        raise GraphError(f"{owner}{key} must be a number of seconds >= 0, got {value!r}", body.at(key))
    return float(value)


def _level(name: str, body: LocDict, earlier: dict[str, Metric], smooth: float, median: float) -> Metric:
    where = body.at("level")
    items = body["level"] if isinstance(body["level"], list) else [body["level"]]
    sources: list[tuple[str, int]] = []
    for item in items:
        text = str(item).strip()
        sign = -1 if text.startswith("-") else 1
        source = text.lstrip("+-").strip()
        if source not in earlier:
            raise GraphError(
                f"metric '{name}': level of unknown metric '{source}' (metrics above it: "
                f"{', '.join(earlier) or 'none'}){did_you_mean(source, earlier)}",
                where,
            )
        sources.append((source, sign))
    if not sources:
        raise GraphError(f"metric '{name}': level needs metric names, e.g. level: [knee, -hip_height]", where)
    ranges = body.get("min_range", 0.0)
    ranges = ranges if isinstance(ranges, list) else [ranges] * len(sources)
    if len(ranges) != len(sources) or not all(
        isinstance(r, (int, float)) and not isinstance(r, bool) and r >= 0 for r in ranges
    ):
        raise GraphError(
            f"metric '{name}': min_range must be a number >= 0 or one per level source ({len(sources)})",
            body.at("min_range"),
        )
    window = body.get("window", 10.0)
    if isinstance(window, bool) or not isinstance(window, (int, float)) or window <= 0:
        raise GraphError(f"metric '{name}': window must be a number of seconds > 0", body.at("window"))
    return Metric(
        name, "level", smooth=smooth, median=median, sources=tuple(sources),
        min_range=tuple(float(r) for r in ranges), window=float(window),
    )  # fmt: skip


UNSIDED = ("nose", "neck", "head_top", "upper_neck", "thorax", "pelvis")


def sides_of(joint: str) -> list[str]:
    """The schema joints a workout's joint name stands for: 'knee' -> left_knee, right_knee."""
    if joint.startswith(("left_", "right_")) or joint in UNSIDED:
        return [joint]
    return [f"left_{joint}", f"right_{joint}"]


def _required(metrics: dict[str, Metric], visible: tuple[str, ...]) -> tuple[str, ...]:
    names: list[str] = []
    for j in [j for m in metrics.values() for j in m.joints] + list(visible):
        names += [e for e in sides_of(j) if e not in names]
    return tuple(names)
