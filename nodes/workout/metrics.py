"""Computing a workout's metrics from one frame's keypoints."""

from __future__ import annotations

import math

import numpy as np

from nodes.pose.keypoints import Keypoints

from .calibration import RangeTracker, RunningMedian
from .spec import Metric, Workout, sides_of


def _side(joint: str, side: str | None) -> str:
    if side is None or len(sides_of(joint)) == 1:
        return joint
    return f"{side}_{joint}"


def _geometry(kind: str, pts: list[np.ndarray], body: float) -> float:
    if kind == "angle":
        a, b, c = pts
        v1, v2 = a - b, c - b
        n = float(np.linalg.norm(v1) * np.linalg.norm(v2))
        if n == 0.0:
            return math.nan
        return math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(v1, v2)) / n))))
    a, b = pts
    if kind == "distance":
        return float(np.linalg.norm(a - b)) / body
    if kind == "vertical":  # how far a is above b, in body sizes (image y grows downwards)
        return float(b[1] - a[1]) / body
    if kind == "horizontal":
        return float(b[0] - a[0]) / body
    if kind == "tilt":  # angle of a->b from vertical: 0 upright, 90 horizontal
        d = b - a
        return math.degrees(math.atan2(abs(float(d[0])), abs(float(d[1])) + 1e-9))
    raise ValueError(kind)


class MetricEvaluator:
    """Per-stream metric computation: geometry, expressions and levels, each optionally
    median-filtered and then exponentially smoothed."""

    def __init__(self, workout: Workout) -> None:
        self.workout = workout
        self.smoothed: dict[str, float] = {}
        self.last_t: float | None = None
        self.medians = {m.name: RunningMedian(m.median) for m in workout.metrics.values() if m.median > 0}
        self.ranges = {
            (m.name, source): RangeTracker(m.window) for m in workout.metrics.values() for source, _ in m.sources
        }

    def visible(self, kp: Keypoints, joint: str) -> bool:
        try:
            return bool(kp.confidence[kp.index(joint)] >= self.workout.min_confidence)
        except KeyError:
            return False

    def side_value(self, m: Metric, kp: Keypoints, side: str | None, body: float) -> tuple[float, float]:
        """(value, mean confidence) of a metric on one side; NaN if a joint is not seen."""
        names = [_side(j, side) for j in m.joints]
        if not all(self.visible(kp, n) for n in names):
            return math.nan, 0.0
        pts = [kp.xy[kp.index(n)].astype(np.float64) for n in names]
        conf = float(np.mean([kp.confidence[kp.index(n)] for n in names]))
        return _geometry(m.kind, pts, body), conf

    def __call__(self, kp: Keypoints, body: float, t: float) -> dict[str, float]:
        values: dict[str, float] = {}
        present = kp.presence >= 0.5
        dt = 0.0 if self.last_t is None else max(0.0, t - self.last_t)
        self.last_t = t
        for m in self.workout.metrics.values():
            if m.kind == "expr":
                assert m.expr is not None
                v = m.expr(values)
            elif m.kind == "level":
                v = self._level(m, values, t)
            elif not present:
                v = math.nan
            elif not m.sided:
                v, _ = self.side_value(m, kp, None, body)
            else:
                v = self._combine(m, kp, body)
            if m.median > 0.0 and not math.isnan(v):
                v = self.medians[m.name](v, t)
            values[m.name] = self._smooth(m, v, dt)
        return values

    def _level(self, m: Metric, values: dict[str, float], t: float) -> float:
        levels = []
        for (source, sign), min_range in zip(m.sources, m.min_range, strict=True):
            tracker = self.ranges[(m.name, source)]
            # Tracked with its sign, so a range narrower than min_range is anchored at the rest end.
            v = sign * values[source]
            tracker(v, t)
            level = tracker.level(v, min_range)
            if not math.isnan(level):
                levels.append(level)
        return sum(levels) / len(levels) if levels else math.nan

    def calibration(self) -> dict[str, dict[str, list[float | None]]]:
        """The range each level metric has learned: {level: {source: [low, high]}}, in the
        source's units, negated for a source named with '-'."""
        out: dict[str, dict[str, list[float | None]]] = {}
        for (level, source), tracker in self.ranges.items():
            bounds = [None if math.isnan(b) else round(b, 4) for b in (tracker.low, tracker.high)]
            out.setdefault(level, {})[source] = bounds
        return out

    def _combine(self, m: Metric, kp: Keypoints, body: float) -> float:
        (lv, lc), (rv, rc) = self.side_value(m, kp, "left", body), self.side_value(m, kp, "right", body)
        seen = [v for v in (lv, rv) if not math.isnan(v)]
        if m.side == "left":
            return lv
        if m.side == "right":
            return rv
        if not seen:
            return math.nan
        if m.side == "min":
            return min(seen)
        if m.side == "max":
            return max(seen)
        if m.side == "best":
            return lv if lc >= rc and not math.isnan(lv) else (rv if not math.isnan(rv) else lv)
        return sum(seen) / len(seen)

    def _smooth(self, m: Metric, v: float, dt: float) -> float:
        if m.smooth <= 0.0 or math.isnan(v):
            return v
        prev = self.smoothed.get(m.name)
        if prev is None or math.isnan(prev):
            self.smoothed[m.name] = v
            return v
        a = 1.0 - math.exp(-dt / m.smooth) if dt > 0 else 1.0
        self.smoothed[m.name] = prev + a * (v - prev)
        return self.smoothed[m.name]
