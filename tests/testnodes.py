"""Nodes used by the engine tests (referenced from YAML as testnodes:Class)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from dataflow import ANY, FRAME, SCALAR, In, KeypointsType, Node, Out, Output, Param, Sample

KEYPOINTS = KeypointsType()
JOINTS = ("nose", "left_knee", "right_knee")

# What sinks saw, by node name, for assertions.
RECEIVED: dict[str, list[tuple[str, int, Any]]] = {}
LOCK = threading.Lock()


class Collect(Node):
    """Remember (stream, seq, value) of every packet in RECEIVED[name]."""

    inputs = [In("value", ANY)]

    def setup(self) -> None:
        with LOCK:
            RECEIVED[self.name] = []

    def process(self, value: Any) -> None:
        with LOCK:
            RECEIVED[self.name].append((self.stream, self.seq, value))


class TwoStreams(Node):
    """A source with two streams, interleaved: a gets 1s, b gets 100s."""

    outputs = [Out("value", SCALAR)]
    params = [Param("count", int, 5)]

    def generate(self) -> Iterator[Sample]:
        for i in range(self.count):
            yield Sample({"value": 1.0}, timestamp=float(i), stream="a")
            yield Sample({"value": 100.0}, timestamp=float(i), stream="b")


class FailAt(Node):
    """Raise ValueError on one sequence number."""

    inputs = [In("value", ANY)]
    outputs = [Out("value", ANY, like="value")]
    params = [Param("at", int, 3)]

    def process(self, value: Any) -> dict[str, Any]:
        if self.seq == self.at:
            raise ValueError("boom")
        return {"value": value}


class Slow(Node):
    """Sleep per packet (a slow consumer)."""

    inputs = [In("value", ANY)]
    outputs = [Out("value", ANY, like="value")]
    params = [Param("ms", float, 5.0, min=0)]

    def process(self, value: Any) -> dict[str, Any]:
        time.sleep(self.ms / 1e3)
        return {"value": value}


class Frames(Node):
    """A source of 'frames' (a frame-typed output, for type checks)."""

    outputs = [Out("frame", FRAME)]

    def generate(self) -> Iterator[dict[str, Any]]:
        yield {"frame": 0}


class Pose(Node):
    """Keypoints with a schema decided by a param."""

    inputs = [In("frame", ANY)]
    outputs = [Out("keypoints", KEYPOINTS)]
    params = [Param("schema", str, "tiny", choices=("tiny", "full"))]

    def output_type(self, port: str, inputs: dict) -> Any:
        joints = JOINTS[:1] if self.schema == "tiny" else JOINTS
        return KEYPOINTS.with_schema(self.schema, joints)

    def process(self, frame: Any) -> dict[str, Any]:
        return {"keypoints": {}}


class NeedsKnees(Node):
    """Requires left_knee and right_knee."""

    inputs = [In("keypoints", KEYPOINTS.requiring(("left_knee", "right_knee")))]
    params = [Param("threshold", float, doc="required, no default"), Param("level", int, 1, min=0, max=5)]

    def process(self, keypoints: Any) -> None:
        return None


class AnySource(Node):
    """A source whose output type is 'any' (wires to anything, for graph checks)."""

    outputs = [Out("value", ANY)]

    def generate(self) -> Iterator[dict[str, Any]]:
        yield from ()


class Concurrency:
    """A context manager counting the calls inside it at once; ``most`` is the peak."""

    def __init__(self) -> None:
        self.most = 0
        self.now = 0
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


class AsyncDouble(Node):
    """Doubles values on a thread pool with random delays, several in flight."""

    inputs = [In("value", ANY)]
    outputs = [Out("value", ANY, like="value")]
    params = [
        Param("in_flight", int, 3, min=1),
        Param("delay_ms", float, 0.0, "fixed work time; 0 = random up to 4 ms", min=0),
    ]

    def setup(self) -> None:
        import random
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(self.in_flight)
        self.rng = random.Random(0)
        self.running = Concurrency()

    def max_in_flight(self) -> int:
        return self.in_flight

    def _work(self, value: float, delay: float) -> dict[str, Any]:
        with self.running:
            time.sleep(delay)
        if value == 13.0:
            raise ValueError("unlucky")
        return {"value": value * 2}

    def process(self, value: float) -> Any:
        delay = self.delay_ms / 1e3 if self.delay_ms else self.rng.uniform(0.0, 0.004)
        return self.pool.submit(self._work, value, delay)


class AsyncAdd(Node):
    """a + b (b optional) on a thread pool after a fixed delay, several in flight: an
    asynchronous node with joined inputs."""

    inputs = [In("a", ANY), In("b", ANY, optional=True)]
    outputs = [Out("value", ANY, like="a")]
    params = [Param("in_flight", int, 2, min=1), Param("delay_ms", float, 20.0, min=0)]

    def setup(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(self.in_flight)
        self.running = Concurrency()

    def max_in_flight(self) -> int:
        return self.in_flight

    def _work(self, total: float) -> dict[str, Any]:
        with self.running:
            time.sleep(self.delay_ms / 1e3)
        if total < 0:
            raise ValueError("negative")
        return {"value": total}

    def process(self, a: float, b: float | None) -> Any:
        return self.pool.submit(self._work, a + (b or 0.0))


PROGRESS: list[int] = []


class CountingSource(Node):
    """Counts how many values it has handed out (PROGRESS), to see how far ahead it runs."""

    outputs = [Out("value", SCALAR)]
    params = [Param("count", int, 100)]

    def generate(self) -> Iterator[dict[str, Any]]:
        PROGRESS.clear()
        for i in range(self.count):
            PROGRESS.append(i)
            yield {"value": float(i)}


class SourceLead(Node):
    """Records the most packets the source was ahead of this node (RECEIVED[name][0][2])."""

    inputs = [In("value", ANY)]

    def setup(self) -> None:
        self.lead = 0

    def process(self, value: Any) -> None:
        self.lead = max(self.lead, len(PROGRESS) - (self.seq + 1))
        RECEIVED[self.name] = [("", self.seq, self.lead)]


class Kwargs(Node):
    """Takes its inputs as **inputs (the engine must pass them by name)."""

    inputs = [In("value", ANY)]
    outputs = [Out("value", ANY, like="value")]

    def process(self, **inputs: Any) -> dict[str, Any]:
        return {"value": inputs["value"] + 1}


class Linger(Node):
    """A sink that asks to stay up ``seconds`` after its stream ended; records when it closed."""

    inputs = [In("value", ANY)]
    params = [Param("seconds", float, 0.0)]

    def setup(self) -> None:
        self.ended_at: float | None = None
        self.closed_at: float | None = None

    def process(self, value: Any) -> None:
        pass

    def ended(self) -> float:
        self.ended_at = time.monotonic()
        return self.seconds

    def close(self) -> None:
        self.closed_at = time.monotonic()


class Fanout(Node):
    """Each packet's value goes to streams s0..s{streams-1}; stream s{k} ends after ``end_after``
    values (0: never), so streams start and end while the input stream goes on."""

    inputs = [In("value", SCALAR)]
    outputs = [Out("value", SCALAR)]
    params = [Param("streams", int, 2), Param("end_after", int, 0)]

    def process(self, value: float) -> list[Output]:
        out = []
        for k in range(self.streams):
            stream = f"s{k}"
            if self.end_after and self.seq == self.end_after * (k + 1):
                out.append(Output(stream=stream, end=True))
            elif not self.end_after or self.seq < self.end_after * (k + 1):
                out.append(Output({"value": value + 1000 * k}, stream=stream))
        return out


CLOSED: list[tuple[str, str, float]] = []  # (node, stream, total) as stream instances close


class StreamTotal(Node):
    """A stateful sink: one total per stream; a closed instance notes itself in CLOSED."""

    inputs = [In("value", SCALAR)]
    stateful = True

    def setup(self) -> None:
        self.total = 0.0
        self.mine: str | None = None

    def process(self, value: float) -> None:
        self.mine = self.stream
        self.total += value

    def summary(self) -> dict[str, Any]:
        return {"total": self.total}

    @classmethod
    def combine_summaries(cls, parts: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        return {"totals": {stream: part["total"] for stream, part in parts}}

    def close(self) -> None:
        with LOCK:
            CLOSED.append((self.name, self.mine or "", self.total))


class SeeStreams(Node):
    """Remember, per packet, which streams its 'streams' feedback input held."""

    inputs = [In("value", SCALAR), In("others", SCALAR, optional=True)]

    def setup(self) -> None:
        with LOCK:
            RECEIVED[self.name] = []

    def process(self, value: float, others: dict[str, float] | None) -> None:
        with LOCK:
            RECEIVED[self.name].append((self.stream, self.seq, sorted(others or {})))


class FanoutBeside(Node):
    """Passes its value on its own stream (``value``) and sends it to streams s0, s1 (``each``)."""

    inputs = [In("value", SCALAR)]
    outputs = [Out("value", SCALAR), Out("each", SCALAR)]

    def process(self, value: float) -> list[Output]:
        return [Output({"value": value}), *(Output({"each": value}, stream=f"s{k}") for k in range(2))]
