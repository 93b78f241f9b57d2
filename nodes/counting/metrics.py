"""Computing a workout's metrics from one frame's keypoints."""

from __future__ import annotations

import math
from functools import lru_cache

from nodes.pose.keypoints import Keypoints, name_index

from .calibration import Agreement, Cadence, RangeTracker, RunningMedian
from .spec import Metric, Workout, sides_of

Point = tuple[float, float]

CADENCE_PERIODS = 3.0  # the range of a repeating movement: its last three reps
CADENCE_MIN_WINDOW = 2.0  # s: never fewer frames than the quantiles need to ignore a glitch


def _side(joint: str, side: str | None) -> str:
    if side is None or len(sides_of(joint)) == 1:
        return joint
    return f"{side}_{joint}"


def geometry(kind: str, pts: list[Point], body: float) -> float:
    """A joint geometry in plain floats: angle (degrees at the middle point), distance,
    vertical and horizontal offset (in ``body`` units; image y grows downwards) or tilt of
    a->b from vertical (0 upright, 90 horizontal). NaN where an angle has a zero-length limb."""
    if kind == "angle":
        (ax, ay), (bx, by), (cx, cy) = pts
        v1x, v1y, v2x, v2y = ax - bx, ay - by, cx - bx, cy - by
        n = math.hypot(v1x, v1y) * math.hypot(v2x, v2y)
        if n == 0.0:
            return math.nan
        return math.degrees(math.acos(max(-1.0, min(1.0, (v1x * v2x + v1y * v2y) / n))))
    (ax, ay), (bx, by) = pts
    if kind == "distance":
        return math.hypot(ax - bx, ay - by) / body
    if kind == "vertical":  # how far a is above b
        return (by - ay) / body
    if kind == "horizontal":
        return (bx - ax) / body
    if kind == "tilt":
        return math.degrees(math.atan2(abs(bx - ax), abs(by - ay) + 1e-9))
    raise ValueError(kind)


@lru_cache(maxsize=256)
def _indices(names: tuple[str, ...], joints: tuple[str, ...], side: str | None) -> tuple[int, ...] | None:
    """Schema positions of a metric's joints on one side, or None when the schema lacks one."""
    index = name_index(names)
    try:
        return tuple(index[_side(j, side)] for j in joints)
    except KeyError:
        return None


