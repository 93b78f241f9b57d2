"""The synthetic athlete: a rendered figure performing a session (sets of exercises, rests), with
known joints. A source node of its own: a graph chooses it for input ``synthetic[:SESSION]``.

Limbs are shaded capsules in clothing colours (shirt, shorts, skin, shoes) on a wall and a
floor, far-side limbs darker and drawn first, so that a pose model sees a person. The joint
positions come from ``motion`` and travel with each frame as ground truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np

from dataflow import FRAME, KEYPOINTS, Out, Param, PortType, Sample
from nodes.pose.keypoints import Keypoints
from nodes.pose.schemas import BLAZEPOSE_33

from .motion import Take
from .session_plan import Item, Session
from .synthetic import SessionSource

SKIN = (150, 175, 225)
SHIRT = (60, 70, 200)
SHORTS = (80, 55, 40)
SHOES = (40, 40, 40)
HAIR = (30, 35, 45)

# (from, to, colour, thickness in torso lengths)
LIMBS = (
    ("hip", "knee", SHORTS, 0.24),
    ("knee", "ankle", SKIN, 0.17),
    ("heel", "foot_index", SHOES, 0.1),
    ("ankle", "foot_index", SHOES, 0.1),
    ("shoulder", "elbow", SHIRT, 0.16),
    ("elbow", "wrist", SKIN, 0.12),
)


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, c * factor)) for c in colour)  # type: ignore[return-value]


def _capsule(img: np.ndarray, a: np.ndarray, b: np.ndarray, colour: tuple[int, int, int], width: float) -> None:
    """A limb: dark outline, body colour, a lighter stripe for roundness."""
    pa, pb = tuple(int(v) for v in a), tuple(int(v) for v in b)
    w = max(2, int(width))
    cv2.line(img, pa, pb, _shade(colour, 0.55), w + 4, cv2.LINE_AA)
    cv2.line(img, pa, pb, colour, w, cv2.LINE_AA)
    offset = np.array([-(b - a)[1], (b - a)[0]], dtype=np.float64)
    norm = np.linalg.norm(offset)
    if norm > 0:
        offset = offset / norm * w * 0.2
        cv2.line(img, tuple(int(v) for v in a + offset), tuple(int(v) for v in b + offset),
                 _shade(colour, 1.25), max(1, w // 3), cv2.LINE_AA)  # fmt: skip


def background(size: tuple[int, int], floor_y: int) -> np.ndarray:
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    ramp = np.linspace(200, 170, h)[:, None]
    img[:] = np.dstack([ramp * 0.95, ramp * 0.97, ramp])[:, :1, :].astype(np.uint8)
    img[floor_y:] = (95, 110, 125)
    cv2.line(img, (0, floor_y), (w, floor_y), (70, 80, 90), 2, cv2.LINE_AA)
    return img


def render(
    joints: dict[str, np.ndarray], torso_px: float, size: tuple[int, int], floor_y: int, view: str
) -> np.ndarray:
    """Draw the figure from named joint positions (frame pixels)."""
    img = background(size, floor_y)
    # Shadow on the floor under the feet.
    feet = [joints[f"{s}_ankle"] for s in ("left", "right")]
    cx = int(np.mean([f[0] for f in feet]))
    cv2.ellipse(img, (cx, floor_y + 4), (int(torso_px * 0.6), int(torso_px * 0.06)), 0, 0, 360, (80, 90, 100), -1)
    order = ("left", "right") if view == "side" else ("right", "left")
    far, near = order
    for side, factor in ((far, 0.75), (near, 1.0)):
        for a, b, colour, thick in LIMBS[:4]:
            _capsule(img, joints[f"{side}_{a}"], joints[f"{side}_{b}"], _shade(colour, factor), thick * torso_px)
        if side == far:
            for a, b, colour, thick in LIMBS[4:]:
                _capsule(img, joints[f"{side}_{a}"], joints[f"{side}_{b}"], _shade(colour, factor), thick * torso_px)
            _torso(img, joints, torso_px, view)
    for a, b, colour, thick in LIMBS[4:]:
        _capsule(img, joints[f"{near}_{a}"], joints[f"{near}_{b}"], colour, thick * torso_px)
    return img


def _torso(img: np.ndarray, j: dict[str, np.ndarray], torso_px: float, view: str) -> None:
    sh = (j["left_shoulder"] + j["right_shoulder"]) / 2
    hip = (j["left_hip"] + j["right_hip"]) / 2
    axis = sh - hip
    length = np.linalg.norm(axis) + 1e-9
    normal = np.array([-axis[1], axis[0]]) / length
    half_sh = max(0.19 * torso_px, np.linalg.norm(j["left_shoulder"] - j["right_shoulder"]) / 2 + 0.08 * torso_px)
    half_hip = max(0.17 * torso_px, np.linalg.norm(j["left_hip"] - j["right_hip"]) / 2 + 0.08 * torso_px)
    if view == "side":
        half_sh, half_hip = 0.2 * torso_px, 0.18 * torso_px
    poly = np.array([sh + normal * half_sh, sh - normal * half_sh, hip - normal * half_hip, hip + normal * half_hip])
    cv2.fillConvexPoly(img, poly.astype(np.int32), SHIRT, cv2.LINE_AA)
    cv2.polylines(img, [poly.astype(np.int32)], True, _shade(SHIRT, 0.55), 2, cv2.LINE_AA)
    # Shorts over the hips.
    side = normal * half_hip * 1.05
    band = np.array(
        [hip + side + axis * 0.18, hip - side + axis * 0.18, hip - side - axis * 0.08, hip + side - axis * 0.08]
    )
    cv2.fillConvexPoly(img, band.astype(np.int32), SHORTS, cv2.LINE_AA)
    # Neck and head.
    head = j["nose"] - normal * 0.0
    up = axis / length
    neck_top = sh + up * 0.18 * torso_px
    _capsule(img, sh, neck_top, SKIN, 0.11 * torso_px)
    centre = (neck_top + head) / 2 + up * 0.05 * torso_px
    r = int(0.2 * torso_px)
    cv2.circle(img, tuple(int(v) for v in centre), r, SKIN, -1, cv2.LINE_AA)
    cv2.circle(img, tuple(int(v) for v in centre), r, _shade(SKIN, 0.6), 2, cv2.LINE_AA)
    cv2.ellipse(img, tuple(int(v) for v in centre + up * r * 0.35), (r, int(r * 0.7)),
                float(np.degrees(np.arctan2(up[1], up[0]))) + 90, 180, 360, HAIR, -1, cv2.LINE_AA)  # fmt: skip
    eye = head + (head - centre) * 0.1
    cv2.circle(img, tuple(int(v) for v in eye), max(1, r // 8), (40, 40, 40), -1, cv2.LINE_AA)


class SyntheticAthlete(SessionSource):
    """Rendered frames of a figure performing a session of exercises, and the true joint positions."""

    outputs = [Out("frame", FRAME, "BGR image"), Out("truth", KEYPOINTS, "rendered joint positions")]
    params = [
        *SessionSource.params,
        Param("seed", int, 0, "random seed of the variations"),
        Param("fps", float, 30.0, "frame rate", min=1),
        Param("torso_px", float, 110.0, "torso length in pixels", min=20),
    ]

    def output_type(self, port: str, inputs: dict[str, PortType]) -> PortType:
        return KEYPOINTS.with_schema("blazepose33", BLAZEPOSE_33) if port == "truth" else FRAME

    def generate(self) -> Iterator[Sample]:
        yield from session_frames(self.plan, self.seed, self.fps, self.torso_px)


def frames(exercise: str, reps: int, seed: int = 0, fps: float = 30.0, torso_px: float = 110.0) -> Iterator[Sample]:
    """Rendered frames of one set: ``reps`` of ``exercise``."""
    return session_frames([Item(exercise, reps)], seed, fps, torso_px)


def session_frames(
    plan: str | list[Item], seed: int = 0, fps: float = 30.0, torso_px: float = 110.0
) -> Iterator[Sample]:
    """Rendered frames (``frame``) and true joints (``truth``) of a session, timestamped."""
    # How every set is performed (no frame-time jitter: a rendered clip); the plan says what.
    take = Take("squat", 0, fps=fps, seed=seed, fps_jitter=0.0, torso_px=torso_px, size=(640, 480))
    floor_y = 0
    for t, xy, view in Session(plan, take).motion(BLAZEPOSE_33):
        joints: dict[str, Any] = dict(zip(BLAZEPOSE_33, xy, strict=True))
        if not floor_y:
            floor_y = int(max(joints["left_foot_index"][1], joints["right_foot_index"][1], joints["left_wrist"][1]) + 6)
            floor_y = min(floor_y, 470)
        img = render(joints, torso_px, take.size, floor_y, view)
        truth = Keypoints(
            "blazepose33", BLAZEPOSE_33, xy[:33].astype(np.float32), np.ones(33, np.float32), 1.0, take.size
        )
        yield Sample({"frame": img, "truth": truth}, timestamp=t)
