"""Simple built-in nodes that exercise the engine end to end: a counter source, pass-through,
arithmetic, a node that spends time, and JSONL/null sinks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from dataflow import ANY, SCALAR, In, Node, Out, Param, UserError

from .jsonutil import dumps


class CounterSource(Node):
    """Emit 0, 1, 2, ... (times ``step``), optionally paced at ``rate`` packets per second."""

    outputs = [Out("value", SCALAR, "the count")]
    params = [
        Param("count", int, 10, "how many packets; 0 runs until stopped", min=0),
        Param("rate", float, 0.0, "packets per second; 0 = as fast as possible", min=0),
        Param("start", float, 0.0, "first value"),
        Param("step", float, 1.0, "increment"),
    ]

    def generate(self) -> Iterator[dict[str, Any]]:
        # Plain dicts: the engine stamps each with time.time() as it takes it, as a Sample with
        # timestamp=time.time() would be, without building a Sample per packet (a Sample and the
        # attribute reads per item cost this counter 1.4 us a packet, the engine's own loop 0.6).
        count, rate, start, step = self.count, self.rate, self.start, self.step
        t0 = time.monotonic()
        i = 0
        while count == 0 or i < count:
            if rate > 0:
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield {"value": start + i * step}
            i += 1


class Passthrough(Node):
    """Forward the value unchanged."""

    inputs = [In("value", ANY)]
    outputs = [Out("value", ANY, like="value")]

    def process(self, value: Any) -> dict[str, Any]:
        return {"value": value}


class Scale(Node):
    """value * factor + offset."""

    inputs = [In("value", SCALAR)]
    outputs = [Out("value", SCALAR)]
    params = [Param("factor", float, 1.0, "multiplier"), Param("offset", float, 0.0, "added after scaling")]

    def process(self, value: float) -> dict[str, Any]:
        return {"value": value * self.factor + self.offset}


class Add(Node):
    """a + b, where b is optional (missing b counts as 0)."""

    inputs = [In("a", SCALAR), In("b", SCALAR, optional=True)]
    outputs = [Out("value", SCALAR)]

    def process(self, a: float, b: float | None) -> dict[str, Any]:
        return {"value": a + (b or 0.0)}


class Accumulate(Node):
    """Running sum of the value, per stream."""

    inputs = [In("value", SCALAR)]
    outputs = [Out("value", SCALAR)]
    stateful = True

    def setup(self) -> None:
        self.total = 0.0

    def process(self, value: float) -> dict[str, Any]:
        self.total += value
        return {"value": self.total}


class Work(Node):
    """Spend ``ms`` milliseconds per packet, outside the GIL (sleep) or in numpy, then forward."""

    inputs = [In("value", ANY)]
    outputs = [Out("value", ANY, like="value")]
    params = [
        Param("ms", float, 1.0, "time to spend per packet", min=0),
        Param("mode", str, "sleep", "sleep or numpy", choices=("sleep", "numpy")),
    ]

    def setup(self) -> None:
        self._a = np.random.default_rng(0).random((256, 256), dtype=np.float32)

    def process(self, value: Any) -> dict[str, Any]:
        if self.mode == "sleep":
            time.sleep(self.ms / 1e3)
        else:
            end = time.perf_counter() + self.ms / 1e3
            while time.perf_counter() < end:
                self._a @ self._a
        return {"value": value}


class JsonlSink(Node):
    """Write one JSON line per packet: stream, seq, timestamp and the value under ``field``."""

    inputs = [In("value", ANY)]
    params = [
        Param("path", str, "-", "output file; '-' for stdout"),
        Param("field", str, "value", "key of the value in each line"),
    ]

    def setup(self) -> None:
        self.records = 0
        self._file: TextIO | None = None
        if self.path != "-":
            target = Path(self.path)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._file = target.open("w", encoding="utf-8")
            except OSError as exc:
                raise UserError(f"node '{self.name}': cannot write {self.path}: {exc.strerror}") from None

    def process(self, value: Any) -> None:
        line = dumps({"stream": self.stream, "seq": self.seq, "timestamp": self.timestamp, self.field: value})
        if self._file is None:
            print(line, flush=True)
        else:
            self._file.write(line + "\n")
        self.records += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def summary(self) -> dict[str, Any]:
        return {"records": self.records}


class UnusedSink(Node):
    """Take what an output gives and drop it, for a graph whose variant leaves an output unused: a
    session fed past it leaves out the nodes that only it reads (a ``discard`` sink keeps them)."""

    inputs = [In("value", ANY)]
    needed = False

    def process(self, value: Any) -> None:
        return None


class NullSink(Node):
    """Count packets and discard them."""

    inputs = [In("value", ANY)]

    def setup(self) -> None:
        self.received = 0

    def process(self, value: Any) -> None:
        self.received += 1
