"""RepCounter node: counts repetitions of a workout defined in YAML (graphs/workouts/)."""

from __future__ import annotations

import math
from typing import Any

from dataflow import EVENT, KEYPOINTS, RECORD, DataflowError, In, Node, Out, Param, PortType
from nodes.pose.keypoints import Keypoints

from . import spec
from .body import body_scale
from .fsm import RepMachine
from .metrics import MetricEvaluator


class RepCounter(Node):
    """Per frame: the workout's state and metric values; per repetition: an event."""

    inputs = [In("keypoints", KEYPOINTS)]
    outputs = [
        Out("state", RECORD, "exercise, state, reps, metrics, in position or not and why, calibrated ranges"),
        Out("rep", EVENT, "one per repetition: number, start/end, duration, range of motion"),
    ]
    params = [Param("exercise", str, "squat", "workout name in graphs/workouts, or a workout YAML file")]
    stateful = True

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        try:
            self.workout = spec.load(self.exercise)
        except DataflowError as exc:
            # Keep the workout file's own file:line.
            raise type(exc)(f"exercise '{self.exercise}': {exc.message}", exc.where) from None

    def input_type(self, port: str) -> PortType:
        return KEYPOINTS.requiring(self.workout.required)

    def setup(self) -> None:
        self.metrics = MetricEvaluator(self.workout)
        self.machine = RepMachine(self.workout)

    def process(self, keypoints: Keypoints) -> dict[str, Any]:
        kp = keypoints
        t = float(self.timestamp)
        values = self.metrics(kp, body_scale(kp), t)
        blocked = self._gate_blocks(kp, values)
        event = self.machine.step(values, t, blocked is None)
        record = {
            "exercise": self.workout.exercise,
            "state": self.machine.state,
            "reps": self.machine.reps,
            "in_position": blocked is None,
            "metrics": {k: (None if math.isnan(v) else round(v, 4)) for k, v in values.items()},
        }
        if blocked is not None:
            record["gate"] = blocked
        if self.machine.too_fast:
            record["not_counted_too_fast"] = self.machine.too_fast
        if self.metrics.ranges:
            record["calibration"] = self.metrics.calibration()
        if self.workout.hold:
            record["hold_seconds"] = round(self.machine.hold_seconds, 3)
        out: dict[str, Any] = {"state": record}
        if event is not None:
            out["rep"] = event
        return out

    def _gate_blocks(self, kp: Keypoints, values: dict[str, float]) -> str | None:
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
