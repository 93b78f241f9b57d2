"""Pose features for recognizing an exercise, the same for any joint schema.

A frame's pose is described by its 12 limb joints (shoulders, elbows, wrists, hips, knees, ankles)
placed in their own bounding box (each axis scaled to [0, 1], as public pose datasets store poses,
so a camera's distance and a frame's aspect do not matter) and the 8 joint angles of elbows,
shoulders, hips and knees. Kernels only: no state, no model.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

from nodes.pose.keypoints import name_index

LIMB_JOINTS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
JOINTS = tuple(f"{side}_{j}" for j in LIMB_JOINTS for side in ("left", "right"))
# (a, b, c): the angle at b; indices into JOINTS.
_J = {n: i for i, n in enumerate(JOINTS)}
ANGLES = tuple(
    (_J[f"{s}_{a}"], _J[f"{s}_{b}"], _J[f"{s}_{c}"])
    for a, b, c in (("shoulder", "elbow", "wrist"), ("hip", "shoulder", "elbow"), ("shoulder", "hip", "knee"),
                    ("hip", "knee", "ankle"))
    for s in ("left", "right")
)  # fmt: skip
FEATURES = 2 * len(JOINTS) + len(ANGLES)  # x, y per joint, then angles (in half turns)
MIRROR = np.array([_J[n.replace("left_", "tmp_").replace("right_", "left_").replace("tmp_", "right_")] for n in JOINTS])


@lru_cache(maxsize=16)
def joint_indices(names: tuple[str, ...]) -> np.ndarray | None:
    """Positions of the 12 limb joints in a schema, or None when it lacks one."""
    index = name_index(names)
    if not all(j in index for j in JOINTS):
        return None
    return np.array([index[j] for j in JOINTS])


def frame_features(xy: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """(T, FEATURES) pose features of (T, 12, 2) limb joints; NaN where a joint is not ``seen``
    ((T, 12) booleans). Coordinates are scaled to the box of the seen joints of each frame."""
    xy = np.where(seen[..., None], xy.astype(np.float64), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a frame with no joint seen: all NaN, as it should
        lo = np.nanmin(xy, axis=1, keepdims=True)
        hi = np.nanmax(xy, axis=1, keepdims=True)
    box = (xy - lo) / np.maximum(hi - lo, 1e-6)
    a, b, c = (box[:, [t[k] for t in ANGLES]] for k in range(3))
    v1, v2 = a - b, c - b
    cos = np.sum(v1 * v2, axis=-1) / np.maximum(np.linalg.norm(v1, axis=-1) * np.linalg.norm(v2, axis=-1), 1e-9)
    angles = np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi
    return np.concatenate([box[..., 0], box[..., 1], angles], axis=1)


def mirrored(features: np.ndarray) -> np.ndarray:
    """The same features of the mirror image (x flipped, left and right swapped)."""
    n = len(JOINTS)
    x, y, ang = features[..., :n], features[..., n : 2 * n], features[..., 2 * n :]
    swap = np.arange(len(ANGLES)) ^ 1  # ANGLES alternate left, right
    return np.concatenate([1.0 - x[..., MIRROR], y[..., MIRROR], ang[..., swap]], axis=-1)