class MetricEvaluator:
    """Per-stream metric computation: geometry, expressions and levels, each optionally
    median-filtered and then exponentially smoothed."""

    def __init__(self, workout: Workout, known: bool = False) -> None:
        """``known``: the exercise is known to be this workout (named, or recognized), so a level
        source that moves against the first one is a view's or a normalization's doing and is
        left out; among candidates (recognition) it is evidence against the workout and stays in."""
        self.workout = workout
        self.known = known
        self.smoothed: dict[str, float] = {}
        self.last_t: float | None = None
        self.medians = {m.name: RunningMedian(m.median) for m in workout.metrics.values() if m.median > 0}
        self.ranges = {
            (m.name, source): RangeTracker(m.window) for m in workout.metrics.values() for source, _ in m.sources
        }
        # A level's later sources against its first: one that moves against it is left out.
        self.agreement = {
            (m.name, source): Agreement(m.window) for m in workout.metrics.values() for source, _ in m.sources[1:]
        }
        # A known exercise's level is taken over a few periods of the person's cadence while they
        # repeat clearly (see ``_follow_cadence``).
        self.cadences = {m.name: Cadence(len(m.sources), m.window) for m in workout.metrics.values() if m.sources}
        self.left_out: dict[str, list[str]] = {}
        self.learned: list[RangeTracker] = []  # the ranges this frame's values went into

    def _side_value(
        self, m: Metric, names: tuple[str, ...], xy: list, conf: list, side: str | None, body: float
    ) -> tuple[float, float]:
        """(value, mean confidence) of a metric on one side; NaN if a joint is not seen."""
        idx = _indices(names, m.joints, side)
        if idx is None:
            return math.nan, 0.0
        cs = [conf[i] for i in idx]
        if min(cs) < self.workout.min_confidence:
            return math.nan, 0.0
        return geometry(m.kind, [xy[i] for i in idx], body), sum(cs) / len(cs)

    def __call__(
        self, kp: Keypoints, body: float, t: float, plain: tuple[list, list] | None = None
    ) -> dict[str, float]:
        """The metric values of one frame; ``plain`` = (xy, confidence) as lists when the caller
        already has them (several workouts evaluated on one frame)."""
        values: dict[str, float] = {}
        self.learned.clear()
        present = kp.presence >= 0.5
        dt = 0.0 if self.last_t is None else max(0.0, t - self.last_t)
        self.last_t = t
        names = kp.names
        xy, conf = plain if plain is not None else (kp.xy.tolist(), kp.confidence.tolist())
        for m in self.workout.metrics.values():
            if m.kind == "expr":
                assert m.expr is not None
                v = m.expr(values)
            elif m.kind == "level":
                v = self._level(m, values, t)
            elif not present:
                v = math.nan
            elif not m.sided:
                v, _ = self._side_value(m, names, xy, conf, None, body)
            else:
                v = self._combine(m, names, xy, conf, body)
            if m.median > 0.0 and not math.isnan(v):
                v = self.medians[m.name](v, t)
            values[m.name] = self._smooth(m, v, dt)
        return values

    def _level(self, m: Metric, values: dict[str, float], t: float) -> float:
        """The mean of the sources' levels. When the exercise is known, a source whose signed values
        have moved against the first source's over the window (negative correlation) while the
        first one covers at least its ``min_range`` is left out: per-frame normalized
        poses and some views turn a measure around (a lying body's box stretched to the unit
        square makes the shoulders *rise* as the torso goes down), and averaged in it would
        cancel the movement the first source shows."""
        if self.known:
            self._follow_cadence(m, t)
        levels = []
        left_out = []
        primary, primary_moves = math.nan, False
        for k, ((source, sign), min_range) in enumerate(zip(m.sources, m.min_range, strict=True)):
            tracker = self.ranges[(m.name, source)]
            # Tracked with its sign, so a range narrower than min_range is anchored at the rest end.
            v = sign * values[source]
            if self.known:
                self.cadences[m.name].add(k, v, t)
            if not math.isnan(v):
                tracker(v, t)
                self.learned.append(tracker)
            if k == 0:
                # Only a first source that moves as much as the exercise does can outvote another.
                primary, primary_moves = v, tracker.span >= min_range
            elif self.known:
                # Updated on every frame, so it knows how they moved before the first source moved enough.
                against = self.agreement[(m.name, source)](primary, v, t) < 0.0
                if against and primary_moves:
                    left_out.append(source)
                    continue
            level = tracker.level(v, min_range)
            if not math.isnan(level):
                levels.append(level)
        if left_out:
            self.left_out[m.name] = left_out
        else:
            self.left_out.pop(m.name, None)
        return sum(levels) / len(levels) if levels else math.nan

    def _follow_cadence(self, m: Metric, t: float) -> None:
        """While the sources repeat at a clear period, take their ranges over ``CADENCE_PERIODS``
        of it (at least ``CADENCE_MIN_WINDOW`` s, at most the metric's window): in a long fast set
        the posture drifts further over 10 s (a per-frame normalized pose's scale, a body sliding
        on a bench) than one rep moves, and a rep measured against the drift never spans the
        levels. Without a clear cadence the range is the whole window's, as a first rep or a slow
        one needs."""
        period = self.cadences[m.name](t)
        window = m.window if period is None else min(m.window, max(CADENCE_MIN_WINDOW, CADENCE_PERIODS * period))
        for source, _ in m.sources:
            self.ranges[(m.name, source)].window = window

    def cadence(self) -> dict[str, float]:
        """The period, in seconds, each level's sources repeat at now (levels repeating clearly only)."""
        return {name: round(c.period, 3) for name, c in self.cadences.items() if c.period is not None}

    def unlearn(self) -> None:
        """Take the last frame's values back out of the ranges they went into: a frame where the
        person is out of position for the exercise is not part of its range of motion (standing
        before push-ups has the shoulders higher above the hands than any push-up does)."""
        for tracker in self.learned:
            tracker.unlearn()
        self.learned.clear()

    def calibration(self) -> dict[str, dict[str, list[float | None]]]:
        """The range each level metric has learned: {level: {source: [low, high]}}, in the
        source's units, negated for a source named with '-'."""
        out: dict[str, dict[str, list[float | None]]] = {}
        for (level, source), tracker in self.ranges.items():
            bounds = [None if math.isnan(b) else round(b, 4) for b in (tracker.low, tracker.high)]
            out.setdefault(level, {})[source] = bounds
        return out

    def _combine(self, m: Metric, names: tuple[str, ...], xy: list, conf: list, body: float) -> float:
        lv, lc = self._side_value(m, names, xy, conf, "left", body)
        rv, rc = self._side_value(m, names, xy, conf, "right", body)
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
