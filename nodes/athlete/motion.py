"""A synthetic athlete's motion: key poses per exercise, eased between, with natural variation.

Poses are joint positions in torso lengths (hip centre at the origin, y down), for the right
side of the body; the left side is the same joint offset in depth (side view) or mirrored
(front view). A rep goes rest -> peak -> rest with a cosine ease. Used by the tests (known
counts) and by the synthetic athlete source (known joint positions).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from nodes.pose.keypoints import Keypoints
from nodes.pose.schemas import SCHEMAS

JOINTS = ("nose", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "heel", "foot_index")
Pose = dict[str, tuple[float, float]]

STAND: Pose = {
    "nose": (0.12, -1.32),
    "shoulder": (0.0, -1.0),
    "elbow": (0.02, -0.48),
    "wrist": (0.05, 0.02),
    "hip": (0.0, 0.0),
    "knee": (0.03, 0.95),
    "ankle": (0.0, 1.9),
    "heel": (-0.08, 1.97),
    "foot_index": (0.22, 1.98),
}


def _with(base: Pose, **changes: tuple[float, float]) -> Pose:
    out = dict(base)
    out.update(changes)
    return out


_PUSHUP_UP: Pose = {
    "nose": (0.28, -0.95),
    "shoulder": (0.0, -0.9),
    "elbow": (0.0, -0.46),
    "wrist": (0.0, 0.0),
    "hip": (-1.0, -0.72),
    "knee": (-1.92, -0.52),
    "ankle": (-2.82, -0.33),
    "heel": (-2.9, -0.4),
    "foot_index": (-2.78, -0.05),
}
_PUSHUP_DOWN: Pose = _with(
    _PUSHUP_UP,
    nose=(0.33, -0.38),
    shoulder=(0.05, -0.45),
    elbow=(-0.3, -0.35),
    hip=(-0.95, -0.36),
    knee=(-1.88, -0.34),
)
_LYING: Pose = {
    "nose": (-1.3, -0.15),
    "shoulder": (-1.0, -0.05),
    "elbow": (-0.8, 0.0),
    "wrist": (-0.55, -0.05),
    "hip": (0.0, 0.0),
    "knee": (0.55, -0.7),
    "ankle": (1.3, -0.05),
    "heel": (1.25, 0.0),
    "foot_index": (1.5, -0.1),
}
_SITTING: Pose = {
    "nose": (0.1, -1.32),
    "shoulder": (0.0, -1.0),
    "elbow": (0.05, -0.5),
    "wrist": (0.3, -0.2),
    "hip": (0.0, 0.0),
    "knee": (0.9, 0.0),
    "ankle": (0.95, 0.9),
    "heel": (0.88, 0.95),
    "foot_index": (1.15, 0.97),
}

# Lying on a bench (side view), head to the left, feet on the floor.
_BENCH: Pose = {
    "nose": (-1.3, -0.2),
    "shoulder": (-1.0, -0.05),
    "elbow": (-1.0, -0.5),
    "wrist": (-1.0, -1.0),
    "hip": (0.0, 0.0),
    "knee": (0.55, -0.3),
    "ankle": (0.7, 0.6),
    "heel": (0.62, 0.65),
    "foot_index": (0.9, 0.66),
}

# Hinged at the hips with a flat back (side view), knees soft.
_BENT_OVER: Pose = {
    "nose": (1.0, -0.7),
    "shoulder": (0.75, -0.55),
    "elbow": (0.8, -0.05),
    "wrist": (0.82, 0.45),
    "hip": (0.0, 0.0),
    "knee": (0.25, 0.9),
    "ankle": (0.0, 1.8),
    "heel": (-0.08, 1.87),
    "foot_index": (0.22, 1.88),
}


@dataclass(frozen=True)
class Exercise:
    """Rest and peak poses of one exercise and the view they are drawn for."""

    rest: Pose
    peak: Pose
    view: str = "side"  # side | front
    peak_left: Pose | None = None  # front view: the left side when it differs from a mirror


EXERCISES: dict[str, Exercise] = {
    "squat": Exercise(
        STAND,
        {
            "nose": (0.72, 0.05),
            "shoulder": (0.42, 0.38),
            "elbow": (0.9, 0.45),
            "wrist": (1.38, 0.45),
            "hip": (-0.3, 1.1),
            "knee": (0.6, 1.17),
            "ankle": (0.0, 1.9),
            "heel": (-0.08, 1.97),
            "foot_index": (0.22, 1.98),
        },
    ),
    "push-up": Exercise(_PUSHUP_UP, _PUSHUP_DOWN),
    "bicep-curl": Exercise(STAND, _with(STAND, wrist=(0.22, -0.92))),
    "hammer-curl": Exercise(STAND, _with(STAND, wrist=(0.25, -0.9))),
    "lunge": Exercise(
        STAND,
        {
            "nose": (0.1, -0.45),
            "shoulder": (0.0, -0.1),
            "elbow": (0.03, 0.42),
            "wrist": (0.05, 0.9),
            "hip": (0.0, 0.9),
            "knee": (0.9, 1.0),
            "ankle": (0.9, 1.9),
            "heel": (0.82, 1.97),
            "foot_index": (1.12, 1.98),
        },
        peak_left={"knee": (-0.45, 1.75), "ankle": (-1.3, 1.8), "heel": (-1.38, 1.75), "foot_index": (-1.2, 1.98)},
    ),
    "deadlift": Exercise(
        STAND,
        {
            "nose": (1.05, 0.0),
            "shoulder": (0.75, 0.2),
            "elbow": (0.72, 0.68),
            "wrist": (0.7, 1.15),
            "hip": (-0.1, 0.65),
            "knee": (0.2, 1.25),
            "ankle": (0.0, 1.9),
            "heel": (-0.08, 1.97),
            "foot_index": (0.22, 1.98),
        },
    ),
    "sit-up": Exercise(
        _LYING, _with(_LYING, nose=(0.15, -1.3), shoulder=(0.2, -0.98), elbow=(0.45, -0.6), wrist=(0.6, -0.9))
    ),
    "leg-raise": Exercise(
        _with(_LYING, knee=(0.95, -0.05), ankle=(1.9, -0.05), heel=(1.9, 0.0), foot_index=(2.05, -0.15)),
        _with(_LYING, knee=(0.1, -0.95), ankle=(0.2, -1.9), heel=(0.28, -1.9), foot_index=(0.15, -2.05)),
    ),
    "leg-extension": Exercise(
        _SITTING, _with(_SITTING, ankle=(1.85, -0.1), heel=(1.85, -0.02), foot_index=(1.95, -0.3))
    ),
    "plank": Exercise(
        _with(
            _PUSHUP_UP,
            elbow=(0.0, 0.0),
            wrist=(0.45, 0.0),
            shoulder=(0.0, -0.45),
            hip=(-1.0, -0.35),
            knee=(-1.95, -0.25),
            ankle=(-2.85, -0.15),
            nose=(0.3, -0.5),
        ),
        _with(STAND),
    ),
    "jumping-jack": Exercise(
        _with(STAND, elbow=(0.22, -0.5), wrist=(0.25, 0.02), knee=(0.15, 0.95), ankle=(0.15, 1.9)),
        _with(STAND, elbow=(0.65, -1.3), wrist=(0.6, -1.85), knee=(0.45, 0.9), ankle=(0.8, 1.8)),
        view="front",
    ),
    "shoulder-press": Exercise(
        _with(STAND, elbow=(0.55, -0.65), wrist=(0.55, -1.15)),
        _with(STAND, elbow=(0.35, -1.45), wrist=(0.3, -1.95)),
        view="front",
    ),
    "lateral-raise": Exercise(
        _with(STAND, elbow=(0.28, -0.5), wrist=(0.3, 0.02)),
        _with(STAND, elbow=(0.72, -1.02), wrist=(1.2, -1.02)),
        view="front",
    ),
    "bench-press": Exercise(
        _with(_BENCH, elbow=(-1.0, -0.5), wrist=(-1.0, -1.0)),
        _with(_BENCH, elbow=(-0.75, 0.25), wrist=(-0.95, -0.45)),
    ),
    "front-raise": Exercise(
        _with(STAND, elbow=(0.06, -0.48), wrist=(0.12, 0.02)),
        _with(STAND, elbow=(0.5, -0.95), wrist=(1.0, -1.0)),
    ),
    "pull-up": Exercise(
        _with(STAND, knee=(0.1, 0.9), ankle=(0.05, 1.8), elbow=(0.05, -1.5), wrist=(0.05, -2.0), nose=(0.1, -1.3)),
        _with(STAND, knee=(0.1, 0.9), ankle=(0.05, 1.8), elbow=(0.4, -0.9), wrist=(0.1, -1.4), nose=(0.15, -1.35)),
    ),
    "tricep-pushdown": Exercise(
        _with(STAND, shoulder=(0.1, -0.98), elbow=(0.12, -0.47), wrist=(0.6, -0.6)),
        _with(STAND, shoulder=(0.1, -0.98), elbow=(0.12, -0.47), wrist=(0.2, 0.02)),
    ),
    "lat-pulldown": Exercise(
        _with(_SITTING, elbow=(0.1, -1.5), wrist=(0.15, -2.0)),
        _with(_SITTING, elbow=(-0.15, -0.6), wrist=(0.15, -1.05)),
    ),
    "hip-thrust": Exercise(
        _with(
            _BENCH,
            shoulder=(-0.9, -0.45),
            nose=(-1.2, -0.65),
            elbow=(-0.6, -0.3),
            wrist=(-0.3, -0.2),
            knee=(0.7, -0.6),
            ankle=(0.95, 0.3),
            heel=(0.9, 0.35),
            foot_index=(1.15, 0.35),
        ),
        _with(
            _BENCH,
            shoulder=(-1.0, 0.0),
            nose=(-1.3, -0.15),
            elbow=(-0.65, 0.05),
            wrist=(-0.3, 0.0),
            knee=(0.95, 0.0),
            ankle=(1.0, 0.9),
            heel=(0.95, 0.95),
            foot_index=(1.2, 0.95),
        ),
    ),
    "tricep-dips": Exercise(
        _with(STAND, elbow=(0.05, -0.5), wrist=(0.1, 0.0), knee=(0.35, 0.8), ankle=(0.2, 1.6)),
        _with(STAND, elbow=(-0.4, -0.8), wrist=(0.1, -0.55), knee=(0.35, 0.8), ankle=(0.2, 1.6)),
    ),
    "t-bar-row": Exercise(
        _with(_BENT_OVER, elbow=(0.8, -0.05), wrist=(0.82, 0.45)),
        _with(_BENT_OVER, elbow=(0.3, -0.5), wrist=(0.62, -0.15)),
    ),
    "chest-fly": Exercise(
        _with(_SITTING, knee=(0.25, 0.0), ankle=(0.25, 0.9), elbow=(0.75, -0.85), wrist=(1.25, -0.8)),
        _with(_SITTING, knee=(0.25, 0.0), ankle=(0.25, 0.9), elbow=(0.3, -0.8), wrist=(-0.1, -0.75)),
        view="front",
    ),
    "romanian-deadlift": Exercise(
        STAND,
        _with(_BENT_OVER, knee=(0.12, 0.93), elbow=(0.78, 0.0), wrist=(0.75, 0.5), nose=(1.05, -0.55)),
    ),
}
# Shoulders and hips sit apart in a front view.
_HALF_WIDTH = {"shoulder": 0.22, "elbow": 0.0, "hip": 0.14}


def pose_at(name: str, s: float, side: str) -> Pose:
    """Joint positions at ``s`` in [0, 1] between rest (0) and peak (1), for one body side."""
    ex = EXERCISES[name]
    peak = ex.peak
    if side == "left" and ex.peak_left:
        peak = _with(ex.peak, **ex.peak_left)
    out: Pose = {}
    for j in JOINTS:
        (ax, ay), (bx, by) = ex.rest[j], peak[j]
        x, y = ax + (bx - ax) * s, ay + (by - ay) * s
        if ex.view == "front":
            # Facing the camera: the person's left is on the image's right.
            x = _HALF_WIDTH.get(j, 0.0) + x
            if side == "right":
                x = -x
        out[j] = (x, y)
    return out


@dataclass
class Take:
    """How a synthetic set is performed and observed."""

    exercise: str
    reps: int
    fps: float = 30.0
    rep_seconds: float = 2.0
    pause_seconds: float = 0.6  # standing still between reps
    lead_seconds: float = 1.0  # before the first and after the last rep
    noise_px: float = 1.5
    fps_jitter: float = 0.15  # fraction of the frame interval
    dropout: float = 0.03  # chance a joint is unseen in a frame
    torso_px: float = 150.0
    size: tuple[int, int] = (640, 480)
    seed: int = 0
    variation: float = 0.08  # rep-to-rep variation of depth and speed
    amplitude: float = 1.0  # fraction of the way from rest to peak a rep goes


def phase_track(take: Take) -> Iterator[tuple[float, float]]:
    """(time, s) samples: lead, then per rep an eased rest->peak->rest with a pause after."""
    rng = np.random.default_rng(take.seed)
    t = 0.0
    dt = 1.0 / take.fps
    segments: list[tuple[float, float]] = [(take.lead_seconds, 0.0)]
    for _ in range(take.reps):
        depth = take.amplitude * (1.0 - take.variation * rng.random())
        duration = take.rep_seconds * (1.0 + take.variation * (rng.random() - 0.5))
        segments.append((duration, depth))
        segments.append((take.pause_seconds * (0.5 + rng.random()), 0.0))
    segments.append((take.lead_seconds, 0.0))
    for duration, depth in segments:
        start = t
        while t < start + duration:
            u = (t - start) / duration
            s = depth * 0.5 * (1 - math.cos(2 * math.pi * u)) if depth > 0 else 0.0
            yield t, s
            t += dt * (1.0 + take.fps_jitter * (rng.random() - 0.5))


def keypoints_sequence(take: Take, schema: str = "blazepose33") -> Iterator[tuple[float, Keypoints]]:
    """Observed keypoints of a synthetic set: noise, frame-time jitter and dropouts."""
    rng = np.random.default_rng(take.seed + 1)
    names = SCHEMAS[schema]
    for t, s in phase_track(take):
        xy, conf = project(take, s, names)
        xy = xy + rng.normal(0, take.noise_px, xy.shape)
        conf = np.where(rng.random(len(names)) < take.dropout, 0.1, conf)
        yield t, Keypoints(schema, names, xy.astype(np.float32), conf.astype(np.float32), 0.99, take.size)


def project(take: Take, s: float, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Frame-pixel positions and confidences of a schema's joints at ease ``s``."""
    ex = EXERCISES[take.exercise]
    sides = {side: pose_at(take.exercise, s, side) for side in ("left", "right")}
    w, h = take.size
    origin = np.array([w * 0.5, h * 0.5])
    if ex.view == "side" and EXERCISES[take.exercise].rest["ankle"][0] < -1:
        origin[0] += take.torso_px * 1.2  # horizontal bodies extend behind the hips
    depth = {"left": 0.04, "right": -0.04} if ex.view == "side" else {"left": 0.0, "right": 0.0}
    joints = {}
    for side, pose in sides.items():
        for j, (x, y) in pose.items():
            joints[f"{side}_{j}"] = origin + take.torso_px * np.array([x + depth[side], y])
    joints.update(_derived(joints, take.torso_px))
    xy = np.array([joints[n] for n in names])
    conf = np.full(len(names), 0.95)
    return xy, conf


