"""The pose stages for several people in one frame: where to look for each (their previous
keypoints, the detector for newcomers), every crop through the landmark model together, each
person's keypoints decoded, identified by the tracker and sent on a stream of their own.

A frame's people travel as a list (``people_*`` ports); after ``people_track`` each person is a
stream (``<stream>/<id>``), so the stages downstream keep one state per person."""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from dataflow import FRAME, KEYPOINTS, In, Node, Out, Output, Param, PortType, UserError
from dataflow.node import CPUS_ENV

from . import zoo
from .backends import formats_for, open_backend
from .decode import DecodeNode
from .detector import PersonDetector, weighted_nms
from .keypoints import Keypoints
from .model import ModelNode
from .preprocess import to_tensor
from .roi import Roi, warp
from .schemas import SCHEMAS
from .tracker import Tracker
from .tracking import TRACKING_PARAMS, DetectorNode, roi_from_keypoints

PEOPLE = PortType("people")  # list[Keypoints], one per person, ``track`` set after people_track
ROIS = PortType("rois")  # list[Roi]
TENSOR_LIST = PortType("tensor_list")  # list of model inputs
TENSORS_LIST = PortType("tensors_list")  # list of model outputs by name
CROPS = PortType("crops")  # list[Crop]

MAX_PEOPLE = 10
"""The most people one frame's detection returns (the best-scoring after suppression): more would
make boxes of background and limbs into people."""


def square_windows(width: int, height: int, overlap: float = 0.25) -> list[Roi]:
    """The whole frame, and where its long side is more than 1.2 times the short, square windows
    across it: the detector's input is square, and letterboxing a wide frame shrinks everyone in
    it; the whole frame still finds a person lying across more than a window (push-ups). Windows
    overlap by ``overlap`` of a side so that nobody is only ever cut in half."""
    long_side, short_side = max(width, height), min(width, height)
    if long_side <= 1.2 * short_side:
        return [Roi.full_frame(width, height)]
    n = math.ceil((long_side - short_side) / (short_side * (1 - overlap))) + 1
    starts = np.linspace(0, long_side - short_side, n)
    out = [Roi.full_frame(width, height)]
    for s in starts:
        c = float(s) + short_side / 2
        cx, cy = (c, height / 2) if width >= height else (width / 2, c)
        out.append(Roi(cx, cy, float(short_side), float(short_side), 0.0, "full"))
    return out


def detect_all(finder: PersonDetector, frame: np.ndarray, width: int, height: int, norm: str) -> list[Roi]:
    """Every person in the frame, best first (at most MAX_PEOPLE): the detector over square
    windows, detections merged across windows by non-max suppression in frame pixels."""
    h, w = frame.shape[:2]
    found = []
    for window in square_windows(w, h):
        image, crop = warp(frame, window, width, height)
        dets = finder.detections(to_tensor(image, norm), crop)
        if len(dets):
            found.append(dets)
    if not found:
        return []
    merged = weighted_nms(np.concatenate(found), finder.iou)
    return finder.rois(merged)[:MAX_PEOPLE]


