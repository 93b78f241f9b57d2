"""Graph files: loading with includes, params and overrides, then checking everything
that can be checked before a packet flows (types, wiring, cycles, params)."""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from . import registry
from .errors import GraphError, did_you_mean
from .library import find_graph
from .node import Node
from .params import Param, infer_param
from .types import PortType
from .yamlsrc import LocDict, load_yaml

GRAPH_KEYS = ("graph", "description", "params", "include", "set", "nodes", "queue_size")
NODE_KEYS = ("type", "params", "inputs", "on_error", "queue_size", "choose", "cases")
CASE_KEYS = ("match", "type", "params", "inputs")
INPUT_KEYS = ("from", "feedback", "lag", "queue_size", "policy", "batch")
FEEDBACK_MODES = ("latest", "previous", "streams")
POLICIES = ("block", "drop_oldest")
ON_ERROR = ("stop", "skip")
DEFAULT_QUEUE_SIZE = 8

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")


@dataclass
class Edge:
    """One wire: ``src.src_port -> dst.dst_port`` with its queue settings."""

    src: str
    src_port: str
    dst: str
    dst_port: str
    feedback: str | None
    queue_size: int
    policy: str
    where: str
    # feedback 'previous': the value of the packet this many before; 'latest': the newest value, but
    # none older than from this many packets before (0: no bound, never wait)
    lag: int = 1
    batch: int = 1  # the consumer takes this many packets at once (waiting at most BATCH_WAIT_S)


@dataclass
class NodeSpec:
    """A node as the graph file declares it, with params resolved and the instance built."""

    name: str
    type_name: str
    cls: type[Node]
    params: dict[str, Any]
    inputs: dict[str, Edge]
    on_error: str
    where: str
    instance: Node | None = None
    input_types: dict[str, PortType] = field(default_factory=dict)
    output_types: dict[str, PortType] = field(default_factory=dict)


@dataclass
class GraphParam:
    param: Param
    value: Any
    where: str


@dataclass
class Graph:
    """A checked graph, ready to run: nodes in topological order, edges, graph params."""

    name: str
    path: Path
    params: dict[str, GraphParam]
    nodes: dict[str, NodeSpec]
    edges: list[Edge]
    order: list[str]

    def render(self, fmt: str) -> str:
        """Draw the graph as Mermaid or Graphviz dot; feedback edges dashed."""
        lines: list[str] = []
        if fmt == "mermaid":
            lines.append("flowchart LR")
            for name in self.order:
                lines.append(f'  {_ident(name)}["{name}<br/><i>{self.nodes[name].type_name}</i>"]')
            for e in self.edges:
                arrow = "-.->" if e.feedback else "-->"
                label = f"{e.src_port}→{e.dst_port}" + (f" ({e.feedback})" if e.feedback else "")
                lines.append(f"  {_ident(e.src)} {arrow}|{label}| {_ident(e.dst)}")
        elif fmt == "dot":
            lines.append(f'digraph "{self.name}" {{')
            lines.append("  rankdir=LR; node [shape=box];")
            for name in self.order:
                lines.append(f'  "{name}" [label="{name}\\n{self.nodes[name].type_name}"];')
            for e in self.edges:
                style = ", style=dashed, constraint=false" if e.feedback else ""
                lines.append(f'  "{e.src}" -> "{e.dst}" [label="{e.src_port}→{e.dst_port}"{style}];')
            lines.append("}")
        else:
            raise GraphError(f"unknown format '{fmt}' (use mermaid or dot)")
        return "\n".join(lines) + "\n"


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name)


# -- loading -------------------------------------------------------------------


