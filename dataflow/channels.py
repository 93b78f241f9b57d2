"""Bounded per-input queues grouped in one inbox per node.

One lock and two conditions per node (like ``queue.Queue``) let a worker wait on all
its inputs at once and take everything that is queued in a single acquisition, which
is where the engine wins back the cost of its bookkeeping.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

BATCH_WAIT_S = 0.05
"""The longest a batched input holds its first packet back waiting for the rest of the batch."""


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


EOS: Any = _Sentinel("EOS")
"""End of stream: the producer will send nothing more on this edge."""

EMPTY: Any = _Sentinel("EMPTY")
"""No value for this sequence number (a node emitted nothing, or skipped an error).
It still travels so that joins and 'previous' feedback know the sequence is settled."""


ENDED: Any = _Sentinel("ENDED")
"""The data of a packet that ends its stream mid-run (other streams go on): every node passes
it on and closes that stream's instance."""


class Packet:
    """One value on one edge: stream id, sequence number, capture timestamp, data."""

    __slots__ = ("data", "seq", "stream", "timestamp")

    def __init__(self, stream: str, seq: int, timestamp: float, data: Any) -> None:
        self.stream = stream
        self.seq = seq
        self.timestamp = timestamp
        self.data = data

    def __repr__(self) -> str:
        return f"Packet({self.stream!r}, {self.seq}, {self.timestamp:.3f}, {self.data!r})"


class Channel:
    """One input port's queue and its counters."""

    __slots__ = (
        "batch", "drop_oldest", "drops", "feedback", "first_at", "high_water", "items", "lag", "maxsize", "port",
    )  # fmt: skip

    def __init__(
        self, port: str, maxsize: int, drop_oldest: bool, feedback: str | None, lag: int = 1, batch: int = 1
    ) -> None:
        self.port = port
        self.items: deque[Packet] = deque()
        self.maxsize = maxsize
        self.drop_oldest = drop_oldest
        self.feedback = feedback
        self.lag = lag
        # Packets the consumer takes at once: cheap stages fed one packet at a time spend more on
        # waking up (and on the interpreter lock) than on their work. At most BATCH_WAIT_S late.
        self.batch = min(batch, maxsize)
        self.first_at = 0.0  # when the oldest queued packet came
        self.drops = 0
        self.high_water = 0

    def arriving(self) -> None:
        """Called before a packet is queued: a batched input notes when its oldest packet came."""
        if self.batch > 1 and not self.items:
            self.first_at = time.monotonic()

    def full_batch(self) -> bool:
        """Enough queued for the consumer to start (always, unbatched)."""
        items = self.items
        return self.batch <= 1 or len(items) >= self.batch or (bool(items) and items[-1] is EOS)


