"""Per-node run statistics and the end-of-run table."""

from __future__ import annotations

import functools
import math
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

_LOW_S = 1e-7  # times are kept from 100 ns ...
_RATIO = 1.02  # ... in buckets 2 % wide: a quantile is off by at most 1 % ...
_BUCKETS = 1400  # ... up to a day (100 ns * 1.02**1400); longer times count in the last bucket
_PER_LOG = 1.0 / math.log(_RATIO)
RAW_TIMES = 1024
"""Times a Timing holds as floats before it bins them (a few kilobytes per node)."""
_PACK_RAW = struct.Struct(f"{RAW_TIMES}d")


class Timing:
    """Process times in bounded memory: counts per log-spaced bucket (2 % wide) instead of one
    float per packet, so a camera that runs for days keeps a few kilobytes of timing, and p50/p99
    stay within 1 % of the exact ones.

    ``append`` is on every node's per-packet path, so it only appends to a short list; every
    ``RAW_TIMES`` times the list is binned at once with numpy (a logarithm and a dict update per
    packet in Python cost a third of the engine's pass-through rate). The engine's hot loops go
    one step further: they append to ``raw`` themselves (no method call per packet) and call
    ``settle`` once per batch of packets, so ``raw`` holds at most ``RAW_TIMES`` plus one batch.
    Only the worker's thread appends; a live report may read from another thread, so binning and
    reading share a lock (taken once per ``RAW_TIMES`` packets, never per packet).
    """

    __slots__ = ("_binned", "_binned_total", "_bins", "_lock", "_np", "raw")

    def __init__(self) -> None:
        import numpy  # here rather than when binning: the first bin must not stall a running graph

        self._np = numpy
        # Times not binned yet. Always the same list (binning empties it in place), so a hot loop
        # may hold its ``append``.
        self.raw: list[float] = []
        self._bins = numpy.zeros(_BUCKETS, dtype=numpy.int64)
        self._binned = 0
        self._binned_total = 0.0
        self._lock = threading.Lock()

    def append(self, seconds: float) -> None:
        """Add one time."""
        raw = self.raw
        raw.append(seconds)
        if len(raw) >= RAW_TIMES:
            self._bin()

    def settle(self) -> None:
        """Bin the times appended to ``raw`` directly once there are ``RAW_TIMES`` of them (on the
        appending thread, after a batch of packets)."""
        if len(self.raw) >= RAW_TIMES:
            self._bin()

    def _bin(self) -> None:
        # Only the appending thread bins, so nothing is appended between the sum and the clear.
        with self._lock:
            raw = self.raw
            self._binned_total += self._add(self._bins, raw)
            self._binned += len(raw)
            raw.clear()

    def _add(self, bins: Any, raw: list[float]) -> float:
        """Count ``raw`` into ``bins``; their sum."""
        np = self._np
        # struct packs a list of floats into doubles at twice the speed of np.array(list).
        pack = _PACK_RAW if len(raw) == RAW_TIMES else _packer(len(raw))
        times = np.frombuffer(pack.pack(*raw), dtype=np.float64)
        # Bucket floor(log(t / 100 ns) / log(1.02)); times under 100 ns (or 0) in bucket 0.
        scaled = np.maximum(times, _LOW_S)
        np.log(scaled, out=scaled)
        scaled -= math.log(_LOW_S)
        scaled *= _PER_LOG
        buckets = scaled.astype(np.int64)
        np.minimum(buckets, _BUCKETS - 1, out=buckets)
        bins += np.bincount(buckets, minlength=_BUCKETS)
        return float(times.sum())

    def snapshot(self) -> tuple[Any, int, float]:
        """Counts per bucket (a numpy array), count and total, the times not yet binned included;
        safe from any thread."""
        with self._lock:
            raw = list(self.raw)
            bins = self._bins.copy()
            count, total = self._binned, self._binned_total
        if raw:
            total += self._add(bins, raw)
        return bins, count + len(raw), total

    @property
    def count(self) -> int:
        """How many times were added."""
        with self._lock:
            return self._binned + len(self.raw)

    @property
    def total(self) -> float:
        """Their sum, in seconds."""
        return self.snapshot()[2]

    @property
    def counts(self) -> dict[int, int]:
        """Times per occupied bucket (bucket k starts at 100 ns * 1.02**k; bucket 0 also holds
        anything shorter)."""
        bins = self.snapshot()[0]
        return {int(k): int(bins[k]) for k in bins.nonzero()[0]}

    def quantile(self, q: float) -> float:
        """The time at rank round(q * (count - 1)): the middle of its bucket."""
        bins, count, _ = self.snapshot()
        return _quantile(bins, count, q)


@functools.lru_cache(maxsize=64)
def _packer(n: int) -> struct.Struct:
    """A packer of ``n`` doubles (a hot loop's batch may leave a few more than RAW_TIMES)."""
    return struct.Struct(f"{n}d")


def _quantile(bins: Any, count: int, q: float) -> float:
    if not count:
        return 0.0
    rank = min(count - 1, max(0, round(q * (count - 1))))
    bucket = int(bins.cumsum().searchsorted(rank, side="right"))  # the first with more than rank before it
    return _LOW_S * _RATIO ** (bucket + 0.5) if bucket else _LOW_S