@dataclass
class _Raw:
    """A graph file and everything it includes, merged, before types are resolved."""

    name: str = ""
    params: dict[str, tuple[Any, str]] = field(default_factory=dict)
    nodes: dict[str, LocDict] = field(default_factory=dict)
    sets: list[tuple[str, Any, str]] = field(default_factory=list)
    queue_size: int = DEFAULT_QUEUE_SIZE


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read(path: Path, raw: _Raw, stack: tuple[Path, ...], where: str | None) -> None:
    resolved = path.resolve()
    if resolved in stack:
        chain = " -> ".join(_shown(p) for p in (*stack, resolved))
        raise GraphError(f"include loop: {chain}", where)
    doc = load_yaml(path, _shown(path))
    # Custom nodes named module:Class may live next to the graph that uses them.
    if str(resolved.parent) not in sys.path:
        sys.path.append(str(resolved.parent))
    for key in doc:
        if key not in GRAPH_KEYS:
            raise GraphError(f"unknown graph key '{key}'{did_you_mean(key, GRAPH_KEYS)}", doc.at(key))
    if not raw.name:
        raw.name = str(doc.get("graph") or path.stem)
    if "queue_size" in doc:
        raw.queue_size = _positive_int(doc["queue_size"], doc.at("queue_size"), "queue_size")

    includes = doc.get("include") or []
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list):
        raise GraphError("'include' must be a file or a list of files", doc.at("include"))
    for item in includes:
        if not isinstance(item, str):
            raise GraphError("each include must be a file path", doc.at("include"))
        if not (path.parent / item).is_file():
            raise GraphError(f"include file not found: {item}", doc.at("include"))
        _read(path.parent / item, raw, (*stack, resolved), doc.at("include"))

    params = doc.get("params") or LocDict()
    if not isinstance(params, LocDict):
        raise GraphError("'params' must be a mapping of name: default", doc.at("params"))
    for key, value in params.items():
        raw.params[key] = (value, params.at(key))

    nodes = doc.get("nodes")
    if nodes is None and not includes:
        raise GraphError("graph has no 'nodes' section", doc.where)
    nodes = nodes or LocDict()
    if not isinstance(nodes, LocDict):
        raise GraphError("'nodes' must be a mapping of node name to node", doc.at("nodes"))
    for name, body in nodes.items():
        if name in raw.nodes:
            raise GraphError(f"duplicate node name '{name}' (also at {raw.nodes[name].where})", nodes.at(name))
        if "." in name or "/" in name:
            raise GraphError(f"node name '{name}' may not contain '.' or '/'", nodes.at(name))
        if not isinstance(body, LocDict):
            raise GraphError(f"node '{name}' must be a mapping with a 'type'", nodes.at(name))
        body.where = nodes.at(name)
        raw.nodes[name] = body

    sets = doc.get("set") or LocDict()
    if not isinstance(sets, LocDict):
        raise GraphError("'set' must be a mapping of node.param: value", doc.at("set"))
    raw.sets.extend((k, v, sets.at(k)) for k, v in sets.items())