class Inbox:
    """The queues of one node's inputs, behind one lock."""

    def __init__(self, channels: list[Channel]) -> None:
        self.channels = channels
        self.lock = threading.Lock()
        self.not_empty = threading.Condition(self.lock)
        self.not_full = threading.Condition(self.lock)
        self.count = 0
        self.aborted = False
        # Notifying a Condition costs microseconds in Python; only do it when someone waits.
        self.consumer_waiting = False
        self.producers_waiting = 0
        self.discarding = False
        self.woken = False

    def wake(self) -> None:
        """Make a waiting ``take`` or ``take_single`` return (an empty list) although nothing
        was queued: an asynchronous node's result is ready to be sent on."""
        with self.lock:
            self.woken = True
            if self.consumer_waiting:
                self.consumer_waiting = False
                self.not_empty.notify()

    def put(self, index: int, packet: Any) -> None:
        """Queue ``packet`` on input ``index``; blocks while full unless the input drops or
        is a feedback edge (a loop must never block its own producer)."""
        ch = self.channels[index]
        with self.lock:
            if self.discarding:
                return
            items = ch.items
            if len(items) >= ch.maxsize and packet is not EOS:
                if ch.drop_oldest or ch.feedback:
                    # Never drop an EOS that is already queued.
                    if items[0] is not EOS:
                        items.popleft()
                        self.count -= 1
                        ch.drops += ch.drop_oldest
                elif not self._wait_for_room(ch):
                    return
            ch.arriving()
            items.append(packet)
            self.count += 1
            if len(items) > ch.high_water and packet is not EOS:
                ch.high_water = len(items)
            if self.consumer_waiting and ch.full_batch():
                self.consumer_waiting = False
                self.not_empty.notify()

    def _wait_for_room(self, ch: Channel) -> bool:
        """With the lock held: wake the consumer, wait until ``ch`` has room. False when the
        inbox was aborted or stopped accepting meanwhile."""
        if self.consumer_waiting:
            self.consumer_waiting = False
            self.not_empty.notify()
        self.producers_waiting += 1
        while len(ch.items) >= ch.maxsize and not self.aborted and not self.discarding:
            self.not_full.wait()
        self.producers_waiting -= 1
        return not (self.aborted or self.discarding)

    def put_many(self, index: int, packets: list[Any]) -> None:
        """``put`` for several packets under one lock acquisition (same blocking rules)."""
        ch = self.channels[index]
        if ch.drop_oldest or ch.feedback:
            for packet in packets:
                self.put(index, packet)
            return
        with self.lock:
            if self.discarding:
                return
            items = ch.items
            maxsize = ch.maxsize
            # Whole runs of packets that fit go in with one extend, not one append each: this is
            # every edge's per-packet path. EOS (last, if there) is queued even on a full input.
            done, total = 0, len(packets)
            while done < total:
                room = maxsize - len(items)
                if room <= 0:
                    if packets[done] is not EOS:
                        if not self._wait_for_room(ch):
                            return
                        continue
                    room = 1
                run = packets if not done and room >= total else packets[done : done + room]
                ch.arriving()
                items.extend(run)
                self.count += len(run)
                done += len(run)
                if len(items) > ch.high_water:
                    ch.high_water = len(items) - (items[-1] is EOS)
            if self.consumer_waiting and ch.full_batch():
                self.consumer_waiting = False
                self.not_empty.notify()

    def offer(self, index: int, packets: list[Any]) -> int:
        """Queue as many of ``packets`` as fit without waiting (inputs that drop or feed back take
        all); return how many were taken. One lock acquisition for the lot."""
        ch = self.channels[index]
        if ch.drop_oldest or ch.feedback:
            for packet in packets:
                self.put(index, packet)
            return len(packets)
        with self.lock:
            if self.discarding or self.aborted:
                return len(packets)
            items = ch.items
            n = min(len(packets), max(0, ch.maxsize - len(items)))
            if n:
                ch.arriving()
            items.extend(packets[:n])
            self.count += n
            if len(items) > ch.high_water:
                ch.high_water = len(items)
            if n and self.consumer_waiting and ch.full_batch():
                self.consumer_waiting = False
                self.not_empty.notify()
            return n

    def wait_room(self, index: int) -> None:
        """Block until input ``index`` has room (or the inbox stops accepting)."""
        with self.lock:
            self._wait_for_room(self.channels[index])

    def take(self, room: list[int]) -> list[tuple[int, Any]] | None:
        """Wait until an input with ``room`` (how many more packets the node can hold from it)
        has packets, then take up to that many from each input (one from inputs that drop, so
        that the freshest frame is what the node sees next). None once aborted; an empty list
        after ``wake``.

        Packets a node holds count against its inputs' bounds: without ``room`` a node waiting
        to join would pull its whole upstream into memory and backpressure would be lost."""
        channels = self.channels
        with self.lock:
            while not any(ch.items and r > 0 for ch, r in zip(channels, room, strict=True)):
                if self.aborted:
                    return None
                if self.woken:
                    self.woken = False
                    return []
                self.consumer_waiting = True
                self.not_empty.wait()
            if self.aborted:
                return None
            out: list[tuple[int, Any]] = []
            for i, ch in enumerate(channels):
                items = ch.items
                n = min(len(items), room[i], 1 if ch.drop_oldest else len(items))
                for _ in range(n):
                    out.append((i, items.popleft()))
                self.count -= n
            if self.producers_waiting:
                self.not_full.notify_all()
            return out

    def take_single(self, block: bool = True) -> list[Any] | None:
        """``take`` for a node with one input, without the port index; an empty list when
        nothing is queued and ``block`` is false or ``wake`` was called."""
        ch = self.channels[0]
        with self.lock:
            items = ch.items
            while True:
                if self.aborted:
                    return None
                if items:
                    if ch.full_batch() or self.woken or not block:
                        break
                    late = ch.first_at + BATCH_WAIT_S - time.monotonic()
                    if late <= 0:
                        break
                    self.consumer_waiting = True
                    self.not_empty.wait(late)
                    continue
                if not block or self.woken:
                    self.woken = False
                    return []
                self.consumer_waiting = True
                self.not_empty.wait()
            self.woken = False
            if self.aborted:
                return None
            if ch.drop_oldest:
                out = [items.popleft()]
            else:
                out = list(items)
                items.clear()
            self.count -= len(out)
            if self.producers_waiting:
                self.not_full.notify_all()
            return out

    def discard(self) -> None:
        """The node has stopped: drop what is queued and everything sent from now on, so that
        producers never block on it."""
        with self.lock:
            self.discarding = True
            for ch in self.channels:
                ch.items.clear()
            self.count = 0
            self.not_full.notify_all()

    def abort(self) -> None:
        with self.lock:
            self.aborted = True
            self.not_empty.notify_all()
            self.not_full.notify_all()
