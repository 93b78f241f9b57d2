"""Where to look in each frame: around the previous frame's keypoints while tracking, from the
person detector when tracking is lost (or on the first frame), else the whole frame."""

from __future__ import annotations

from typing import Any

import numpy as np

from dataflow import FRAME, KEYPOINTS, ROI, In, Node, Out, Param

from . import zoo
from .backends import PRECISIONS, formats_for, open_backend
from .detector import PersonDetector
from .keypoints import Keypoints
from .preprocess import to_tensor
from .roi import Roi, warp

# The params of every node that tracks people from their keypoints and runs the detector.
TRACKING_PARAMS = [
    Param("presence_threshold", float, 0.5, "below this pose presence, a person's track is lost", min=0, max=1),
    Param("roi_scale", float, 1.25, "margin around a person (times the body box)", min=0.5),
    Param("min_confidence", float, 0.3, "joints used for the box around heatmap-model keypoints", min=0, max=1),
    Param("backend", str, "openvino", "detector inference engine", choices=("openvino", "onnxruntime")),
    Param("device", str, "CPU", "detector device"),
    Param("precision", str, "f32", "detector precision", choices=PRECISIONS),
]


class DetectorNode(Node):
    """A node that runs the person detector (``self.finder``, None without one)."""

    finder: PersonDetector | None = None

    def close(self) -> None:
        """Let the detector's compiled model go when the run (or an app's session) ends, not when
        the last reference to the node does: an app that keeps its session keeps the node."""
        if self.finder is not None:
            self.finder.backend.close()
            self.finder = None


class PoseRoi(DetectorNode):
    """Region of interest for the pose model, tracked from the previous keypoints (feedback)."""

    inputs = [
        In("frame", FRAME),
        In("keypoints", KEYPOINTS, "previous frame's keypoints (wire as feedback)", optional=True),
    ]
    outputs = [Out("roi", ROI)]
    params = [
        Param("detector", str, "blazepose-detector", "zoo name of the person detector, or 'none'"),
        *TRACKING_PARAMS,
    ]
    stateful = True

    def setup(self) -> None:
        self.finder: PersonDetector | None = None
        self.detections = 0
        if self.detector != "none":
            spec, path = zoo.resolve(self.detector, formats_for(self.backend))
            assert spec is not None
            self.det_spec = spec
            runner = open_backend(self.backend, path, self.device, self.precision, 0)
            self.finder = PersonDetector(runner, roi_scale=self.roi_scale)

    def process(self, frame: np.ndarray, keypoints: Keypoints | None) -> dict[str, Any]:
        h, w = frame.shape[:2]
        if keypoints is not None and keypoints.presence >= self.presence_threshold:
            roi = self._from_keypoints(keypoints)
            if roi is not None:
                return {"roi": roi}
        if self.finder is not None:
            image, crop = warp(frame, Roi.full_frame(w, h), self.det_spec.width, self.det_spec.height)
            self.detections += 1
            roi = self.finder.detect(to_tensor(image, self.det_spec.norm), crop)
            if roi is not None:
                return {"roi": roi}
        return {"roi": Roi.full_frame(w, h)}

    def _from_keypoints(self, kp: Keypoints) -> Roi | None:
        return roi_from_keypoints(kp, self.roi_scale, self.min_confidence)


def roi_from_keypoints(kp: Keypoints, roi_scale: float, min_confidence: float) -> Roi | None:
    """The next crop around a person: BlazePose's alignment points, else the sure joints' box."""
    if kp.aux is not None and len(kp.aux) >= 2:
        return Roi.from_alignment(kp.aux[0], kp.aux[1], roi_scale, "keypoints")
    sure = kp.xy[kp.confidence >= min_confidence]
    if len(sure) < 2:
        return None
    return Roi.around(sure, roi_scale, "keypoints")
