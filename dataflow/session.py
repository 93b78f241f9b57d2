"""A graph used from an application's own code: push inputs from Python, read results as they come.

``dataflow.open(graph, **params)`` loads and checks a graph as ``dataflow run`` does, then puts an
``AppSource`` in the place of its source (or of the node named by ``feed``) and wires an
``AppSink`` to the ports the app reads (``read``; by default what the graph's own sinks take). The
nodes that no longer lead to a sink are left out (feeding keypoints to the reps graph leaves out
the whole pose pipeline). The graph then runs on its own threads, pipelined as ever; the app pushes
with ``Session.push`` and reads with ``Session.results``, ``Session.map`` or by iterating.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import yaml

from .appio import POLICIES, AppSink, AppSource, Exchange, Result
from .errors import DataflowError, GraphError, did_you_mean
from .graph import DEFAULT_QUEUE_SIZE, Edge, Graph, NodeSpec, load_graph
from .node import In, Out
from .runtime import NodeFailure, RunResult, Runtime

SINK = "app"  # the name of the app-read sink in the running graph (and in its stats)
WHERE = "dataflow.open"
# How long a push waits with the app's results unread and nobody else reading before it calls
# that a deadlock (the graph waits for the app to read; the app waits in push for the graph).
STALL_S = 2.0

_MISSING: Any = object()


class _StopSignal(threading.Event):
    """The runtime's stop event, which also wakes the session's queues: a node failing (or an
    abort) must end an ``AppSource`` waiting for a push and a push waiting for room."""

    def __init__(self, on_set: Any) -> None:
        super().__init__()
        self._on_set = on_set

    def set(self) -> None:
        super().set()
        self._on_set()


class Session:
    """A running graph fed by the app. Use it as a context manager (``with dataflow.open(...) as
    s``): leaving the block closes it (flushing what was pushed), or, on an exception, stops it at
    once. Every method raises ``DataflowError`` with the run's one-line message once a node fails.
    """

    def __init__(
        self, graph: Graph, runtime: Runtime, exchange: Exchange, inputs: list[str], outputs: dict[str, str]
    ) -> None:
        self.graph = graph
        self.inputs = inputs
        """The ports a push fills (one value each), named as the replaced node's output ports."""
        self.outputs = outputs
        """Result name -> the ``node.port`` it is read from."""
        self._runtime = runtime
        self._exchange = exchange
        self._result: RunResult | None = None
        self._run_error: BaseException | None = None
        self._closed = False
        self._aborted = False
        self._thread = threading.Thread(target=self._run, name="dataflow:session", daemon=True)
        self._started = time.perf_counter()
        self._thread.start()

    # -- pushing ----------------------------------------------------------------
    def push(self, value: Any = _MISSING, /, *, timestamp: float | None = None, **ports: Any) -> None:
        """Push one input: ``push(frame)`` for a graph fed on one port, ``push(frame=f, depth=d)``
        for several. ``timestamp`` is the capture time in seconds (default: now). With policy
        ``block`` this waits while the queue is full; with ``drop_oldest`` the oldest push still
        queued is dropped (``dropped`` counts them)."""
        values = self._values(value, ports)
        ts = self._timestamp(timestamp)
        ex = self._exchange
        me = threading.current_thread()
        with ex.cond:
            self._check_open()
            stalled_since = None
            while not ex.room():
                # The graph waits for the app to read and the app waits here: nobody will move. A
                # reader thread that has ended reads no more (its id may even be another's now).
                nobody_reads = not any(t.is_alive() for t in ex.readers if t is not me)
                if len(ex.results) >= ex.results_size and nobody_reads:
                    stalled_since = stalled_since or time.monotonic()
                    if time.monotonic() - stalled_since > STALL_S:
                        raise DataflowError(
                            f"session: {len(ex.results)} results wait to be read and the graph waits for them; "
                            "read session.results() between pushes, iterate the session in another thread, "
                            "or use session.map()"
                        )
                else:
                    stalled_since = None
                # Not an endless wait: a reader ending notifies nobody, so look again now and then.
                ex.cond.wait(0.25)
                self._check_open()
            ex.put(ts, values)

    def _values(self, value: Any, ports: dict[str, Any]) -> dict[str, Any]:
        if value is not _MISSING:
            if ports:
                raise DataflowError("session.push: give one value, or values by port name, not both")
            if len(self.inputs) != 1:
                raise DataflowError(
                    f"session.push: this graph is fed on ports {', '.join(self.inputs)}: push(port=value, ...)"
                )
            if value is None:
                raise DataflowError("session.push: no value (None)")
            return {self.inputs[0]: value}
        if not ports:
            raise DataflowError("session.push: nothing to push")
        for name in ports:
            if name not in self.inputs:
                raise DataflowError(f"session.push: no input port '{name}'{did_you_mean(name, self.inputs)}")
        return ports

    @staticmethod
    def _timestamp(timestamp: float | None) -> float:
        if timestamp is None:
            return time.time()
        try:
            ts = float(timestamp)
        except (TypeError, ValueError):
            raise DataflowError(f"session.push: timestamp must be seconds, got {timestamp!r}") from None
        if not math.isfinite(ts):
            raise DataflowError(f"session.push: timestamp must be a finite number of seconds, got {ts}")
        return ts

    # -- reading ------------------------------------------------------------------
    def results(self, wait: bool = False) -> list[Result]:
        """The results that are ready, oldest first, without waiting (``wait``: until at least
        one is ready or the session has ended). After ``close`` the rest can be read here."""
        ex = self._exchange
        with ex.cond:
            ex.readers.add(threading.current_thread())
            self._check_failed()
            if wait:
                while not ex.results and not ex.ended and not ex.aborted:
                    ex.cond.wait()
                self._check_failed()
            return ex.take_results()

    def __iter__(self) -> Iterator[Result]:
        """Every result, as it comes, until the session's input is closed and all are read (a
        reader thread's loop; the pushing thread calls ``close`` to end it)."""
        ex = self._exchange
        while True:
            batch = self.results(wait=True)
            if not batch:
                with ex.cond:
                    if ex.ended or ex.aborted:
                        return
                continue
            yield from batch

    def map(
        self, items: Iterable[Any], *, timestamps: Iterable[float] | None = None, fps: float | None = None
    ) -> Iterator[Result]:
        """Push every item and yield the results as they come, then close the session and yield the
        rest. Timestamps: from ``timestamps``, or item i at i / ``fps``, or the time of its push."""
        if fps is not None and not fps > 0:
            raise DataflowError(f"session.map: fps must be > 0, got {fps}")
        stamps = iter(timestamps) if timestamps is not None else None
        ex = self._exchange
        for i, item in enumerate(items):
            if stamps is not None:
                ts = next(stamps, None)
                if ts is None:
                    raise DataflowError(f"session.map: timestamps ran out at item {i}")
            else:
                ts = i / fps if fps else None
            values = self._values(item, {})
            stamp = self._timestamp(ts)
            pushed = False
            while not pushed:
                with ex.cond:
                    self._check_open()
                    # No room: hand back what is ready (the graph may be waiting for that), or wait.
                    while not ex.room() and not ex.results:
                        ex.cond.wait()
                        self._check_open()
                    if ex.room():
                        ex.put(stamp, values)
                        pushed = True
                    ready = ex.take_results()
                yield from ready  # outside the lock: the app's loop body runs here
        self.close()
        yield from self.results()

    # -- the end ------------------------------------------------------------------
    def close(self) -> dict[str, Any]:
        """End the input, let the graph process everything pushed, stop every thread; return the
        summary. Results not read yet stay readable with ``results()``. Raises the graph's error."""
        if not self._closed:
            self._closed = True
            self._exchange.close_input()
            self._wait_for_end()
        self._check_failed()
        return self.summary

    def abort(self) -> None:
        """Stop now: queued pushes and results are dropped, every thread ends."""
        if self._aborted:
            return
        self._aborted = self._closed = True
        self._exchange.abort()
        self._runtime.abort()
        self._thread.join()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        if kind is not None:
            self.abort()
            return
        self.close()

    def _wait_for_end(self) -> None:
        # Every stream ends; a node that asks to stay up after its end (a live view) is then stopped.
        workers = list(self._runtime.workers.values())
        while self._thread.is_alive():
            self._thread.join(0.05)
            if self._thread.is_alive() and all(w.stats.finished for w in workers):
                self._runtime.request_stop("session closed")
                self._thread.join()

    def _run(self) -> None:
        try:
            self._result = self._runtime.run(handle_signals=False)
        except BaseException as exc:  # surfaced by close(); the run itself reports node failures
            self._run_error = exc
        finally:
            self._exchange.abort()  # nothing waits for a graph that has stopped
            self._exchange.end()

    # -- state ----------------------------------------------------------------------
    @property
    def pushed(self) -> int:
        """Pushes so far (dropped ones included)."""
        return self._exchange.pushed

    @property
    def dropped(self) -> int:
        """Pushes dropped because the graph was behind (policy ``drop_oldest``)."""
        return self._exchange.dropped

    @property
    def capacity(self) -> int:
        """At most this many pushes are ever held unread (queued, in the graph, waiting as results
        or taken by ``results()`` and still in the app's hands): what a slow reader costs in memory."""
        ex = self._exchange
        # A reader's batch (up to results_size) is out of the queue while the queue fills again.
        return ex.feed_size + _graph_capacity(self._runtime) + 2 * ex.results_size

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def summary(self) -> dict[str, Any]:
        """What the graph's sinks report (``--summary-json``), with ``pushed`` and ``dropped``;
        final once the session is closed, so far while it runs."""
        if self._result is not None:
            summary = dict(self._result.summary)
        else:
            summary = self._runtime._summary(time.perf_counter() - self._started)
        summary["pushed"] = self.pushed
        summary["dropped"] = self.dropped
        return summary

    @property
    def stats(self) -> list[dict[str, Any]]:
        """Per-node stats rows, as ``--stats-json`` has them (so far, while it runs)."""
        if self._result is not None:
            return self._result.stats
        return self._runtime.stats_rows(time.perf_counter())

    @property
    def failure(self) -> NodeFailure | None:
        """The node failure that stopped the graph, with its traceback, if one did."""
        return self._runtime.failure

    # -- errors -----------------------------------------------------------------------
    def _check_failed(self) -> None:
        failure = self._runtime.failure
        if failure is not None:
            error = DataflowError(failure.line())
            error.__cause__ = failure.error
            raise error
        if self._run_error is not None:
            raise DataflowError(f"session: the run failed: {self._run_error}") from self._run_error

    def _check_open(self) -> None:
        self._check_failed()
        if self._closed or self._exchange.aborted:
            raise DataflowError("session: closed, nothing more can be pushed")