def _positive_int(value: Any, where: str, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise GraphError(f"{what} must be a positive integer, got {value!r}", where)
    return value


def load_graph(path: str | Path, overrides: list[str] | None = None) -> Graph:
    """Load, override, check and instantiate a graph (a file, or a graph's name: ``reps``).
    Every problem is a ``GraphError``."""
    path = find_graph(path)
    raw = _Raw()
    _read(path, raw, (), None)
    gparams = {k: GraphParam(infer_param(k, v), v, w) for k, (v, w) in raw.params.items()}

    node_sets: dict[str, dict[str, tuple[Any, bool, str]]] = {}
    for key, value, where in raw.sets:
        _apply_set(key, value, False, where, raw, gparams, node_sets)
    for item in overrides or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise GraphError(f"--set expects name=value, got '{item}'", "--set")
        _apply_set(key.strip(), value, True, f"--set {key.strip()}", raw, gparams, node_sets)

    scope = _Scope(raw, gparams, node_sets)
    specs = {name: _build_node(name, scope.body(name), raw, scope) for name in raw.nodes}
    edges = [e for spec in specs.values() for e in spec.inputs.values()]
    _check_wiring(specs, edges)
    order = _sort(specs, edges)
    _resolve_types(specs, order)
    _check_feedback(specs, edges)
    return Graph(raw.name, path, gparams, specs, edges, order)


def _apply_set(
    key: str,
    value: Any,
    from_string: bool,
    where: str,
    raw: _Raw,
    gparams: dict[str, GraphParam],
    node_sets: dict[str, dict[str, tuple[Any, bool, str]]],
) -> None:
    if "." in key:
        node, _, param = key.partition(".")
        if node not in raw.nodes:
            raise GraphError(f"no node named '{node}'{did_you_mean(node, raw.nodes)}", where)
        node_sets.setdefault(node, {})[param] = (value, from_string, where)
        return
    if key not in gparams:
        names = list(gparams) + [f"{n}.<param>" for n in raw.nodes]
        raise GraphError(f"no graph param named '{key}'{did_you_mean(key, names)}", where)
    gp = gparams[key]
    try:
        gp.value = gp.param.coerce(value, from_string=from_string)
    except ValueError as exc:
        raise GraphError(f"graph param '{key}': {exc}", where) from None
    gp.where = where


class _Scope:
    """Resolves ``${param}`` (graph param) and ``${node.param}`` (another node's final value,
    so that one ``--set pose.model=...`` reaches every node that follows the model)."""

    def __init__(self, raw: _Raw, gparams: dict[str, GraphParam], node_sets: dict[str, dict]) -> None:
        self.raw = raw
        self.gparams = gparams
        self.node_sets = node_sets
        self.classes: dict[str, type[Node]] = {}
        self.bodies: dict[str, LocDict] = {}
        self.choosing: set[str] = set()
        self.resolved: dict[tuple[str, str], Any] = {}
        self.stack: list[tuple[str, str]] = []

    def body(self, node: str) -> LocDict:
        """The node as declared, or for a node that chooses, with the chosen case's type and params."""
        if node not in self.bodies:
            body = self.raw.nodes[node]
            if "choose" in body:
                if node in self.choosing:
                    raise GraphError(f"node '{node}': 'choose' refers to the node itself", body.at("choose"))
                self.choosing.add(node)
                try:
                    body = _choose(node, body, self)
                finally:
                    self.choosing.discard(node)
            elif "cases" in body:
                raise GraphError(f"node '{node}': 'cases' needs 'choose', the value they match", body.at("cases"))
            self.bodies[node] = body
        return self.bodies[node]

    def cls(self, node: str) -> type[Node]:
        if node not in self.classes:
            body = self.body(node)
            type_name = body.get("type")
            if not isinstance(type_name, str) or not type_name:
                raise GraphError(f"node '{node}' has no 'type'", body.where)
            self.classes[node] = registry.resolve(type_name, body.at("type"))
        return self.classes[node]

    def substitute(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            whole = _REF.fullmatch(value.strip())
            if whole:
                return self.lookup(whole.group(1), where)
            return _REF.sub(lambda m: str(self.lookup(m.group(1), where)), value)
        if isinstance(value, list):
            return [self.substitute(v, where) for v in value]
        if isinstance(value, dict):
            return {k: self.substitute(v, where) for k, v in value.items()}
        return value

    def lookup(self, name: str, where: str) -> Any:
        if "." in name:
            node, _, param = name.partition(".")
            if node not in self.raw.nodes:
                raise GraphError(f"'${{{name}}}': no node named '{node}'{did_you_mean(node, self.raw.nodes)}", where)
            if self.cls(node).param(param) is None:
                known = [p.name for p in self.cls(node).params]
                hint = did_you_mean(param, known)
                raise GraphError(f"'${{{name}}}': node '{node}' has no param '{param}'{hint}", where)
            return self.node_param(node, param)
        if name not in self.gparams:
            raise GraphError(f"unknown graph param '${{{name}}}'{did_you_mean(name, self.gparams)}", where)
        return self.gparams[name].value

    def node_param(self, node: str, param: str) -> Any:
        """The final value of one node param: --set, else the graph file, else the default."""
        key = (node, param)
        if key in self.resolved:
            return self.resolved[key]
        if key in self.stack:
            chain = " -> ".join(f"{n}.{p}" for n, p in (*self.stack, key))
            raise GraphError(f"param references loop: {chain}", self.raw.nodes[node].where)
        self.stack.append(key)
        try:
            spec = self.cls(node).param(param)
            assert spec is not None
            body = self.body(node)
            given = body.get("params") or LocDict()
            sets = self.node_sets.get(node, {})
            if param in sets:
                value, from_string, where = sets[param]
                if not from_string:
                    value = self.substitute(value, where)
                value = _coerce(node, spec, value, from_string, where)
            elif isinstance(given, LocDict) and param in given:
                where = given.at(param)
                value = _coerce(node, spec, self.substitute(given[param], where), False, where)
            elif spec.required:
                what = f"node '{node}' ({body.get('type')}): missing required param '{param}' ({spec.doc})"
                raise GraphError(what, body.where)
            else:
                value = spec.default
        finally:
            self.stack.pop()
        self.resolved[key] = value
        return value


def _choose(node: str, body: LocDict, scope: _Scope) -> LocDict:
    """A node whose type depends on a value (a source chosen by its input, as a URI scheme
    chooses one): the first case whose glob patterns match ``choose`` gives type and params.
    Every case is checked, so a typo in a case that is not chosen today is found too."""
    for key in ("type", "params"):
        if key in body:
            raise GraphError(f"node '{node}': with 'choose', give '{key}' in each case", body.at(key))
    # A case may also wire the node's inputs (a path whose nodes differ); else the node's own hold.
    cases = body.get("cases")
    if not isinstance(cases, list) or not cases:
        where = body.at("cases" if "cases" in body else "choose")
        raise GraphError(f"node '{node}': 'choose' needs 'cases', a list of {{match, type, params}}", where)
    value = scope.substitute(body["choose"], body.at("choose"))
    text = "" if value is None else str(value)
    chosen: LocDict | None = None
    patterns: list[str] = []
    for case in cases:
        if not isinstance(case, LocDict):
            raise GraphError(f"node '{node}': each case must be a mapping of match, type, params", body.at("cases"))
        for key in case:
            if key not in CASE_KEYS:
                hint = did_you_mean(key, CASE_KEYS)
                raise GraphError(f"node '{node}': unknown key '{key}' in a case{hint}", case.at(key))
        type_name = case.get("type")
        if not isinstance(type_name, str) or not type_name:
            raise GraphError(f"node '{node}': a case has no 'type'", case.where)
        registry.resolve(type_name, case.at("type"))
        match = case.get("match", "*")  # no match: the default case
        match = [match] if isinstance(match, str) else match
        if not isinstance(match, list) or not all(isinstance(m, str) for m in match):
            raise GraphError(f"node '{node}': 'match' must be a glob pattern or a list of them", case.at("match"))
        patterns += match
        if chosen is None and any(fnmatch.fnmatchcase(text, m) for m in match):
            chosen = case
    if chosen is None:
        shown = ", ".join(patterns)
        raise GraphError(f"node '{node}': no case matches {text!r} (patterns: {shown})", body.at("choose"))
    # The node's other keys (inputs, on_error, queue_size) hold whichever case is chosen.
    out = LocDict({k: v for k, v in body.items() if k not in ("choose", "cases")})
    out.key_where = {k: body.at(k) for k in out}
    for key in ("type", "params", "inputs"):
        if key in chosen:
            out[key] = chosen[key]
            out.key_where[key] = chosen.at(key)
    out.where = chosen.where
    return out


def _build_node(name: str, body: LocDict, raw: _Raw, scope: _Scope) -> NodeSpec:
    where = body.where
    for key in body:
        if key not in NODE_KEYS:
            raise GraphError(f"node '{name}': unknown key '{key}'{did_you_mean(key, NODE_KEYS)}", body.at(key))
    cls = scope.cls(name)
    type_name = body["type"]

    given = body.get("params") or LocDict()
    if not isinstance(given, LocDict):
        raise GraphError(f"node '{name}': 'params' must be a mapping", body.at("params"))
    declared = {p.name: p for p in cls.params}
    sets = scope.node_sets.get(name, {})
    for key in list(given) + list(sets):
        if key not in declared:
            kwhere = given.at(key) if key in given else sets[key][2]
            raise GraphError(f"node '{name}' ({type_name}): unknown param '{key}'{did_you_mean(key, declared)}", kwhere)
    values = {p.name: scope.node_param(name, p.name) for p in cls.params}

    on_error = body.get("on_error", "stop")
    if on_error not in ON_ERROR:
        raise GraphError(f"node '{name}': on_error must be one of {', '.join(ON_ERROR)}", body.at("on_error"))
    node_queue = raw.queue_size
    if "queue_size" in body:
        node_queue = _positive_int(body["queue_size"], body.at("queue_size"), "queue_size")

    wiring = body.get("inputs") or LocDict()
    if not isinstance(wiring, LocDict):
        raise GraphError(f"node '{name}': 'inputs' must map input port to node.port", body.at("inputs"))
    inputs: dict[str, Edge] = {}
    for port, spec in wiring.items():
        iwhere = wiring.at(port)
        if cls.input_port(port) is None:
            known = [p.name for p in cls.inputs]
            raise GraphError(
                f"node '{name}' ({type_name}) has no input port '{port}'{did_you_mean(port, known)}", iwhere
            )
        inputs[port] = _edge(name, port, spec, node_queue, iwhere, scope)
    for p in cls.inputs:
        if p.name not in inputs and not p.optional:
            raise GraphError(f"node '{name}' ({type_name}): input '{p.name}' is not wired to anything", where)
    batched = [port for port, e in inputs.items() if e.batch > 1]
    if batched and len(inputs) > 1:
        raise GraphError(f"node '{name}' input '{batched[0]}': batch needs a node with one wired input", where)

    spec_ = NodeSpec(name, type_name, cls, values, inputs, on_error, where)
    try:
        spec_.instance = cls(name, values)
    except Exception as exc:
        raise GraphError(f"node '{name}' ({type_name}): {exc}", where) from None
    return spec_


def _coerce(node: str, p: Param, value: Any, from_string: bool, where: str) -> Any:
    try:
        return p.coerce(value, from_string=from_string)
    except ValueError as exc:
        raise GraphError(f"node '{node}': param '{p.name}' {exc}", where) from None


def _edge(node: str, port: str, spec: Any, queue_size: int, where: str, scope: _Scope) -> Edge:
    feedback, policy, lag, batch = None, "block", None, 1
    if isinstance(spec, LocDict):
        # Queue settings may come from graph params (live video vs files).
        for key in ("feedback", "lag", "policy", "queue_size", "batch"):
            if key in spec:
                spec[key] = scope.substitute(spec[key], spec.at(key))
        for key in spec:
            if key not in INPUT_KEYS:
                raise GraphError(
                    f"node '{node}' input '{port}': unknown key '{key}'{did_you_mean(key, INPUT_KEYS)}", spec.at(key)
                )
        feedback = spec.get("feedback")
        if feedback is True:
            feedback = "latest"
        if feedback not in (None, False, *FEEDBACK_MODES):
            raise GraphError(
                f"node '{node}' input '{port}': feedback must be latest, previous or streams", spec.at("feedback")
            )
        feedback = feedback or None
        policy = spec.get("policy", "block")
        if policy not in POLICIES:
            raise GraphError(
                f"node '{node}' input '{port}': policy must be one of {', '.join(POLICIES)}", spec.at("policy")
            )
        if "queue_size" in spec:
            queue_size = _positive_int(spec["queue_size"], spec.at("queue_size"), "queue_size")
        if "lag" in spec:
            lag = _positive_int(spec["lag"], spec.at("lag"), "lag")
            if feedback is None:
                raise GraphError(
                    f"node '{node}' input '{port}': lag needs feedback (previous or latest)", spec.at("lag")
                )
        if "batch" in spec:
            batch = _positive_int(spec["batch"], spec.at("batch"), "batch")
            if batch > 1 and (feedback is not None or policy != "block"):
                raise GraphError(
                    f"node '{node}' input '{port}': batch is for ordinary inputs (no feedback, policy block)",
                    spec.at("batch"),
                )
        source = spec.get("from")
    else:
        source = spec
    if not isinstance(source, str) or source.count(".") != 1:
        raise GraphError(f"node '{node}' input '{port}' must name an output as node.port, got {source!r}", where)
    src, _, src_port = source.partition(".")
    if lag is None:
        lag = 0 if feedback == "latest" else 1
    return Edge(src, src_port, node, port, feedback, queue_size, policy, where, lag, batch)


def _check_wiring(specs: dict[str, NodeSpec], edges: list[Edge]) -> None:
    for e in edges:
        if e.src not in specs:
            raise GraphError(
                f"node '{e.dst}' input '{e.dst_port}' is wired to unknown node '{e.src}'{did_you_mean(e.src, specs)}",
                e.where,
            )
        src_cls = specs[e.src].cls
        if src_cls.output_port(e.src_port) is None:
            known = [p.name for p in src_cls.outputs]
            raise GraphError(
                f"node '{e.dst}' input '{e.dst_port}': node '{e.src}' ({specs[e.src].type_name}) has no output "
                f"port '{e.src_port}'{did_you_mean(e.src_port, known)}",
                e.where,
            )


def _sort(specs: dict[str, NodeSpec], edges: list[Edge]) -> list[str]:
    dag = nx.DiGraph()
    dag.add_nodes_from(specs)
    dag.add_edges_from((e.src, e.dst) for e in edges if not e.feedback)
    try:
        cycle = nx.find_cycle(dag)
    except nx.NetworkXNoCycle:
        return list(nx.lexicographical_topological_sort(dag, key=list(specs).index))
    names = [u for u, _ in cycle] + [cycle[0][0]]
    first = next(e for e in edges if (e.src, e.dst) == cycle[-1])
    raise GraphError(
        f"cycle {' -> '.join(names)} is not marked as feedback (mark one input 'feedback: previous' or 'latest')",
        first.where,
    )


def _resolve_types(specs: dict[str, NodeSpec], order: list[str]) -> None:
    # Feedback inputs are checked after the pass, once their producers' types are known.
    late: list[tuple[NodeSpec, Edge]] = []
    for name in order:
        spec = specs[name]
        node = spec.instance
        assert node is not None
        for port, edge in spec.inputs.items():
            spec.input_types[port] = node.input_type(port)
            if edge.feedback:
                late.append((spec, edge))
                continue
            _check_edge(specs, spec, edge)
        resolved_inputs = {p: specs[e.src].output_types[e.src_port] for p, e in spec.inputs.items() if not e.feedback}
        for out in spec.cls.outputs:
            spec.output_types[out.name] = node.output_type(out.name, resolved_inputs)
    for spec, edge in late:
        _check_edge(specs, spec, edge)


def _check_edge(specs: dict[str, NodeSpec], spec: NodeSpec, edge: Edge) -> None:
    produced = specs[edge.src].output_types[edge.src_port]
    problem = produced.feeds(spec.input_types[edge.dst_port])
    if problem:
        raise GraphError(
            f"node '{spec.name}' input '{edge.dst_port}' (from {edge.src}.{edge.src_port}): {problem}", edge.where
        )


def _check_feedback(specs: dict[str, NodeSpec], edges: list[Edge]) -> None:
    """A 'previous' loop waits for every packet to come round; a queue that drops would hang it."""
    dag = nx.DiGraph()
    dag.add_edges_from((e.src, e.dst) for e in edges if not e.feedback)
    for fb in edges:
        if fb.feedback != "previous":
            continue
        if fb.dst not in dag or fb.src not in dag:
            continue
        loop = (nx.descendants(dag, fb.dst) | {fb.dst}) & (nx.ancestors(dag, fb.src) | {fb.src})
        for e in edges:
            if e.dst in loop and e.src in loop and e.policy == "drop_oldest" and not e.feedback:
                raise GraphError(
                    f"node '{e.dst}' input '{e.dst_port}' drops packets inside the 'previous' feedback loop of "
                    f"'{fb.dst}.{fb.dst_port}'; use feedback: latest or policy: block",
                    e.where,
                )
