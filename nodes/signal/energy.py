"""Energy meter: how vigorously the person moves, from keypoint velocity.

Per frame, for every joint seen (confidence >= ``min_confidence``) in this frame and the last:
``speed_j = |p_j(t) - p_j(t_prev)| / body / dt`` in body sizes per second (body = torso length,
so the score does not depend on distance to the camera). Speeds above ``max_speed`` are clipped
(a tracking jump is not effort). The raw score is the mean speed over the joints seen; it is
smoothed exponentially (time constant ``smooth`` seconds) and mapped to 0-100 by
``score = 100 * (1 - exp(-speed / reference_speed))``. The session total integrates the score over
time (score-seconds / 60, "energy points per minute at 100"); a rep's energy integrates it between
the rep's start and end.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

import numpy as np

from dataflow import EVENT, KEYPOINTS, RECORD, In, Node, Out, Param
from nodes.pose.body import body_scale
from nodes.pose.keypoints import Keypoints

HISTORY_S = 300.0  # per-rep energy looks back this far at most: a rep is never five minutes long


class EnergyMeter(Node):
    """Energy score 0-100 per frame from keypoint velocity; session total and per-rep energy."""

    inputs = [In("keypoints", KEYPOINTS), In("rep", EVENT, "rep events, for per-rep energy", optional=True)]
    outputs = [Out("energy", RECORD, "score (0-100), total, and rep_energy on frames that end a rep")]
    params = [
        Param("reference_speed", float, 1.0, "speed (body sizes/s) that scores 63", min=1e-3),
        Param("smooth", float, 0.3, "smoothing time constant (s)", min=0),
        Param("max_speed", float, 8.0, "per-joint speed clip (body sizes/s)", min=0.1),
        Param("min_confidence", float, 0.5, "joints below this are ignored", min=0, max=1),
    ]
    stateful = True

    def setup(self) -> None:
        self.prev: Keypoints | None = None
        self.prev_t: float | None = None
        self.score = 0.0
        self.total = 0.0
        self.times: list[float] = []
        self.cumulative: list[float] = []

    def process(self, keypoints: Keypoints, rep: Any) -> dict[str, Any]:
        kp, t = keypoints, float(self.timestamp)
        raw = self._speed(kp, t)
        dt = 0.0 if self.prev_t is None else max(0.0, t - self.prev_t)
        if raw is not None:
            target = 100.0 * (1.0 - math.exp(-raw / self.reference_speed))
            a = 1.0 if self.smooth <= 0 or dt <= 0 else 1.0 - math.exp(-dt / self.smooth)
            self.score += a * (target - self.score)
        self.total += self.score * dt / 60.0
        self.times.append(t)
        self.cumulative.append(self.total)
        if len(self.times) > 4096 and self.times[0] < t - 2 * HISTORY_S:
            # Forget what no rep can reach back to, in large steps: memory stays bounded on a camera
            # that runs for days, and trimming costs nothing per frame.
            cut = bisect_left(self.times, t - HISTORY_S)
            del self.times[:cut], self.cumulative[:cut]
        self.prev, self.prev_t = kp, t
        record: dict[str, Any] = {"score": round(self.score, 3), "total": round(self.total, 4)}
        if rep is not None:
            record["rep"] = rep.rep
            record["rep_energy"] = round(self.total - self._total_at(rep.start), 4)
        return {"energy": record}

    def _speed(self, kp: Keypoints, t: float) -> float | None:
        prev = self.prev
        if prev is None or self.prev_t is None or t <= self.prev_t or prev.names != kp.names:
            return None
        if kp.presence < 0.5 or prev.presence < 0.5:
            return 0.0
        seen = (kp.confidence >= self.min_confidence) & (prev.confidence >= self.min_confidence)
        if not seen.any():
            return 0.0
        body = body_scale(kp)
        speeds = np.linalg.norm(kp.xy[seen] - prev.xy[seen], axis=1) / body / (t - self.prev_t)
        return float(np.minimum(speeds, self.max_speed).mean())

    def _total_at(self, t: float) -> float:
        i = bisect_left(self.times, t)
        return self.cumulative[i - 1] if i > 0 else 0.0
