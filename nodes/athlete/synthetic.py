"""Synthetic sources: keypoints of a simulated athlete (known reps and joint positions)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dataflow import KEYPOINTS, Node, Out, Param, PortType, Sample, UserError
from nodes.pose.schemas import SCHEMAS

from .motion import EXERCISES, Take
from .session_plan import SESSION_DOC, Session, plan_for


class SessionSource(Node):
    """What a synthetic source performs: a ``session`` (``synthetic:squat*5,rest*3s,...``) or
    ``reps`` of one ``exercise``; parsed when the graph is checked, so a bad session is one line
    before anything runs."""

    params = [
        Param("session", str, "", SESSION_DOC),
        Param(
            "exercise",
            str,
            "squat",
            "no session: the exercise to perform (auto: a session of several)",
            choices=(*EXERCISES, "auto"),
        ),
        Param("reps", int, 5, "no session: repetitions", min=0),
    ]

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        try:
            self.plan = plan_for(self.session, self.exercise, self.reps)
        except ValueError as exc:
            raise UserError(str(exc)) from None


class SyntheticKeypoints(SessionSource):
    """Keypoints of a session of exercises, with noise, frame-time jitter, dropouts and pauses."""

    outputs = [Out("keypoints", KEYPOINTS)]
    params = [
        *SessionSource.params,
        Param("schema", str, "blazepose33", "joint schema", choices=tuple(SCHEMAS)),
        Param("seed", int, 0, "random seed of the variations"),
        Param("fps", float, 30.0, "frame rate", min=1),
        Param("noise_px", float, 1.5, "keypoint noise (pixels)", min=0),
        Param("dropout", float, 0.03, "chance a joint is unseen in a frame", min=0, max=1),
        Param("amplitude", float, 1.0, "fraction of the way from rest to peak each rep goes", min=0, max=1),
    ]

    def output_type(self, port: str, inputs: dict[str, PortType]) -> PortType:
        return KEYPOINTS.with_schema(self.schema, SCHEMAS[self.schema])

    def generate(self) -> Iterator[Sample]:
        # How every set is performed and observed; the plan says what is performed.
        take = Take(
            "squat",
            0,
            fps=self.fps,
            noise_px=self.noise_px,
            dropout=self.dropout,
            seed=self.seed,
            amplitude=self.amplitude,
        )
        for t, kp in Session(self.plan, take).keypoints(self.schema):
            yield Sample({"keypoints": kp}, timestamp=t)
