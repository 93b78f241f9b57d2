"""Synthetic sources: keypoints of a simulated athlete (known reps and joint positions)."""

from __future__ import annotations

from collections.abc import Iterator

from dataflow import KEYPOINTS, Node, Out, Param, PortType, Sample
from nodes.pose.schemas import SCHEMAS

from .motion import EXERCISES, Take, keypoints_sequence


class SyntheticKeypoints(Node):
    """Keypoints of N reps of an exercise, with noise, frame-time jitter, dropouts and pauses."""

    outputs = [Out("keypoints", KEYPOINTS)]
    params = [
        Param("exercise", str, "squat", "motion to perform", choices=tuple(EXERCISES)),
        Param("reps", int, 5, "repetitions", min=0),
        Param("schema", str, "blazepose33", "joint schema", choices=tuple(SCHEMAS)),
        Param("seed", int, 0, "random seed of the variations"),
        Param("fps", float, 30.0, "frame rate", min=1),
        Param("noise_px", float, 1.5, "keypoint noise (pixels)", min=0),
        Param("dropout", float, 0.03, "chance a joint is unseen in a frame", min=0, max=1),
    ]

    def output_type(self, port: str, inputs: dict[str, PortType]) -> PortType:
        return KEYPOINTS.with_schema(self.schema, SCHEMAS[self.schema])

    def generate(self) -> Iterator[Sample]:
        take = Take(
            self.exercise, self.reps, fps=self.fps, noise_px=self.noise_px, dropout=self.dropout, seed=self.seed
        )
        for t, kp in keypoints_sequence(take, self.schema):
            yield Sample({"keypoints": kp}, timestamp=t)
