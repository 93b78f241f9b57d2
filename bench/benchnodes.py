"""Nodes used only by the engine benchmark (referenced from YAML as benchnodes:Class)."""

from __future__ import annotations

import time
from typing import Any

from dataflow import ANY, In, Node


class LatencySink(Node):
    """Record, per packet, seconds from its capture timestamp to arrival here."""

    inputs = [In("value", ANY)]

    def setup(self) -> None:
        self.latencies: list[float] = []

    def process(self, value: Any) -> None:
        self.latencies.append(time.time() - self.timestamp)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {"latency_p50_ms": lat[len(lat) // 2] * 1e3 if lat else None}


class PairSink(Node):
    """Keep (keypoints, truth) pairs, joined by sequence number."""

    inputs = [In("keypoints", ANY), In("truth", ANY)]

    def setup(self) -> None:
        self.pairs: list[tuple[Any, Any]] = []

    def process(self, keypoints: Any, truth: Any) -> None:
        self.pairs.append((keypoints, truth))
