"""Visual sinks: an annotated video file and a live window."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dataflow import FRAME, KEYPOINTS, RECORD, In, Node, Param, UserError
from nodes.pose.keypoints import Keypoints
from nodes.pose.people import PEOPLE
from nodes.pose.schemas import SKELETON

from .sinks import person_of


def annotate(frame: np.ndarray, kp: Keypoints | None, state: dict | None, energy: dict | None) -> np.ndarray:
    """Skeleton (joint colour by confidence), rep count, state and an energy bar."""
    img = frame.copy()
    h, w = img.shape[:2]
    scale = max(1.0, w / 640)
    if kp is not None and kp.presence >= 0.5:
        draw_skeleton(img, kp, scale)
    if state is not None:
        if state["exercise"] is None:
            text = "recognizing..."  # not sure yet (exercise auto): say so rather than guess
        else:
            confidence = state.get("recognition", {}).get("confidence")
            sure = f" ({confidence:.0%})" if confidence is not None else ""
            text = f"{state['exercise']}{sure}  reps {state['reps']}  {state['state'] or '-'}"
        cv2.rectangle(img, (0, 0), (w, int(36 * scale)), (0, 0, 0), -1)
        cv2.putText(img, text, (int(10 * scale), int(26 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale,
                    (255, 255, 255), int(2 * scale), cv2.LINE_AA)  # fmt: skip
    if energy is not None:
        bar_h = int((h - 60 * scale) * energy["score"] / 100)
        x0 = w - int(30 * scale)
        cv2.rectangle(
            img, (x0, h - int(20 * scale) - bar_h), (w - int(10 * scale), h - int(20 * scale)), (0, 140, 255), -1
        )
        cv2.putText(img, f"{energy['score']:.0f}", (x0 - int(10 * scale), h - int(4 * scale)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 140, 255), 1, cv2.LINE_AA)  # fmt: skip
    return img


def draw_skeleton(img: np.ndarray, kp: Keypoints, scale: float, bones: tuple[int, int, int] = (255, 220, 0)) -> None:
    """Bones and joints (joint colour by confidence) of one person, in place."""
    index = {n: i for i, n in enumerate(kp.names)}
    for a, b in SKELETON:
        if a in index and b in index and min(kp.confidence[index[a]], kp.confidence[index[b]]) >= 0.5:
            pa, pb = kp.xy[index[a]], kp.xy[index[b]]
            cv2.line(img, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), bones, int(2 * scale), cv2.LINE_AA)
    for (x, y), c in zip(kp.xy, kp.confidence, strict=True):
        colour = (0, int(255 * c), int(255 * (1 - c)))  # red (unsure) to green (sure)
        cv2.circle(img, (int(x), int(y)), int(3 * scale), colour, -1, cv2.LINE_AA)


# One colour per person id (BGR), so a skeleton keeps its colour as long as its id.
PERSON_COLOURS = ((255, 220, 0), (0, 200, 255), (255, 80, 200), (80, 255, 80), (0, 120, 255), (200, 200, 200))


def annotate_people(frame: np.ndarray, people: list[Keypoints], states: dict[str, dict]) -> np.ndarray:
    """Every person's skeleton with their id, exercise and count above their head. ``states``
    holds the newest rep-counter state of each person's stream (``<stream>/<id>``)."""
    img = frame.copy()
    scale = max(1.0, img.shape[1] / 640)
    by_id = {person_of(stream): state for stream, state in states.items()}
    for kp in people:
        colour = PERSON_COLOURS[(kp.track or 0) % len(PERSON_COLOURS)]
        draw_skeleton(img, kp, scale, colour)
        state = by_id.get(str(kp.track))
        text = f"#{kp.track}"
        if state is not None:
            text += f" {state['exercise'] or '...'} {state['reps']}"
        sure = kp.xy[kp.confidence >= 0.5]
        top = sure if len(sure) else kp.xy
        x, y = int(top[:, 0].min()), max(int(18 * scale), int(top[:, 1].min()) - int(8 * scale))
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (0, 0, 0), int(4 * scale), cv2.LINE_AA)
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, colour, int(2 * scale), cv2.LINE_AA)
    return img


class AnnotatedVideo(Node):
    """Write frames with skeleton, joint confidences, rep count, state and energy bar to an mp4."""

    inputs = [
        In("frame", FRAME),
        In("keypoints", KEYPOINTS, optional=True),
        In("state", RECORD, optional=True),
        In("energy", RECORD, optional=True),
    ]
    params = [
        Param("path", str, "out/annotated.mp4", "output video"),
        Param("fps", float, 30.0, "frame rate of the file", min=1),
        Param("codec", str, "mp4v", "FourCC: mp4v (any OpenCV), avc1 for H.264 where the build has an encoder"),
    ]

    def setup(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.writer: cv2.VideoWriter | None = None
        self.frames = 0

    def _open(self, size: tuple[int, int]) -> cv2.VideoWriter:
        for codec in (self.codec, "mp4v"):
            writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*codec), self.fps, size)
            if writer.isOpened():
                return writer
        raise UserError(f"node '{self.name}': OpenCV cannot write {self.path}")

    def process(self, frame: np.ndarray, keypoints: Keypoints | None, state: dict | None, energy: dict | None) -> None:
        if self.writer is None:
            self.writer = self._open((frame.shape[1], frame.shape[0]))
        self.writer.write(annotate(frame, keypoints, state, energy))
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


class AnnotatedPeople(AnnotatedVideo):
    """Write frames with every tracked person's skeleton, id, exercise and rep count to an mp4."""

    inputs = [
        In("frame", FRAME),
        In("people", PEOPLE, "everyone seen in the frame, ids set"),
        In("states", RECORD, "every person's newest rep state (wire as feedback: streams)", optional=True),
    ]

    def process(self, frame: np.ndarray, people: list[Keypoints] | None, states: dict | None) -> None:  # type: ignore[override]
        if self.writer is None:
            self.writer = self._open((frame.shape[1], frame.shape[0]))
        self.writer.write(annotate_people(frame, people or [], states or {}))
        self.frames += 1


class Window(Node):
    """Show annotated frames in a window (needs a display and the GUI build of OpenCV)."""

    inputs = AnnotatedVideo.inputs
    params = [Param("title", str, "dataflow", "window title")]

    def setup(self) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UserError(f"node '{self.name}': no display here (DISPLAY is not set); write a video with 'annotate'")
        info = cv2.getBuildInformation()
        gui = next((line for line in info.splitlines() if line.strip().startswith("GUI:")), "GUI: NONE")
        if "NONE" in gui.upper():
            raise UserError(f"node '{self.name}': this OpenCV has no GUI; pip install -e '.[gui]'")

    def process(self, frame: np.ndarray, keypoints: Any, state: Any, energy: Any) -> None:
        cv2.imshow(self.title, annotate(frame, keypoints, state, energy))
        cv2.waitKey(1)

    def close(self) -> None:
        cv2.destroyAllWindows()
