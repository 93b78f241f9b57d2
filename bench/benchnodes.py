"""Nodes used only by the benchmarks (referenced from YAML as benchnodes:Class)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np

from dataflow import ANY, FRAME, In, Node, Out, Param, Sample


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


class DecodedFrames(Node):
    """A clip decoded into memory before the run, then sent as fast as the graph takes it:
    the pose graph's rate without the cost of video decoding."""

    outputs = [Out("frame", FRAME)]
    params = [Param("input", str, doc="video file")]

    def setup(self) -> None:
        cap = cv2.VideoCapture(self.input)
        self.frames: list[tuple[float, np.ndarray]] = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            self.frames.append((cap.get(cv2.CAP_PROP_POS_MSEC) / 1e3, frame))
        cap.release()

    def generate(self) -> Iterator[Sample]:
        for ts, frame in self.frames:
            yield Sample({"frame": frame}, timestamp=ts)
