"""Running a checked graph: one worker thread per node, bounded queues between them,
joins by sequence number, feedback edges, end-of-stream, errors, signals and stats."""

from __future__ import annotations

import inspect
import logging
import math
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from .channels import EMPTY, ENDED, EOS, Channel, Inbox, Packet
from .errors import DataflowError
from .graph import Graph, NodeSpec
from .node import Node, Output, Sample
from .stats import NodeStats, stats_document

log = logging.getLogger("dataflow")

# How long a stop request (Ctrl-C, SIGTERM) lets queued packets drain before aborting.
STOP_GRACE_S = 0.8
# Outputs of packets that took longer than this are sent immediately rather than batched.
FLUSH_AFTER_S = 100e-6
# Cheap packets are sent downstream in batches of at most this many (one lock per batch).
FLUSH_EVERY = 64


@dataclass
class NodeFailure:
    """What stopped a run: the node, the packet's sequence number and the original error."""

    node: str
    seq: int | None
    error: BaseException
    traceback: str

    def line(self) -> str:
        at = f" at seq {self.seq}" if self.seq is not None else ""
        kind = "" if isinstance(self.error, DataflowError) else f"{type(self.error).__name__}: "
        return f"node '{self.node}' failed{at}: {kind}{self.error}"


@dataclass
class RunResult:
    exit_code: int
    wall_s: float
    stats: list[dict[str, Any]]
    summary: dict[str, Any]
    failure: NodeFailure | None = None
    stopped_by: str | None = None
    process_cpu_s: float | None = None  # the whole process's CPU over the run, every thread

    def stats_json(self) -> dict[str, Any]:
        return stats_document(self.stats, self.wall_s, process_cpu_s=self.process_cpu_s)


class _Stop(Exception):
    """Raised inside a worker when the run is aborted."""


class _Failed(Exception):
    """Raised inside a worker whose node failed: it sends on what it has, then ends its streams."""


