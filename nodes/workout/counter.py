"""One workout counted over one keypoint stream: metrics, the in-position gate, the rep machine.

The ``reps`` node runs one; exercise recognition runs one per candidate workout.
"""

from __future__ import annotations

import math

from nodes.pose.keypoints import Keypoints

from . import spec
from .body import body_scale
from .fsm import RepEvent, RepMachine
from .metrics import MetricEvaluator


class WorkoutCounter:
    """``step`` a frame: the workout's metric values, why the person is out of position (or None)
    and the repetition completed on this frame (or None)."""

    def __init__(self, workout: spec.Workout) -> None:
        self.workout = workout
        self.metrics = MetricEvaluator(workout)
        self.machine = RepMachine(workout)

    @property
    def reps(self) -> int:
        return self.machine.reps

    def step(self, kp: Keypoints, t: float) -> tuple[dict[str, float], str | None, RepEvent | None]:
        values = self.metrics(kp, body_scale(kp), t)
        blocked = self.gate_blocks(kp, values)
        return values, blocked, self.machine.step(values, t, blocked is None)

    def gate_blocks(self, kp: Keypoints, values: dict[str, float]) -> str | None:
        """Why nothing may count on this frame (no person, a joint unseen, the gate condition
        false), or None when the person is in position."""
        w = self.workout
        if kp.presence < 0.5:
            return "no person"
        for joint in w.gate_visible:
            if not any(self.metrics.visible(kp, s) for s in spec.sides_of(joint)):
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
        if self.workout.hold:
            record["hold_seconds"] = round(machine.hold_seconds, 3)
        return record