@dataclass
class NodeStats:
    """Counters one worker keeps while it runs (only its own thread writes them).

    CPU time is its thread's CPU clock: the node's calls (``process``, ``generate``, a stream's
    ``setup``, ``close``) plus the engine's handling of its packets, a few microseconds each. It is
    read once when the thread ends (and through the clock by a live report), not around each call:
    the clock is a system call (~0.5 us) and, under the GIL, two per packet per node halved the
    engine's pass-through rate. Work a node hands to other threads is not on its thread: native
    pools its libraries start (OpenVINO's inference threads, OpenCV's, BLAS) and an asynchronous
    node's executor show only in the run's ``process_cpu_s``.
    """

    name: str
    type_name: str
    packets_in: int = 0
    packets_out: int = 0
    errors_skipped: int = 0
    started: float = 0.0
    finished: float = 0.0
    times: Timing = field(default_factory=Timing)
    cpu_s: float = 0.0  # the thread's CPU seconds, final once cpu_final is set
    cpu_final: bool = False
    cpu_clock: int | None = None  # the thread's CPU clock, for reading it from another thread

    def record(self, seconds: float) -> None:
        self.times.append(seconds)

    def thread_started(self) -> None:
        """Called on the worker's thread as it starts."""
        self.started = time.perf_counter()
        try:
            self.cpu_clock = time.pthread_getcpuclockid(threading.get_ident())
        except (AttributeError, OSError):  # not on this platform: live reports show 0 until the end
            self.cpu_clock = None

    def thread_ending(self) -> None:
        """Called on the worker's thread as its last act: its CPU time is final."""
        self.cpu_s = time.thread_time()
        self.cpu_final = True

    def cpu(self) -> float:
        """The thread's CPU seconds so far (from any thread)."""
        if not self.cpu_final and self.cpu_clock is not None:
            try:
                return time.clock_gettime(self.cpu_clock)
            except OSError:  # the thread ended just now: it has set cpu_s
                pass
        return self.cpu_s

    def report(self, wall_s: float, queue_high_water: int, drops: int, now: float | None = None) -> dict[str, Any]:
        """The row of the stats table; ``now`` reports a node still running (its life so far)."""
        bins, count, total = self.times.snapshot()
        end = self.finished or now or self.started
        life = end - self.started if self.started else 0.0
        cpu = self.cpu()
        handled = self.packets_in or count  # a source: its generate steps
        return {
            "node": self.name,
            "type": self.type_name,
            "packets_in": self.packets_in,
            "packets_out": self.packets_out,
            "process_ms_p50": round(_quantile(bins, count, 0.5) * 1e3, 4),
            "process_ms_p99": round(_quantile(bins, count, 0.99) * 1e3, 4),
            "cpu_ms_per_packet": round(cpu / handled * 1e3, 4) if handled else 0.0,
            "cpu_s": round(cpu, 4),
            "busy_fraction": round(total / max(life, wall_s, 1e-9), 4),
            "queue_high_water": queue_high_water,
            "drops": drops,
            "errors_skipped": self.errors_skipped,
        }


def stats_document(
    rows: list[dict[str, Any]], wall_s: float, running: bool = False, process_cpu_s: float | None = None
) -> dict[str, Any]:
    """What --stats-json holds: wall time, the bottleneck, CPU and one row per node. ``cpu_s`` is
    the nodes' own threads; ``process_cpu_s`` the whole process over the run, with the threads no
    node owns (inference libraries' pools, executors), so the two show what the rows leave out."""
    doc: dict[str, Any] = {
        "wall_s": round(wall_s, 4),
        "bottleneck": bottleneck(rows),
        "cpu_s": round(sum(r["cpu_s"] for r in rows), 4),
    }
    if process_cpu_s is not None:
        doc["process_cpu_s"] = round(process_cpu_s, 4)
    doc["nodes"] = rows
    if running:
        doc["running"] = True
    return doc


def bottleneck(rows: list[dict[str, Any]]) -> str | None:
    """The node that bounds throughput: the one busiest for the time it ran."""
    busy = [r for r in rows if r["packets_in"] or r["packets_out"]]
    return max(busy, key=lambda r: r["busy_fraction"])["node"] if busy else None


def format_table(rows: list[dict[str, Any]], wall_s: float, process_cpu_s: float | None = None) -> str:
    """A fixed-width table for stderr; ``cpu ms`` is the node's thread's CPU per packet."""
    head = ("node", "type", "in", "out", "p50 ms", "p99 ms", "cpu ms", "busy", "q max", "drops", "errors")
    keys = (
        "node",
        "type",
        "packets_in",
        "packets_out",
        "process_ms_p50",
        "process_ms_p99",
        "cpu_ms_per_packet",
        "busy_fraction",
        "queue_high_water",
        "drops",
        "errors_skipped",
    )
    cells = [head] + [tuple(_cell(r[k]) for k in keys) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = []
    for row in cells:
        padded = (c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        lines.append("  ".join(padded))
    lines.insert(1, "-" * len(lines[0]))
    slow = bottleneck(rows)
    cpu = f"; cpu {sum(r['cpu_s'] for r in rows):.2f} s in nodes"
    if process_cpu_s is not None:
        cpu += f" of {process_cpu_s:.2f} s in the process"
    lines.append(f"wall {wall_s:.2f} s{cpu}" + (f"; throughput bound by '{slow}'" if slow else ""))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