def open(
    graph: str | Path,
    *,
    feed: str | None = None,
    read: str | Sequence[str] | Mapping[str, str] | None = None,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    policy: str = "block",
    results_size: int | None = None,
    overrides: Sequence[str] = (),
    **params: Any,
) -> Session:
    """Open a graph (a file, or a graph's name: ``"reps"``) as a session the app feeds.

    ``params`` set graph params (``exercise="squat"``) or node params (``**{"pose.model": ...}``)
    as ``--set`` does; ``overrides`` takes ``--set`` strings. ``feed`` names the node the app's
    pushes replace (default: the graph's one source); ``read`` the ports results carry, as
    ``node.port`` (a result is keyed by the port's name) or ``{name: "node.port"}`` (default:
    every port the graph's own sinks take). ``queue_size`` pushes wait for the graph at most;
    ``policy`` ``block`` makes a push wait for room, ``drop_oldest`` drops the oldest waiting push.
    ``results_size`` results wait for the app at most before the graph waits (default: enough for
    everything inside the graph, so that an app reading between pushes never holds it up).
    """
    if policy not in POLICIES:
        raise GraphError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}", WHERE)
    if not isinstance(queue_size, int) or queue_size < 1:
        raise GraphError(f"queue_size must be a positive integer, got {queue_size!r}", WHERE)
    if results_size is not None and (not isinstance(results_size, int) or results_size < 1):
        raise GraphError(f"results_size must be a positive integer, got {results_size!r}", WHERE)
    sets = [*overrides, *(f"{key}={_as_text(value)}" for key, value in params.items())]
    loaded = load_graph(graph, sets)
    embedded, inputs, outputs = embed(loaded, feed, read)
    runtime = Runtime(embedded)
    size = results_size or max(DEFAULT_QUEUE_SIZE, _graph_capacity(runtime) + queue_size)
    exchange = Exchange(queue_size, policy, size)
    exchange.stream = next(n for n in embedded.order if isinstance(embedded.nodes[n].instance, AppSource))
    for spec in (embedded.nodes[n] for n in embedded.order):
        if isinstance(spec.instance, (AppSource, AppSink)):
            spec.instance.exchange = exchange
    runtime.stop_event = _StopSignal(exchange.abort)
    _setup(embedded)
    return Session(embedded, runtime, exchange, inputs, outputs)