class PeopleRoi(DetectorNode):
    """Regions of interest for up to ``people`` people: each tracked person's crop from their
    previous keypoints (feedback), and the detector for newcomers, run only while fewer than
    ``people`` are tracked (every ``search_every`` frames) or every ``detect_every`` frames."""

    inputs = [
        In("frame", FRAME),
        In("people", PEOPLE, "the previous frame's people (wire as feedback)", optional=True),
    ]
    outputs = [Out("rois", ROIS)]
    params = [
        Param("people", int, 2, "the most people tracked at once", min=1),
        Param("detector", str, "blazepose-detector", "zoo name of the person detector"),
        Param(
            "search_every",
            int,
            3,
            "while fewer than `people` are tracked, look for more this often (frames; "
            "twice as long after each search that finds no one, up to detect_every)",
            min=1,
        ),
        Param(
            "min_score",
            float,
            0.7,
            "detector score a newcomer needs (a real person scores higher in a few "
            "frames; shapes in the background do not)",
            min=0,
            max=1,
        ),
        Param("detect_every", int, 30, "look for newcomers this often (frames) even when everyone is tracked", min=1),
        *TRACKING_PARAMS,
    ]
    stateful = True

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        if self.people > MAX_PEOPLE:
            raise UserError(f"people={self.people}, but the detector finds at most {MAX_PEOPLE} people in a frame")
        if self.detector == "none":
            raise UserError("several people need a person detector (detector none finds nobody)")

    def setup(self) -> None:
        spec, path = zoo.resolve(self.detector, formats_for(self.backend))
        assert spec is not None
        self.det_spec = spec
        runner = open_backend(self.backend, path, self.device, self.precision, 0)
        self.finder = PersonDetector(runner, min_score=self.min_score, roi_scale=self.roi_scale)
        self.detections = 0  # detector runs (each over one or more windows)
        self.frames = 0
        self.since = math.inf  # frames since the detector last ran
        self.wait = self.search_every  # frames between searches while short of people
        self.tracked = 0

    def process(self, frame: np.ndarray, people: list[Keypoints] | None) -> dict[str, Any]:
        self.frames += 1
        self.since += 1
        rois = []
        for kp in people or []:
            if kp.presence >= self.presence_threshold:
                roi = roi_from_keypoints(kp, self.roi_scale, self.min_confidence)
                if roi is not None:
                    rois.append(roi)
        short = len(rois) < self.people
        if len(rois) < self.tracked:
            self.wait = self.search_every  # someone was just lost: look again soon
        self.tracked = len(rois)
        if (short and self.since >= self.wait) or self.since >= self.detect_every:
            self.since = 0
            self.detections += 1
            found = detect_all(self.finder, frame, self.det_spec.width, self.det_spec.height, self.det_spec.norm)
            new = newcomers(rois, found, self.people - len(rois))
            # A search that finds no one new waits twice as long next time (up to detect_every):
            # fewer people than `people` in view is the usual case, not a reason to search always.
            self.wait = self.search_every if new else min(self.detect_every, self.wait * 2)
            rois += new
        return {"rois": rois}


def newcomers(tracked: list[Roi], found: list[Roi], room: int) -> list[Roi]:
    """Detections that are no one already tracked (matched one to one by an optimal assignment
    on centre distance; a detection within half a crop of a tracked crop is that person), at
    most ``room``, best first."""
    if room <= 0 or not found:
        return []
    taken: set[int] = set()
    if tracked:
        cost = np.array([[math.hypot(d.cx - t.cx, d.cy - t.cy) / max(t.width, 1.0) for t in tracked] for d in found])
        rows, cols = linear_sum_assignment(cost)
        taken = {int(r) for r, c in zip(rows, cols, strict=True) if cost[r, c] < 0.5}
        # A detection near any tracked crop (assigned or not) is the same person seen twice.
        taken |= {i for i in range(len(found)) if cost[i].min() < 0.25}
    return [d for i, d in enumerate(found) if i not in taken][:room]


class PeopleCrop(Node):
    """Warp each region of interest of the frame to the model's input size."""

    inputs = [In("frame", FRAME), In("rois", ROIS)]
    outputs = [Out("tensors", TENSOR_LIST, "one model input per person"), Out("crops", CROPS)]
    params = [Param("model", str, "blazepose-full", "zoo name (or file) whose input size and normalization to use")]

    def setup(self) -> None:
        self.spec = zoo.spec_of(self.model)

    def process(self, frame: np.ndarray, rois: list[Roi]) -> dict[str, Any]:
        tensors, crops = [], []
        for roi in rois:
            image, crop = warp(frame, roi, self.spec.width, self.spec.height)
            tensors.append(to_tensor(image, self.spec.norm))
            crops.append(crop)
        return {"tensors": tensors, "crops": crops}


