"""One workout counted over one keypoint stream: metrics, the in-position gate, the rep machine.

The ``reps`` node runs one; exercise recognition runs one per candidate workout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from nodes.pose.body import body_scale
from nodes.pose.keypoints import Keypoints, name_index

from . import spec
from .fsm import RepEvent, RepMachine
from .metrics import MetricEvaluator


@lru_cache(maxsize=64)
def _gate_indices(names: tuple[str, ...], joints: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    """For each gate joint, the schema positions of its sides (none when the schema lacks them)."""
    index = name_index(names)
    return tuple(tuple(index[s] for s in spec.sides_of(j) if s in index) for j in joints)


class WorkoutCounter:
    """``step`` a frame: the workout's metric values, why the person is out of position (or None)
    and the repetition completed on this frame (or None)."""

    def __init__(self, workout: spec.Workout, known: bool = False) -> None:
        """``known``: the person is doing this workout (the reps node's counter), not one
        candidate among others (recognition's): see ``MetricEvaluator``."""
        self.workout = workout
        self.known = known
        self.metrics = MetricEvaluator(workout, known)
        self.machine = RepMachine(workout)

    @property
    def reps(self) -> int:
        return self.machine.reps

    def step(
        self, kp: Keypoints, t: float, body: float | None = None, plain: tuple[list, list] | None = None
    ) -> tuple[dict[str, float], str | None, RepEvent | None]:
        """``body`` (the body scale) and ``plain`` ((xy, confidence) as lists) may come from the
        caller when it steps several counters on one frame."""
        values = self.metrics(kp, body_scale(kp) if body is None else body, t, plain)
        blocked = self.gate_blocks(kp, values, plain[1] if plain is not None else None)
        if blocked is not None and self.known:
            # The range of motion is the exercise's own, learned in position. Among candidates
            # (recognition) every frame stays in: how a workout's levels move over the frames
            # that are not it is evidence too.
            self.metrics.unlearn()
        return values, blocked, self.machine.step(values, t, blocked is None)

    def calibrate_on(self, frames: Sequence[tuple[float, Keypoints]]) -> None:
        """Seed the levels' ranges with those a counter learns over ``frames`` (time, keypoints),
        before this counter steps through the same frames. Counting that starts mid-movement (a
        recognized exercise recounted from where its posture was taken up) then places the first
        frames within the movement's range instead of learning the range from them."""
        if not frames or not self.metrics.ranges:
            return
        scratch = WorkoutCounter(self.workout, self.known)
        for t, kp in frames:
            scratch.step(kp, t)
        for key, tracker in self.metrics.ranges.items():
            tracker.seed(scratch.metrics.ranges[key].window_values(), frames[0][0])
        # Which sources move together, and at what cadence, is known over the frames too (stepping
        # through them again adds nothing: they are not newer than what it has seen).
        self.metrics.agreement = scratch.metrics.agreement
        self.metrics.cadences = scratch.metrics.cadences

    def gate_blocks(self, kp: Keypoints, values: dict[str, float], conf: list | None = None) -> str | None:
        """Why nothing may count on this frame (no person, a joint unseen, the gate condition
        false), or None when the person is in position."""
        w = self.workout
        if kp.presence < 0.5:
            return "no person"
        conf = kp.confidence.tolist() if conf is None else conf
        for joint, positions in zip(w.gate_visible, _gate_indices(kp.names, w.gate_visible), strict=True):
            if not any(conf[i] >= w.min_confidence for i in positions):
                return f"{joint} not seen"
        if w.gate_when is not None and not w.gate_when(values):
            return f"not {w.gate_when.text}"
        return None

    def record(self, values: dict[str, float], blocked: str | None) -> dict:
        """The per-frame state record: exercise, state, reps, metrics, gate reason, calibration."""
        machine = self.machine
        record: dict = {
            "exercise": self.workout.exercise,
            "state": machine.state,
            "reps": machine.reps,
            "in_position": blocked is None,
            "metrics": {k: (None if math.isnan(v) else round(v, 4)) for k, v in values.items()},
        }
        if blocked is not None:
            record["gate"] = blocked
        if machine.too_fast:
            record["not_counted_too_fast"] = machine.too_fast
        if self.metrics.ranges:
            record["calibration"] = self.metrics.calibration()
        if self.known and (cadence := self.metrics.cadence()):
            record["cadence_s"] = cadence  # the ranges are taken over a few of these periods
        if self.metrics.left_out:
            record["left_out"] = {k: list(v) for k, v in self.metrics.left_out.items()}
        if self.workout.hold:
            record["hold_seconds"] = round(machine.hold_seconds, 3)
        return record