def _as_text(value: Any) -> str:
    """A Python value as the ``--set`` text that gives it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    if value is None:
        return ""
    return str(value)


def _setup(graph: Graph) -> None:
    """Set up every node in order, naming the node whose setup fails; close those already set up."""
    done = []
    for name in graph.order:
        spec = graph.nodes[name]
        assert spec.instance is not None
        try:
            spec.instance.setup()
        except BaseException as exc:
            for node in reversed(done):
                try:
                    node.close()
                except Exception:  # the setup error is the one to report
                    pass
            if isinstance(exc, DataflowError) or not isinstance(exc, Exception):
                raise
            raise DataflowError(f"node '{name}' ({spec.type_name}): setup failed: {type(exc).__name__}: {exc}") from exc
        done.append(spec.instance)


def _graph_capacity(runtime: Runtime) -> int:
    """Packets the graph can hold at once: queued on every input, held by joins (as many again)
    and in flight in asynchronous nodes."""
    total = 0
    for w in runtime.workers.values():
        total += sum(2 * c.maxsize for c in w.channels if not c.feedback) + w.in_flight_limit()
    return total


# -- rewiring the graph ---------------------------------------------------------------


def embed(
    graph: Graph, feed: str | None, read: str | Sequence[str] | Mapping[str, str] | None
) -> tuple[Graph, list[str], dict[str, str]]:
    """The graph with an ``AppSource`` in the place of ``feed`` and an ``AppSink`` reading ``read``,
    without the nodes that no longer lead to a sink; also the fed ports and the results' names."""
    if SINK in graph.nodes:
        raise GraphError(f"graph '{graph.name}' has a node named '{SINK}', the name a session gives its reader")
    feed = _feed_node(graph, feed)
    reads = _reads(graph, read, feed)

    edges = [e for e in graph.edges if e.dst != feed]
    for name, (src, port) in reads.items():
        edges.append(Edge(src, port, SINK, name, None, DEFAULT_QUEUE_SIZE, "block", WHERE))
    # Keep what leads to a sink (a node without outputs) or to the app; the rest has no use now.
    dag = nx.DiGraph()
    dag.add_nodes_from([*graph.nodes, SINK])
    dag.add_edges_from((e.src, e.dst) for e in edges)
    ends = {n for n, spec in graph.nodes.items() if not spec.cls.outputs and spec.cls.needed and n != feed} | {SINK}
    keep = set().union(*(nx.ancestors(dag, n) | {n} for n in ends))
    if feed not in keep:
        raise GraphError(f"nothing the app reads, nor any sink, takes what node '{feed}' gives", WHERE)
    edges = [e for e in edges if e.src in keep and e.dst in keep]

    old = graph.nodes[feed]
    wired = [p.name for p in old.cls.outputs if any(e.src == feed and e.src_port == p.name for e in edges)]
    source_cls = AppSource.with_ports([Out(p, old.output_types[p]) for p in wired])
    source = NodeSpec(feed, "app_source", source_cls, {}, {}, "stop", old.where)
    source.instance = source_cls(feed, {})
    source.output_types = {p: old.output_types[p] for p in wired}

    sink_edges = {e.dst_port: e for e in edges if e.dst == SINK}
    in_types = {name: graph.nodes[src].output_types[port] for name, (src, port) in reads.items()}
    sink_cls = AppSink.with_ports([In(name, in_types[name], optional=True) for name in reads])
    sink = NodeSpec(SINK, "app_sink", sink_cls, {}, sink_edges, "stop", WHERE)
    sink.instance = sink_cls(SINK, {})
    sink.input_types = in_types

    nodes: dict[str, NodeSpec] = {}
    for name in graph.order:
        if name == feed:
            nodes[name] = source
        elif name in keep:
            nodes[name] = graph.nodes[name]
    nodes[SINK] = sink
    # The kept nodes' order is still topological: the fed node lost its inputs, the sink comes last.
    order = [*(n for n in graph.order if n in nodes), SINK]
    embedded = Graph(graph.name, graph.path, graph.params, nodes, edges, order)
    return embedded, wired, {name: f"{src}.{port}" for name, (src, port) in reads.items()}


