"""RepCounter node: counts repetitions of a workout defined in YAML (graphs/workouts/), or of the
exercise the ``recognize`` node names (``exercise: auto``)."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from functools import lru_cache
from typing import Any

from dataflow import EVENT, KEYPOINTS, RECORD, DataflowError, In, Node, Out, Param, PortType
from nodes.pose.keypoints import Keypoints

from . import spec
from .counter import WorkoutCounter
from .fsm import RepEvent

AUTO = "auto"
BUFFER_S = 120.0  # a revised recognition recounts at most this far back


@lru_cache(maxsize=64)
def _workout(name: str) -> spec.Workout:
    return spec.load(name)


class RepCounter(Node):
    """Per frame: the workout's state and metric values; per repetition: an event."""

    inputs = [
        In("keypoints", KEYPOINTS),
        In("exercise", RECORD, "the recognize node's decisions (used when exercise is auto)", optional=True),
    ]
    outputs = [
        Out("state", RECORD, "exercise, state, reps, metrics, in position or not and why, calibrated ranges"),
        Out("rep", EVENT, "one per repetition: number, start/end, duration, range of motion"),
    ]
    params = [Param("exercise", str, "squat", "workout name in graphs/workouts, a workout YAML file, or auto")]
    stateful = True

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        self.auto = self.exercise == AUTO
        self.workout: spec.Workout | None = None
        if self.auto:
            return
        try:
            self.workout = spec.load(self.exercise)
        except DataflowError as exc:
            # Keep the workout file's own file:line.
            raise type(exc)(f"exercise '{self.exercise}': {exc.message}", exc.where) from None

    def input_type(self, port: str) -> PortType:
        if port == "keypoints" and self.workout is not None:
            return KEYPOINTS.requiring(self.workout.required)
        return KEYPOINTS if port == "keypoints" else RECORD

    def setup(self) -> None:
        self.counter = WorkoutCounter(self.workout, known=True) if self.workout is not None else None
        self.current: str | None = self.workout.exercise if self.workout is not None else None
        self.bout = 0
        self.totals: dict[str, int] = {}  # reps per exercise in the bouts that ended
        self.buffer: deque[tuple[float, Keypoints]] = deque()
        self.pending: deque[RepEvent] = deque()
        self.decision: dict = {}
        self.plotted: str | None = None  # the exercise whose plot the records last carried

    def process(self, keypoints: Keypoints, exercise: dict | None = None) -> dict[str, Any]:
        t = float(self.timestamp)
        if self.auto and exercise is not None:
            self._follow(exercise, keypoints, t)
        out: dict[str, Any] = {}
        if self.counter is None:
            record: dict[str, Any] = {"exercise": None, "state": None, "reps": 0, "in_position": False, "metrics": {}}
        else:
            values, blocked, event = self.counter.step(keypoints, t)
            if event is not None:
                self.pending.append(event)
            record = self.counter.record(values, blocked)
        if record["exercise"] != self.plotted:
            # Views draw the metric the states are decided on: say it once per exercise, in the record.
            self.plotted = record["exercise"]
            record["plot"] = self.counter.workout.plot() if self.counter is not None else None
        if self.auto:
            done = self.totals.get(self.current, 0) if self.current else 0
            record["reps"] += done
            record["bout"] = self.bout
            record["bout_reps"] = self.counter.reps if self.counter is not None else 0
            record["recognition"] = {"confidence": self.decision.get("confidence", 0.0)}
        if self.pending:
            event = self.pending.popleft()
            if self.auto:
                event = replace(event, rep=event.rep + self.totals.get(event.exercise, 0))
            out["rep"] = event
        out["state"] = record
        return out

    def _follow(self, decision: dict, kp: Keypoints, t: float) -> None:
        """Switch counters as the recognizer decides; a new decision recounts the bout so far."""
        self.decision = decision
        if decision["bout"] != self.bout:
            if self.counter is not None and self.current is not None:
                self.totals[self.current] = self.totals.get(self.current, 0) + self.counter.reps
            self.bout, self.counter, self.current = decision["bout"], None, None
        since = max(decision["since"], t - BUFFER_S)
        while self.buffer and self.buffer[0][0] < since:
            self.buffer.popleft()
        name = decision["exercise"]
        if name != self.current:
            # The reps of a revised decision were not this exercise's: they are recounted, not kept.
            self.current = name
            self.counter = WorkoutCounter(_workout(name), known=True) if name is not None else None
            if self.counter is not None:
                self.pending.clear()
                if decision.get("after_exercise"):
                    # Counting starts where this exercise's posture was taken up, maybe mid-rep.
                    self.counter.calibrate_on(self.buffer)
                for bt, bkp in self.buffer:
                    _, _, event = self.counter.step(bkp, bt)
                    if event is not None:
                        self.pending.append(event)
        self.buffer.append((t, kp))