class PeopleModel(ModelNode):
    """The pose model on every person of a frame at once: each crop is its own inference
    request, all in flight together, so a frame of N people costs the model's N runs."""

    inputs = [In("tensors", TENSOR_LIST, "model inputs, one per person")]
    outputs = [Out("tensors", TENSORS_LIST, "model outputs by name, one per person")]
    params = [
        *(p for p in ModelNode.params if p.name != "requests"),
        Param("requests", int, 2, "frames in flight", min=1),
        Param("people", int, 2, "the most people in a frame (requests per frame)", min=1),
    ]

    def setup(self) -> None:
        self.spec, self.path = zoo.resolve(self.model, formats_for(self.backend))
        threads = self.threads or int(os.environ.get(CPUS_ENV, "0") or 0)
        keep = tuple(self.spec.outputs.values()) if self.spec is not None else None  # as the model node
        # Every person of every frame in flight is its own request.
        requests = max(2, self.requests * self.people)
        self.runner = open_backend(self.backend, self.path, self.device, self.precision, threads, requests, keep)
        self.runs = 0  # model runs, one per person per frame

    def max_in_flight(self) -> int:
        return self.requests

    def process(self, tensors: list[np.ndarray]) -> Any:
        if not tensors:
            return {"tensors": []}
        self.runs += len(tensors)
        parts = [self.runner.submit(t, _identity) for t in tensors]
        done: Future = Future()
        left = [len(parts)]
        lock = threading.Lock()

        def finished(_f: Future) -> None:
            with lock:  # one frame's requests finish on the backend's threads
                left[0] -= 1
                last = left[0] == 0
            if last:
                try:
                    done.set_result({"tensors": [p.result() for p in parts]})
                except Exception as exc:
                    done.set_exception(exc)

        for p in parts:
            p.add_done_callback(finished)
        return done


def _identity(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return tensors


class PeopleDecode(Node):
    """Each person's model outputs to keypoints in frame pixels (the ``decode`` node's work)."""

    inputs = [In("tensors", TENSORS_LIST), In("crops", CROPS)]
    outputs = [Out("keypoints", PEOPLE, "one keypoint set per crop")]
    params = DecodeNode.params

    def setup(self) -> None:
        self.one = DecodeNode(self.name, self.param_values)
        self.one.setup()

    def process(self, tensors: list[dict[str, np.ndarray]], crops: list) -> dict[str, Any]:
        return {"keypoints": [self.one.process(t, c)["keypoints"] for t, c in zip(tensors, crops, strict=True)]}


class PeopleTrack(Node):
    """Who is who: matches the frame's keypoint sets to tracked people and sends each person's
    keypoints on their own stream (``<stream>/<id>``); a person unseen for ``forget`` seconds
    is forgotten and their stream ends. ``people`` (the frame's own stream) lists everyone seen,
    ids set, for the next crops and for views that draw everyone."""

    inputs = [In("keypoints", PEOPLE)]
    outputs = [
        Out("keypoints", KEYPOINTS, "one person's keypoints, on that person's stream"),
        Out("people", PEOPLE, "everyone seen in the frame (``track`` set)"),
    ]
    params = [
        Param("people", int, 2, "the most people tracked at once", min=1),
        Param("forget", float, 3.0, "seconds a person may be hidden or gone and keep their id", min=0),
        Param("presence_threshold", float, 0.5, "below this pose presence, nobody is there", min=0, max=1),
        Param("model", str, "blazepose-full", "zoo name of the pose model (its joint names)"),
    ]
    stateful = True

    def output_type(self, port: str, inputs: dict[str, PortType]) -> PortType:
        if port == "people":
            return PEOPLE
        spec = zoo.spec_of(self.model)
        return KEYPOINTS.with_schema(spec.name, SCHEMAS[spec.schema])

    def setup(self) -> None:
        self.tracker = Tracker(self.people, self.forget)

    def process(self, keypoints: list[Keypoints]) -> list[Output]:
        present = [kp for kp in keypoints if kp.presence >= self.presence_threshold]
        seen, gone = self.tracker.update(float(self.timestamp), present)
        people = [replace(kp, track=i) for i, kp in seen]
        out = [Output({"people": people})]
        out += [Output({"keypoints": kp}, stream=f"{self.stream}/{kp.track}") for kp in people]
        out += [Output(stream=f"{self.stream}/{tr.id}", end=True) for tr in gone]
        return out

    def close(self) -> None:
        self.tracker.tracks.clear()
