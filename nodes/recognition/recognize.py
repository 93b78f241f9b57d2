"""ExerciseRecognizer node: names the exercise being done (``exercise: auto``), or passes a fixed one on."""

from __future__ import annotations

from typing import Any

from dataflow import KEYPOINTS, RECORD, DataflowError, In, Node, Out, Param, UserError
from nodes.counting import spec
from nodes.pose.keypoints import Keypoints

from . import pose_classifier
from .recognition import Decision, Recognizer


class ExerciseRecognizer(Node):
    """Per frame: the recognized exercise (None until sure), its confidence, the bout and its start."""

    inputs = [In("keypoints", KEYPOINTS)]
    outputs = [
        Out(
            "exercise",
            RECORD,
            "exercise (None until sure), confidence, bout number, when its counting starts, whether it follows another",
        )
    ]
    params = [
        Param("exercise", str, "auto", "auto: recognize it; a workout name: that one, nothing is recognized"),
        Param("among", str, "", "candidate workouts, comma-separated (e.g. squat,push-up); empty: every workout"),
        Param("confidence", float, 0.8, "share of the evidence the leading workout needs to be named", min=0, max=1),
        Param("rest", float, 8.0, "seconds without a repetition that end a bout", min=0.5),
        Param("rate", float, 10.0, "times a second the candidates are evaluated", min=1),
        Param("model", str, "", "pose classifier weights (a JSON file fit_recognizer wrote); empty: the shipped one"),
    ]
    stateful = True

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        self.fixed = None if self.exercise == "auto" else self.exercise
        self.candidates = [n.strip() for n in self.among.split(",") if n.strip()] or spec.available()
        for candidate in self.candidates if self.fixed is None else [self.fixed]:
            spec.find(candidate)  # an unknown one is reported, with this node, when the graph is checked

    def setup(self) -> None:
        self.recognizer: Recognizer | None = None
        if self.fixed is not None:
            return
        try:
            classifier = pose_classifier.load(self.model or None)
        except (OSError, ValueError, KeyError) as exc:
            where = self.model or pose_classifier.MODEL_PATH
            raise UserError(f"node '{self.name}': recognizer model {where}: {exc}") from None
        try:
            self.recognizer = Recognizer(self.candidates, classifier, self.confidence, self.rest, self.rate)
        except DataflowError as exc:
            raise UserError(f"node '{self.name}': among: {exc.message}") from None

    def process(self, keypoints: Keypoints) -> dict[str, Any]:
        if self.recognizer is None:
            return {"exercise": Decision(self.fixed, 1.0, 0, 0.0).to_dict()}
        return {"exercise": self.recognizer(keypoints, float(self.timestamp)).to_dict()}