class Worker:
    """Runs one node: takes packets from its inbox, joins them, calls the node, emits."""

    def __init__(self, runtime: Runtime, spec: NodeSpec) -> None:
        self.runtime = runtime
        self.spec = spec
        self.name = spec.name
        self.skip_errors = spec.on_error == "skip"
        self.stats = NodeStats(spec.name, spec.type_name)
        self.ports = [e.dst_port for e in spec.inputs.values()]
        self.channels = [
            Channel(e.dst_port, e.queue_size, e.policy == "drop_oldest", e.feedback, e.lag, e.batch)
            for e in spec.inputs.values()
        ]
        self.inbox = Inbox(self.channels)
        self.main = [i for i, c in enumerate(self.channels) if not c.feedback]
        self.feedback = [i for i, c in enumerate(self.channels) if c.feedback]
        self.optional = {p.name for p in spec.cls.inputs if p.optional}
        self.unwired = {p.name: None for p in spec.cls.inputs if p.name not in self.ports}
        # port -> list of (inbox, channel index) downstream
        self.targets: dict[str, list[tuple[Inbox, int]]] = {p.name: [] for p in spec.cls.outputs}
        self.flat_targets: list[tuple[Inbox, int]] = []
        self.outbox: list[list[Packet]] = []
        self.port_targets: list[tuple[str, list[int]]] = [(p.name, []) for p in spec.cls.outputs]
        self.instances: dict[str, Node] = {}
        self.first: Node | None = spec.instance  # checked and set up before the run
        self.first_taken = False
        # Instances of streams that ended mid-run: closed, kept for the run's summary.
        self.retired: list[tuple[str, Node]] = []
        self.closed_ids: set[int] = set()
        self.out_seqs: dict[str, int] = {}  # next seq of each stream this node started (Output)
        self._started: dict[str, int] = {}
        self.out_ports: dict[str, set[str]] = {}  # the output ports each started stream goes on
        self.generated = 0
        self.thread = threading.Thread(target=self._run, name=f"dataflow:{spec.name}", daemon=True)
        self.done = False
        self.closed = False

    # -- instances per stream -------------------------------------------------
    def instance(self, stream: str) -> Node:
        node = self.instances.get(stream)
        if node is None:
            if self.first is not None and (not self.first_taken or not self.spec.cls.stateful):
                node = self.first
                self.first_taken = True
            else:
                node = self.spec.cls(self.name, self.spec.params)
                node.setup()
            self.instances[stream] = node
            self._started.setdefault(stream, len(self._started))
        return node

    def end_stream(self, stream: str, seq: int, ts: float) -> None:
        """A stream ended mid-run: pass its end on, then close its instance of a stateful node
        (a shared instance stays open: other streams still use it)."""
        self.send_end(stream, seq, ts)
        node = self.instances.pop(stream, None)
        if node is None or not self.spec.cls.stateful:
            return
        self.retired.append((stream, node))
        self._close_one(node)

    def send_end(self, stream: str, seq: int, ts: float) -> None:
        """Send the end of ``stream`` on the outputs that carried it (a stream this node started:
        the ports it named; any other: every output)."""
        self.out_seqs.pop(stream, None)
        ports = self.out_ports.pop(stream, None)
        if self.flat_targets:
            packet = Packet(stream, seq, ts, ENDED)
            for port, indexes in self.port_targets:
                if ports is None or port in ports:
                    for k in indexes:
                        self.outbox[k].append(packet)
            self.flush()

    def streams_and_nodes(self) -> list[tuple[str, Node]]:
        """(stream, instance) of every stream this worker served, in the order they started
        (the set-up instance alone when it served none)."""
        live = list(self.instances.items())
        pairs = sorted(self.retired + live, key=lambda p: self._started.get(p[0], 0))
        if not pairs and self.first is not None:
            pairs = [("", self.first)]
        return pairs

    # -- emitting -------------------------------------------------------------
    def connect(self, port: str, inbox: Inbox, index: int) -> None:
        self.targets[port].append((inbox, index))
        self.flat_targets.append((inbox, index))
        self.outbox.append([])
        self.port_targets = [
            (p, [k for k, t in enumerate(self.flat_targets) if t in targets]) for p, targets in self.targets.items()
        ]

    def emit(self, stream: str, seq: int, ts: float, values: Any) -> None:
        """Buffer one packet per output port (EMPTY where the node gave no value); ``flush`` sends.
        ``values`` may be a list of ``Output``: values on other streams, or their end."""
        if values.__class__ is list:
            self.emit_outputs(stream, seq, ts, values)
            return
        for port, indexes in self.port_targets:
            data = EMPTY if values is None else values.get(port, EMPTY)
            if data is not EMPTY:
                self.stats.packets_out += 1
            if indexes:
                packet = Packet(stream, seq, ts, data)
                outbox = self.outbox
                for k in indexes:
                    outbox[k].append(packet)

    def emit_outputs(self, stream: str, seq: int, ts: float, outputs: list[Output]) -> None:
        """What a node returned as a list of ``Output``: each on its stream (started streams get
        their own seqs), ends sent on; the packet's own stream gets EMPTY when none is for it, so
        that joins and feedback downstream know its seq is settled."""
        own: dict[str, Any] | None = None
        for item in outputs:
            if not isinstance(item, Output):
                raise TypeError(f"node '{self.name}' returned a list holding {type(item).__name__}, not Output")
            target = item.stream
            if target is None or target == stream:
                if item.end:
                    raise TypeError(f"node '{self.name}' cannot end its input's own stream {stream!r}")
                own = item.values
                continue
            next_seq = self.out_seqs.get(target, 0)
            if item.end:
                if target in self.out_seqs:
                    self.send_end(target, next_seq, ts)
                continue
            self.out_seqs[target] = next_seq + 1
            # A started stream goes only on the ports it has been given values for: a consumer of
            # another port would wait forever for the rest of a stream that never comes to it.
            ports = self.out_ports.setdefault(target, set())
            ports.update(item.values or ())
            self._emit_on(target, next_seq, ts, item.values or {}, ports)
        self.emit(stream, seq, ts, own)

    def _emit_on(self, stream: str, seq: int, ts: float, values: dict[str, Any], ports: set[str]) -> None:
        for port, indexes in self.port_targets:
            if port not in ports:
                continue
            data = values.get(port, EMPTY)
            if data is not EMPTY:
                self.stats.packets_out += 1
            if indexes:
                packet = Packet(stream, seq, ts, data)
                for k in indexes:
                    self.outbox[k].append(packet)

    def flush(self) -> None:
        """Send buffered packets. Every consumer gets what fits before we wait on a full one:
        waiting on one while another's packets sit here would deadlock a diamond whose join
        holds the fast branch until the slow branch brings the same sequence number."""
        outbox = self.outbox
        if len(outbox) == 1:  # one consumer (a chain): nothing to be fair to, wait inside one lock
            if outbox[0]:
                packets, outbox[0] = outbox[0], []
                inbox, index = self.flat_targets[0]
                inbox.put_many(index, packets)
            return
        pending = [k for k in range(len(outbox)) if outbox[k]]
        while pending:
            still = []
            for k in pending:
                inbox, index = self.flat_targets[k]
                taken = inbox.offer(index, outbox[k])
                outbox[k] = outbox[k][taken:]
                if outbox[k]:
                    still.append(k)
            if still:
                inbox, index = self.flat_targets[still[0]]
                inbox.wait_room(index)
            pending = still

    def emit_eos(self) -> None:
        self.flush()
        for inbox, index in self.flat_targets:
            inbox.put(index, EOS)

    # -- the thread -----------------------------------------------------------
    def _run(self) -> None:
        self.stats.thread_started()
        try:
            if self.spec.cls.is_source():
                self._run_source()
            elif len(self.channels) == 1 and self.in_flight_limit() > 1:
                self._run_async(self.in_flight_limit())
            elif len(self.channels) == 1:
                self._run_single()
            else:
                self._run_joined(self.in_flight_limit())
            self.emit_eos()
            self.stats.finished = time.perf_counter()
            self._linger()
        except _Failed:
            self.inbox.discard()
            self.emit_eos()
        except _Stop:
            pass
        except BaseException as exc:
            self.runtime.fail(NodeFailure(self.name, None, exc, traceback.format_exc()))
        finally:
            self.stats.finished = self.stats.finished or time.perf_counter()
            self._close()
            self.stats.thread_ending()
            self.done = True
            self.runtime.worker_done()

    def _linger(self) -> None:
        """Keep nodes that asked for it up after their stream ended, until the time passes or the
        run is stopped (Ctrl-C, a failure elsewhere)."""
        seconds = max((node.ended() for node in self.nodes()), default=0.0)
        if seconds > 0 and not self.runtime.stop_event.is_set():
            self.runtime.stop_event.wait(None if math.isinf(seconds) else seconds)

    def in_flight_limit(self) -> int:
        return self.first.max_in_flight() if self.first is not None else 1

    def nodes(self) -> list[Node]:
        """Every distinct instance this worker holds (also those of streams that ended)."""
        every = (self.first, *self.instances.values(), *(n for _, n in self.retired))
        return list({id(n): n for n in every if n is not None}.values())

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for node in self.nodes():
            self._close_one(node)

    def _close_one(self, node: Node) -> None:
        if id(node) in self.closed_ids:
            return
        self.closed_ids.add(id(node))
        try:
            node.close()
        except Exception as exc:
            self.runtime.fail(NodeFailure(self.name, None, exc, traceback.format_exc()))

    def _call(self, node: Node, packet: Packet, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        node.packet = packet
        t0 = perf_counter()
        try:
            out = node.process(**kwargs)
        except Exception as exc:
            out = self._fail(packet, exc)
        self.stats.times.append(perf_counter() - t0)
        return out

    def _fail(self, packet: Packet, exc: Exception) -> None:
        """Skip the packet (``on_error: skip``) or stop the run naming the node and seq."""
        if self.skip_errors:
            self.stats.errors_skipped += 1
            log.debug("node %s skipped seq %s: %s", self.name, packet.seq, exc)
            return None
        self.runtime.fail(NodeFailure(self.name, packet.seq, exc, traceback.format_exc()))
        raise _Failed from None

    def _run_source(self) -> None:
        """A source's loop: step its generator, number and stamp each item, send it on. Also a
        hot loop (every packet of the graph starts here): a plain dict of values is emitted
        inline, and times and counts go to the stats at each flush, as in ``_run_single``."""
        stop = self.runtime.stop_event
        seqs: dict[str, int] = {}
        node = self.instance(self.name)
        generator = iter(node.generate())
        step = generator.__next__
        stats, outbox, port_targets = self.stats, self.outbox, self.port_targets
        record, settle = stats.times.raw.append, stats.times.settle
        default_stream = self.name
        flush_each = self.spec.cls.flush_each
        now = time.time
        generated, sent = self.generated, 0
        try:
            while not stop.is_set():
                t0 = perf_counter()
                try:
                    item = step()
                except StopIteration:
                    record(perf_counter() - t0)
                    break
                except Exception as exc:
                    self.runtime.fail(NodeFailure(self.name, seqs.get(default_stream), exc, traceback.format_exc()))
                    raise _Failed from None
                dt = perf_counter() - t0
                record(dt)
                if isinstance(item, Sample):
                    stream = item.stream or default_stream
                    ts = item.timestamp if item.timestamp is not None else now()
                    values = item.values
                else:
                    stream, ts, values = default_stream, now(), item
                seq = seqs.get(stream, 0)
                seqs[stream] = seq + 1
                generated += 1
                if values.__class__ is dict:  # what ``emit`` does with a dict, without the call
                    for port, indexes in port_targets:
                        data = values.get(port, EMPTY)
                        if data is not EMPTY:
                            sent += 1
                        if indexes:
                            packet = Packet(stream, seq, ts, data)
                            for k in indexes:
                                outbox[k].append(packet)
                else:
                    self.emit(stream, seq, ts, values)
                # A slow source (camera, decoder) sends each frame at once; a fast one in small batches.
                if flush_each or dt > FLUSH_AFTER_S or not generated % FLUSH_EVERY:
                    self.generated, stats.packets_out, sent = generated, stats.packets_out + sent, 0
                    settle()
                    self.flush()
        finally:
            self.generated, stats.packets_out = generated, stats.packets_out + sent
        settle()
        close = getattr(generator, "close", None)
        if close is not None:
            close()

    def _run_single(self) -> None:
        """The common case, one input: the per-packet path is inlined because it is the engine's hot loop."""
        take = self.inbox.take_single
        port = self.ports[0]
        required = port not in self.optional
        stats, times, outbox = self.stats, self.stats.times, self.outbox
        # Per packet: a list append for its time and a local count of values sent; binning the
        # times and adding the count to the stats wait for the next flush (every FLUSH_EVERY
        # cheap packets, after each slow one), so a live report stays as current as the outputs.
        record, settle, fail = times.raw.append, times.settle, self._fail
        port_targets, unwired = self.port_targets, self.unwired
        # Positional calls are cheaper; used when the input is process's first parameter.
        positional = not unwired and _first_parameter(self.spec.cls.process) == port
        stream, process = None, None
        sent = 0  # values sent since the last flush

        def flush() -> None:
            nonlocal sent
            stats.packets_out += sent
            sent = 0
            settle()
            self.flush()

        try:
            while True:
                items = take()
                if items is None:
                    raise _Stop
                stats.packets_in += len(items)
                for n, packet in enumerate(items, 1):
                    if packet is EOS:
                        stats.packets_in -= 1
                        flush()
                        return
                    data = packet.data
                    if data is ENDED:
                        stats.packets_in -= 1
                        if packet.stream == stream:
                            stream = None  # its instance is closed: look the next one up again
                        self.end_stream(packet.stream, packet.seq, packet.timestamp)
                        continue
                    if data is EMPTY and required:
                        out = None
                    else:
                        if packet.stream != stream:
                            stream = packet.stream
                            node = self.instance(stream)
                            process = node.process
                        node.packet = packet
                        t0 = perf_counter()
                        try:
                            if positional:
                                out = process(None if data is EMPTY else data)
                            else:
                                out = process(**{port: None if data is EMPTY else data}, **unwired)
                        except Exception as exc:
                            out = fail(packet, exc)
                        dt = perf_counter() - t0
                        record(dt)
                        if dt > FLUSH_AFTER_S:
                            n = 0
                        if out.__class__ is list:
                            self.emit_outputs(packet.stream, packet.seq, packet.timestamp, out)
                            if not n % FLUSH_EVERY:
                                flush()
                            continue
                    for out_port, indexes in port_targets:
                        value = EMPTY if out is None else out.get(out_port, EMPTY)
                        if value is not EMPTY:
                            sent += 1
                        if indexes:
                            # A value passed on unchanged goes on in its own packet (the same stream,
                            # seq and timestamp; packets are never changed): no allocation per hop.
                            if value is data:
                                out_packet = packet
                            else:
                                out_packet = Packet(packet.stream, packet.seq, packet.timestamp, value)
                            for k in indexes:
                                outbox[k].append(out_packet)
                    # Send at once after slow work (keeps stages overlapped); batch only cheap packets.
                    if not n % FLUSH_EVERY:
                        flush()
                flush()
        finally:
            stats.packets_out += sent  # also when a failure ends the loop

    def _run_async(self, limit: int) -> None:
        """One input, up to ``limit`` packets in flight: ``process`` returns futures, results
        are emitted in input order. The worker sleeps until a packet arrives or a result is
        ready, so new work is started while earlier work is still running."""
        take = self.inbox.take_single
        port = self.ports[0]
        required = port not in self.optional
        flying = _InFlight(self, limit)
        while True:
            items = take()  # [] when woken by a finished result
            if items is None:
                raise _Stop
            for packet in items:
                if packet is EOS:
                    flying.finish()
                    return
                if packet.data is ENDED:
                    flying.finish()  # the stream's results go out before its end
                    self.end_stream(packet.stream, packet.seq, packet.timestamp)
                    continue
                self.stats.packets_in += 1
                if packet.data is EMPTY and required:
                    flying.add(packet, None, 0.0)
                    continue
                data = None if packet.data is EMPTY else packet.data
                flying.start(self.instance(packet.stream), packet, {port: data, **self.unwired})
            flying.emit_ready()
            self.flush()

    def _run_joined(self, limit: int) -> None:
        """Align main inputs by (stream, seq); attach feedback values; call the node (with
        ``limit`` > 1, several calls in flight, as in ``_run_async``)."""
        flying = _InFlight(self, limit) if limit > 1 else None
        joiner = _Joiner(self, flying)
        while True:
            items = self.inbox.take(joiner.room())  # [] when woken by a finished result
            if items is None:
                raise _Stop
            for index, packet in items:
                joiner.add(index, packet)
            joiner.fire()
            if flying is not None:
                flying.emit_ready()
            self.flush()
            if joiner.finished():
                if flying is not None:
                    flying.finish()
                return


class _InFlight:
    """An asynchronous node's pending calls: ``process`` returns a ``Future``; results are
    emitted in the order the inputs came, at most ``limit`` pending at once."""

    def __init__(self, worker: Worker, limit: int) -> None:
        self.w = worker
        self.limit = limit
        self.pending: deque[tuple[Packet, Any, float]] = deque()
        self.wake = worker.inbox.wake

    def start(self, node: Node, packet: Packet, kwargs: dict[str, Any]) -> None:
        node.packet = packet
        t0 = perf_counter()
        try:
            result = node.process(**kwargs)
        except Exception as exc:
            result = self.w._fail(packet, exc)
        self.add(packet, result, t0)

    def add(self, packet: Packet, result: Any, t0: float) -> None:
        """Queue a result in input order: a Future, or the outputs themselves (None: nothing)."""
        if isinstance(result, Future):
            result.add_done_callback(lambda _f: self.wake())  # the worker's wait ends
        self.pending.append((packet, result, t0))
        while len(self.pending) >= self.limit:
            self._emit_oldest()  # every slot is busy: wait for the oldest

    def emit_ready(self) -> None:
        pending = self.pending
        while pending and (not isinstance(pending[0][1], Future) or pending[0][1].done()):
            self._emit_oldest()

    def finish(self) -> None:
        while self.pending:
            self._emit_oldest()

    def _emit_oldest(self) -> None:
        packet, out, t0 = self.pending.popleft()
        if isinstance(out, Future):
            try:
                out = out.result()
            except Exception as exc:  # the node's error, reported with its seq
                out = self.w._fail(packet, exc)
            self.w.stats.times.append(perf_counter() - t0)
        self.w.emit(packet.stream, packet.seq, packet.timestamp, out)


class _Joiner:
    """Join state of a node with several inputs or feedback inputs."""

    def __init__(self, worker: Worker, flying: _InFlight | None = None) -> None:
        self.w = worker
        self.flying = flying
        self.heads: dict[str, dict[int, deque[Packet]]] = {}
        self.streams: list[str] = []
        self.eos = {i: False for i in worker.main}
        self.held = [0] * len(worker.channels)  # packets taken but not yet joined, per input
        self.latest: dict[int, dict[str, Any]] = {i: {} for i in worker.feedback}
        self.latest_seq: dict[int, dict[str, int]] = {i: {} for i in worker.feedback}  # newest seq come round
        self.previous: dict[int, dict[str, dict[int, Any]]] = {i: {} for i in worker.feedback}
        # Sequence numbers this node processed, newest last, as far back as a feedback lag reaches.
        self.done: dict[str, deque[int]] = {}
        self.max_lag = max((worker.channels[i].lag for i in worker.feedback), default=1) or 1
        self.ending: dict[str, set[int]] = {}  # stream -> main inputs that brought its end
        self.end_at: dict[str, tuple[int, float]] = {}

    def add(self, index: int, packet: Any) -> None:
        ch = self.w.channels[index]
        if ch.feedback:
            if packet is EOS:
                return
            if packet.data is ENDED:
                # Stream gone: its values leave the feedback (a 'streams' input lists it no more).
                self.latest[index].pop(packet.stream, None)
                self.previous[index].pop(packet.stream, None)
                return
            if ch.feedback == "streams":
                if packet.data is not EMPTY:
                    self.latest[index][packet.stream] = packet.data
                return
            if ch.feedback == "latest":
                if packet.data is not EMPTY:
                    self.latest[index][packet.stream] = packet.data
                newest = self.latest_seq[index]
                newest[packet.stream] = max(packet.seq, newest.get(packet.stream, -1))
            else:
                self.previous[index].setdefault(packet.stream, {})[packet.seq] = packet.data
            return
        if packet is EOS:
            self.eos[index] = True
            return
        if packet.data is ENDED:
            self.ending.setdefault(packet.stream, set()).add(index)
            self.end_at[packet.stream] = (packet.seq, packet.timestamp)
            return
        per_stream = self.heads.get(packet.stream)
        if per_stream is None:
            per_stream = self.heads[packet.stream] = {i: deque() for i in self.w.main}
            self.streams.append(packet.stream)
        per_stream[index].append(packet)
        self.held[index] += 1

    def room(self) -> list[int]:
        """How many more packets each input may hand over (feedback inputs: always)."""
        return [ch.maxsize - self.held[i] if not ch.feedback else 1 << 30 for i, ch in enumerate(self.w.channels)]

    def finished(self) -> bool:
        return all(self.eos.values()) and not any(any(q for q in h.values()) for h in self.heads.values())

    def fire(self) -> None:
        for stream in self.streams:
            while self._fire_one(stream):
                pass
        for stream in [s for s, got in self.ending.items() if self._ended(s, got)]:
            self._end(stream)

    def _ended(self, stream: str, got: set[int]) -> bool:
        """Every main input brought the stream's end (or ended altogether) and nothing of it waits."""
        if not all(i in got or self.eos[i] for i in self.w.main):
            return False
        heads = self.heads.get(stream)
        return heads is None or not any(heads.values())

    def _end(self, stream: str) -> None:
        del self.ending[stream]
        seq, ts = self.end_at.pop(stream)
        if self.flying is not None:
            self.flying.finish()  # the stream's results go out before its end
        self.heads.pop(stream, None)
        if stream in self.streams:
            self.streams.remove(stream)
        self.done.pop(stream, None)
        for per_input in (*self.latest_seq.values(), *self.previous.values()):
            per_input.pop(stream, None)
        self.w.end_stream(stream, seq, ts)

    def _fire_one(self, stream: str) -> bool:
        w = self.w
        heads = self.heads[stream]
        seq = None
        for i in w.main:
            q = heads[i]
            if q:
                if seq is None or q[0].seq < seq:
                    seq = q[0].seq
            elif not self.eos[i] and i not in self.ending.get(stream, ()):
                return False  # this input may still bring the lowest seq
        if seq is None:
            return False
        feedback_values = self._feedback(stream)
        if feedback_values is None:
            return False  # waiting for the loop to bring the previous seq round
        kwargs: dict[str, Any] = {}
        packet: Packet | None = None
        complete = True
        for i in w.main:
            q = heads[i]
            port = w.ports[i]
            if q and q[0].seq == seq:
                p = q.popleft()
                self.held[i] -= 1
                packet = packet or p
                if p.data is EMPTY:
                    complete &= port in w.optional
                    kwargs[port] = None
                else:
                    kwargs[port] = p.data
            else:
                complete &= port in w.optional
                kwargs[port] = None
        assert packet is not None
        self.done.setdefault(stream, deque(maxlen=self.max_lag)).append(seq)
        w.stats.packets_in += 1  # one aligned set of inputs
        if not complete:
            if self.flying is not None:
                self.flying.add(packet, None, 0.0)  # keeps its place among pending results
            else:
                w.emit(stream, seq, packet.timestamp, None)
            return True
        kwargs.update(feedback_values)
        kwargs.update(w.unwired)
        if self.flying is not None:
            self.flying.start(w.instance(stream), packet, kwargs)
        else:
            w.emit(stream, seq, packet.timestamp, w._call(w.instance(stream), packet, kwargs))
        return True

    def _feedback(self, stream: str) -> dict[str, Any] | None:
        """Feedback values for the next packet, or None while a 'previous' value is still on its way."""
        values: dict[str, Any] = {}
        done = self.done.get(stream, ())
        for i in self.w.feedback:
            ch = self.w.channels[i]
            port = self.w.ports[i]
            if ch.feedback == "streams":
                values[port] = dict(self.latest[i])  # the newest value of every stream going on
                continue
            if ch.feedback == "latest":
                # Bounded: wait until the loop has brought round at least the packet ``lag`` before.
                if ch.lag and len(done) >= ch.lag and self.latest_seq[i].get(stream, -1) < done[-ch.lag]:
                    return None
                values[port] = self.latest[i].get(stream)
                continue
            if len(done) < ch.lag:
                values[port] = None  # the first packets have nothing that far back
                continue
            wanted = done[-ch.lag]
            got = self.previous[i].get(stream, {})
            if wanted not in got:
                return None
            value = got[wanted]
            for old in [s for s in got if s < wanted]:
                del got[old]
            values[port] = None if value is EMPTY else value
        return values


class Runtime:
    """Owns the workers of one run and the run's life: start, wait, stop, abort, report."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.stop_event = threading.Event()
        self.all_done = threading.Event()
        self.failure: NodeFailure | None = None
        self.stopped_by: str | None = None
        self.lock = threading.Lock()
        self.workers = {name: Worker(self, graph.nodes[name]) for name in graph.order}
        for edge in graph.edges:
            dst = self.workers[edge.dst]
            index = dst.ports.index(edge.dst_port)
            self.workers[edge.src].connect(edge.src_port, dst.inbox, index)
        self.remaining = len(self.workers)
        self.cpu_started: float | None = None  # time.process_time() when the run started
        self.cpu_ended: float | None = None

    # -- called from worker threads --------------------------------------------
    def worker_done(self) -> None:
        with self.lock:
            self.remaining -= 1
            if self.remaining == 0:
                self.all_done.set()

    def fail(self, failure: NodeFailure) -> None:
        """Record the first failure and stop the sources; what was processed before it drains."""
        with self.lock:
            if self.failure is None:
                self.failure = failure
        self.stop_event.set()

    def abort(self) -> None:
        self.stop_event.set()
        for w in self.workers.values():
            w.inbox.abort()

    def request_stop(self, reason: str) -> None:
        """Sources stop producing; what is queued drains; after a grace period, abort."""
        if self.stopped_by is None:
            self.stopped_by = reason
        self.stop_event.set()

    # -- the main thread ----------------------------------------------------------
    def setup(self) -> None:
        """Set up every node in topological order, before any thread starts."""
        for name in self.graph.order:
            node = self.graph.nodes[name].instance
            assert node is not None
            node.setup()

    def run(
        self,
        handle_signals: bool = True,
        report_every: float | None = None,
        report: Callable[[list[dict[str, Any]], float], None] | None = None,
    ) -> RunResult:
        """Start every worker, wait for end-of-stream, a failure or a signal; report. With
        ``report_every`` seconds, ``report(stats rows, wall so far)`` is called that often while it
        runs (a live run may never reach its end)."""
        t0 = time.perf_counter()
        self.cpu_started, self.cpu_ended = time.process_time(), None
        previous = self._install_signals() if handle_signals else {}
        interval = report_every if report_every and report else math.inf
        next_report = t0 + interval
        try:
            for w in self.workers.values():
                w.thread.start()
            stop_deadline = None
            while not self.all_done.wait(0.05):
                now = time.perf_counter()
                if now >= next_report and report is not None:
                    next_report = now + interval
                    report(self.stats_rows(now), now - t0)
                if self.stop_event.is_set() and stop_deadline is None:
                    stop_deadline = time.monotonic() + STOP_GRACE_S
                if stop_deadline is not None and time.monotonic() > stop_deadline:
                    self.abort()
                    break
            for w in self.workers.values():
                w.thread.join(timeout=0.5 if stop_deadline else None)
            # A sink still stuck inside a long call: flush it from here so no output is lost.
            for w in self.workers.values():
                if not w.done and not any(w.targets.values()):
                    w._close()
            self.cpu_ended = time.process_time()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        # Time spent lingering after the streams ended is not work: fps counts until the last end.
        ends = [w.stats.finished for w in self.workers.values() if w.stats.finished]
        return self._result((max(ends) if ends else time.perf_counter()) - t0)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for sig, reason in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, lambda _s, _f, r=reason: self.request_stop(r))
        return previous

    def process_cpu_s(self) -> float | None:
        """CPU seconds of the whole process since the run started (until it ended), every thread
        included: the nodes' own, and those their libraries start (OpenVINO, OpenCV, BLAS), which
        no node's ``cpu_s`` counts. Setup (loading models) comes before the run: not in it."""
        if self.cpu_started is None:
            return None
        end = self.cpu_ended if self.cpu_ended is not None else time.process_time()
        return end - self.cpu_started

    def stats_rows(self, now: float | None = None, wall: float | None = None) -> list[dict[str, Any]]:
        """Per-node stats rows; ``now`` for a run still going (nodes report their life so far)."""
        rows = []
        for name in self.graph.order:
            w = self.workers[name]
            high = max((c.high_water for c in w.channels), default=0)
            drops = sum(c.drops for c in w.channels)
            rows.append(w.stats.report(wall or 0.0, high, drops, now))
        return rows

    def _result(self, wall: float) -> RunResult:
        rows = self.stats_rows(wall=wall)
        summary = self._summary(wall)
        if self.failure is not None:
            code = 2 if isinstance(self.failure.error, DataflowError) else 1
        elif self.stopped_by == "SIGINT":
            code = 130
        elif self.stopped_by == "SIGTERM":
            code = 143
        else:
            code = 0
        return RunResult(code, wall, rows, summary, self.failure, self.stopped_by, self.process_cpu_s())

    def _summary(self, wall: float) -> dict[str, Any]:
        frames = sum(w.generated for w in self.workers.values())
        summary: dict[str, Any] = {
            "frames": frames,
            "seconds": round(wall, 4),
            "fps": round(frames / wall, 3) if wall > 0 else 0.0,
        }
        for w in self.workers.values():
            if any(w.targets.values()):
                continue
            if w.spec.cls.stateful:
                parts = [(stream, node.summary()) for stream, node in w.streams_and_nodes()]
                parts = [(stream, part) for stream, part in parts if part]
                if parts:
                    summary.update(w.spec.cls.combine_summaries(parts))
                continue
            for node in w.nodes():
                extra = node.summary()
                if extra:
                    summary.update(extra)
        return summary


def _first_parameter(fn: Any) -> str | None:
    """Name of the first parameter after self, if it can be passed by position."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    if params and params[0].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.POSITIONAL_ONLY):
        return params[0].name
    return None