def _derived(j: dict[str, np.ndarray], torso: float) -> dict[str, np.ndarray]:
    """Face joints and MPII's midline joints from the ones the poses define."""
    nose = (j["left_nose"] + j["right_nose"]) / 2
    shoulders = (j["left_shoulder"] + j["right_shoulder"]) / 2
    hips = (j["left_hip"] + j["right_hip"]) / 2
    up = shoulders - hips
    up = up / (np.linalg.norm(up) + 1e-9)
    out = {"nose": nose, "thorax": shoulders, "pelvis": hips}
    out["upper_neck"] = shoulders + up * 0.15 * torso
    out["head_top"] = nose + up * 0.25 * torso
    for side, sign in (("left", 1), ("right", -1)):
        out[f"{side}_eye"] = nose + np.array([sign * 0.05, -0.06]) * torso
        out[f"{side}_eye_inner"] = nose + np.array([sign * 0.03, -0.06]) * torso
        out[f"{side}_eye_outer"] = nose + np.array([sign * 0.07, -0.06]) * torso
        out[f"{side}_ear"] = nose + np.array([sign * 0.1, -0.02]) * torso
        out[f"mouth_{side}"] = nose + np.array([sign * 0.03, 0.05]) * torso
        for finger in ("pinky", "index", "thumb"):
            out[f"{side}_{finger}"] = j[f"{side}_wrist"] + (j[f"{side}_wrist"] - j[f"{side}_elbow"]) * 0.15
    return out