def _feed_node(graph: Graph, feed: str | None) -> str:
    if feed is not None:
        if feed not in graph.nodes:
            raise GraphError(f"feed: no node named '{feed}'{did_you_mean(feed, graph.nodes)}", WHERE)
        return feed
    sources = [n for n in graph.order if graph.nodes[n].cls.is_source()]
    if len(sources) != 1:
        names = ", ".join(sources) or "none"
        raise GraphError(
            f"graph '{graph.name}' has {len(sources)} sources ({names}): name the node the app feeds, feed='NAME'",
            WHERE,
        )
    return sources[0]


def _reads(graph: Graph, read: str | Sequence[str] | Mapping[str, str] | None, feed: str) -> dict[str, tuple[str, str]]:
    """Result name -> (node, port) of every port the app reads."""
    if read is None:
        # What the graph's own sinks take, each port once; not the app's own input back.
        wanted: list[tuple[str, str]] = []
        for name in graph.order:
            spec = graph.nodes[name]
            if spec.cls.outputs or name == feed or not spec.cls.needed:
                continue
            for e in spec.inputs.values():
                if not e.feedback and e.src != feed and (e.src, e.src_port) not in wanted:
                    wanted.append((e.src, e.src_port))
        if not wanted:
            raise GraphError(f"graph '{graph.name}' has no sink to read from: name the ports, read='node.port'", WHERE)
        ports = [p for _, p in wanted]
        # A port name two nodes share is told apart by its node.
        return {(p if ports.count(p) == 1 else f"{n}.{p}"): (n, p) for n, p in wanted}
    if isinstance(read, str):
        read = [read]
    if isinstance(read, Mapping):
        named = dict(read)
    else:
        named = {}
        for ref in read:
            key = str(ref).partition(".")[2]
            named[key if key not in named else str(ref)] = ref
    out: dict[str, tuple[str, str]] = {}
    for name, ref in named.items():
        if not isinstance(ref, str) or ref.count(".") != 1:
            raise GraphError(f"read: '{ref}' must name an output as node.port", WHERE)
        node, _, port = ref.partition(".")
        if node not in graph.nodes:
            raise GraphError(f"read: no node named '{node}'{did_you_mean(node, graph.nodes)}", WHERE)
        spec = graph.nodes[node]
        if spec.cls.output_port(port) is None:
            known = [p.name for p in spec.cls.outputs]
            raise GraphError(f"read: node '{node}' has no output port '{port}'{did_you_mean(port, known)}", WHERE)
        out[name] = (node, port)
    return out
