"""The two node types through which an application's own code feeds a graph and reads it.

``AppSource`` stands in for a graph's source (or any node): it emits what the app pushes.
``AppSink`` is wired to the output ports the app reads and hands each aligned set of values to
the app. Both are generic: their ports are made per session, typed like the ports they replace
or read (``with_ports``), so the graph is checked exactly as it would be with its own source.
Between them and the app sits an ``Exchange``: the bounded queue of pushes waiting for the graph,
and the bounded queue of results waiting for the app, behind one lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .node import In, Node, Out, Sample

POLICIES = ("block", "drop_oldest")


@dataclass(frozen=True)
class Result:
    """What the graph made of one push: the values of the ports the app reads (``None`` where a
    port gave nothing for this push), with the push's number and timestamp."""

    index: int  # the push it answers, counting from 0 (dropped pushes keep their numbers)
    seq: int  # the graph's sequence number of the packet (pushes that reached the graph)
    timestamp: float
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        """The value read from ``name``, or ``default`` when the port gave nothing."""
        value = self.values.get(name)
        return default if value is None else value


@dataclass
class _Push:
    index: int
    timestamp: float
    values: dict[str, Any]


class Stopped(Exception):
    """Raised by the exchange when the session was aborted or its graph failed."""


class Exchange:
    """Pushes waiting for the graph (at most ``feed_size``; when full, a push waits or the
    oldest waiting push is dropped, by ``policy``) and results waiting for the app (at most
    ``results_size``; when full, the graph waits: a slow reader holds the graph back).

    One condition for both sides, so that a single-threaded app (``Session.map``) can wait for
    whichever comes first: room for its next push, or a result to read.
    """

    def __init__(self, feed_size: int, policy: str, results_size: int) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.feed_size = feed_size
        self.drop_oldest = policy == "drop_oldest"
        self.results_size = results_size
        self.pending: deque[_Push] = deque()
        self.results: deque[Result] = deque()
        self.sent: deque[tuple[int, int]] = deque()  # (seq, push index) of packets not yet answered
        self.pushed = 0
        self.taken = 0  # pushes the graph has taken
        self.dropped = 0
        self.delivered = 0
        self.input_closed = False  # no more pushes: the source ends once ``pending`` is empty
        self.unbounded = False  # closing: the app waits for the end, not reading; never hold the graph
        self.aborted = False
        self.ended = False  # the sink's stream has ended: every result there will be is here
        self.readers: set[threading.Thread] = set()  # threads that have read results (see Session.push)
        self.stream = ""  # the stream of the app's packets: the runtime names it after the fed node

    # -- the app's side (under ``cond``) --------------------------------------
    def room(self) -> bool:
        return self.drop_oldest or len(self.pending) < self.feed_size

    def put(self, timestamp: float, values: dict[str, Any]) -> None:
        """Queue a push; the caller has made sure there is room (or the policy drops)."""
        if len(self.pending) >= self.feed_size:
            self.pending.popleft()
            self.dropped += 1
        self.pending.append(_Push(self.pushed, timestamp, values))
        self.pushed += 1
        self.cond.notify_all()

    def take_results(self) -> list[Result]:
        out = list(self.results)
        self.results.clear()
        if out:
            self.cond.notify_all()  # the sink may be waiting for room
        return out

    def close_input(self) -> None:
        with self.cond:
            self.input_closed = True
            self.unbounded = True
            self.cond.notify_all()

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()

    # -- the graph's side ------------------------------------------------------
    def next_push(self) -> _Push | None:
        """The oldest waiting push, waiting for one; None once the input is closed and drained
        or the session is aborted."""
        with self.cond:
            while not self.pending and not self.input_closed and not self.aborted:
                self.cond.wait()
            if self.aborted or not self.pending:
                return None
            push = self.pending.popleft()
            # The runtime numbers a source's packets 0, 1, 2, ... in the order they are yielded.
            self.sent.append((self.taken, push.index))
            self.taken += 1
            self.cond.notify_all()  # a push may be waiting for room
            return push

    def deliver(self, stream: str, seq: int, timestamp: float, values: dict[str, Any]) -> None:
        """A result for packet ``seq`` of ``stream``; waits while the app has ``results_size`` unread."""
        with self.cond:
            while len(self.results) >= self.results_size and not self.unbounded and not self.aborted:
                self.cond.wait()
            if self.aborted:
                raise Stopped
            index = -1  # a packet of another source's stream answers no push
            sent = self.sent
            # Packets a dropping queue inside the graph lost never come: forget them.
            while stream == self.stream and sent and sent[0][0] <= seq:
                s, i = sent.popleft()
                if s == seq:
                    index = i
            self.results.append(Result(index, seq, timestamp, values))
            self.delivered += 1
            self.cond.notify_all()

    def end(self) -> None:
        with self.cond:
            self.ended = True
            self.cond.notify_all()


class AppSource(Node):
    """Emits what an application pushes (``Session.push``), in the place of a graph's source."""

    # Set per session by ``with_ports``: the wired output ports of the node it replaces.
    outputs: ClassVar[list[Out]] = []
    flush_each = True  # each push is sent on at once: the exchange's queue is the bound, not an outbox

    exchange: Exchange | None = None  # set by the session before the run

    @classmethod
    def with_ports(cls, outputs: list[Out]) -> type[AppSource]:
        """A subclass with these output ports (each typed like the port it replaces)."""
        return type(cls.__name__, (cls,), {"outputs": list(outputs), "__doc__": cls.__doc__})

    def generate(self) -> Iterator[Sample]:
        exchange = self.exchange
        assert exchange is not None, "an AppSource runs inside a dataflow.open session"
        while True:
            push = exchange.next_push()
            if push is None:
                return
            yield Sample(push.values, timestamp=push.timestamp)


class AppSink(Node):
    """Hands the values of the ports an application reads to it (``Session.results``)."""

    # Set per session by ``with_ports``: one optional input per port read, typed like that port.
    inputs: ClassVar[list[In]] = []

    exchange: Exchange | None = None  # set by the session before the run

    @classmethod
    def with_ports(cls, inputs: list[In]) -> type[AppSink]:
        """A subclass with these input ports."""
        return type(cls.__name__, (cls,), {"inputs": list(inputs), "__doc__": cls.__doc__})

    def process(self, **values: Any) -> None:
        assert self.exchange is not None, "an AppSink runs inside a dataflow.open session"
        try:
            self.exchange.deliver(self.stream, self.seq, self.timestamp, values)
        except Stopped:
            pass  # the session is going down; the runtime stops this worker next

    def close(self) -> None:
        if self.exchange is not None:
            self.exchange.end()
