"""The node contract: declared ports and params, then ``setup`` and ``process``.

A node never touches threads, queues or timestamps' bookkeeping: the engine calls
``process`` with one aligned value per input port and sends what it returns on
the output ports. Sources implement ``generate`` instead of ``process``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from .params import Param
from .types import PortType

CPUS_ENV = "DATAFLOW_CPUS"  # cores one run may use; nodes with thread pools size them by it


@dataclass(frozen=True)
class In:
    """An input port. ``optional`` inputs may be left unwired or have no value for a packet
    (the node then gets ``None``)."""

    name: str
    type: PortType
    doc: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Out:
    """An output port. ``like`` names an input whose resolved type this output repeats
    (a filter passes keypoints of whatever schema it is given)."""

    name: str
    type: PortType
    doc: str = ""
    like: str | None = None


@dataclass
class Sample:
    """What a source yields when it knows more than the values: a capture timestamp
    (seconds) and a stream id. A plain dict of output values is also accepted."""

    values: dict[str, Any]
    timestamp: float | None = None
    stream: str | None = None


@dataclass
class Output:
    """One item of what ``process`` may return as a list: values on another stream than the
    packet's (``stream``), or, with ``end=True``, the end of that stream mid-run.

    A stream a node starts this way gets its own sequence numbers and the timestamp of the packet
    that made it, and goes only on the output ports its values name (name the same ones each
    time). A stream's end reaches every node downstream, which then closes that stream's
    instance of a ``stateful`` node (its state is flushed, its summary kept for the run's).
    ``stream=None`` means the packet's own stream (and seq).
    """

    values: dict[str, Any] | None = None
    stream: str | None = None
    end: bool = False


class Node:
    """Base class of every node.

    Subclasses declare ``inputs``, ``outputs`` and ``params`` as class attributes, may
    override ``setup`` (heavy initialisation, runs once before packets flow), and
    implement ``process(**inputs) -> dict`` (or ``generate()`` for a source). Param
    values are attributes of the instance. During ``process`` the current packet's
    ``stream``, ``seq`` and ``timestamp`` are attributes too.

    ``stateful = True`` asks the engine for one instance per stream, so state such as
    filter memory never mixes two cameras.
    """

    inputs: ClassVar[list[In]] = []
    outputs: ClassVar[list[Out]] = []
    params: ClassVar[list[Param]] = []
    stateful: ClassVar[bool] = False
    # A source whose every packet is sent on at once, however fast it comes: one fed by an app,
    # whose own queue is the bound (fast sources are otherwise sent in batches).
    flush_each: ClassVar[bool] = False
    # False: a sink that only drops what it is given is no reason to run the nodes that feed it
    # when a session leaves out what leads nowhere (a graph's placeholder for an unused output).
    needed: ClassVar[bool] = True

    packet: Any = None  # the packet being processed, set by the engine

    @property
    def stream(self) -> str:
        """Stream id of the packet being processed."""
        return self.packet.stream if self.packet is not None else ""

    @property
    def seq(self) -> int:
        """Sequence number of the packet being processed."""
        return self.packet.seq if self.packet is not None else -1

    @property
    def timestamp(self) -> float:
        """Capture timestamp (seconds) of the packet being processed."""
        return self.packet.timestamp if self.packet is not None else 0.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Params become attributes; one that shadows the contract would break the node.
        for p in cls.params:
            if hasattr(Node, p.name) or p.name in ("name", "param_values"):
                raise TypeError(f"{cls.__name__}: param name '{p.name}' is reserved by dataflow.Node")

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        self.name = name
        self.param_values = dict(params)
        for key, value in params.items():
            setattr(self, key, value)

    # -- declared contract -------------------------------------------------
    @classmethod
    def is_source(cls) -> bool:
        return cls.generate is not Node.generate

    @classmethod
    def input_port(cls, name: str) -> In | None:
        return next((p for p in cls.inputs if p.name == name), None)

    @classmethod
    def output_port(cls, name: str) -> Out | None:
        return next((p for p in cls.outputs if p.name == name), None)

    @classmethod
    def param(cls, name: str) -> Param | None:
        return next((p for p in cls.params if p.name == name), None)

    def input_type(self, port: str) -> PortType:
        """The type this instance accepts on ``port``; override to add param-dependent detail
        (the joints a rep counter needs)."""
        spec = self.input_port(port)
        assert spec is not None
        return spec.type

    def output_type(self, port: str, inputs: dict[str, PortType]) -> PortType:
        """The type this instance emits on ``port`` given its inputs' resolved types;
        override when params decide it (a model's joint schema)."""
        spec = self.output_port(port)
        assert spec is not None
        if spec.like and spec.like in inputs:
            return inputs[spec.like]
        return spec.type

    # -- lifecycle ---------------------------------------------------------
    def setup(self) -> None:
        """Load what the node needs (models, files). Raise ``UserError`` for the user's mistakes."""

    def process(self, **inputs: Any) -> dict[str, Any] | None:
        """Turn one aligned set of input values into output values (missing ports emit nothing)."""
        raise NotImplementedError(f"{type(self).__name__} must implement process() or generate()")

    def generate(self) -> Iterator[dict[str, Any] | Sample]:
        """For sources: yield output values, one item per packet, until the stream ends."""
        raise NotImplementedError

    def max_in_flight(self) -> int:
        """How many packets may be in flight at once. A node that returns more than 1 returns a
        ``concurrent.futures.Future`` of its outputs from ``process``; the engine keeps that many
        pending and emits results in order (asynchronous inference)."""
        return 1

    def ended(self) -> float:
        """Called once when this node's stream has ended normally, before ``close``. Returns how
        many seconds the engine keeps the node up before closing it (``math.inf``: until the run is
        stopped); a view that shows the end of a session stays reachable that long."""
        return 0.0

    def close(self) -> None:
        """Flush and release resources; called once after the last packet, also after errors."""

    def summary(self) -> dict[str, Any] | None:
        """What a sink reports at the end of a run (merged into ``--summary-json``)."""
        return None

    @classmethod
    def combine_summaries(cls, parts: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        """The run's summary from a ``stateful`` sink's instances, one ``(stream, summary)`` per
        stream in the order the streams started. By default later streams overwrite earlier keys
        (one stream: its summary)."""
        out: dict[str, Any] = {}
        for _, part in parts:
            out.update(part)
        return out
