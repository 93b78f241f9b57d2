"""Body measures shared by filters, metrics and the energy meter."""

from __future__ import annotations

import math
from functools import lru_cache

from nodes.pose.keypoints import Keypoints, name_index

TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


@lru_cache(maxsize=64)
def _torso_indices(names: tuple[str, ...]) -> tuple[int, ...] | None:
    index = name_index(names)
    return tuple(index[n] for n in TORSO) if all(n in index for n in TORSO) else None


def body_scale(kp: Keypoints, min_confidence: float = 0.5) -> float:
    """Size of the person in pixels: the torso length (shoulder midpoint to hip midpoint) when
    those joints are seen, else one side's shoulder-to-hip length (so a joint dropping out for a
    frame does not change the unit), else half the sum of the keypoint box's sides."""
    idx = _torso_indices(kp.names)
    conf, xy = kp.confidence, kp.xy
    if idx is not None:
        ls, rs, lh, rh = (xy[i] for i in idx)
        seen = [conf[i] >= min_confidence for i in idx]
        if all(seen):
            torso = math.hypot((ls[0] + rs[0] - lh[0] - rh[0]) / 2, (ls[1] + rs[1] - lh[1] - rh[1]) / 2)
            if torso > 1.0:
                return float(torso)
        for shoulder, hip, both_seen in ((ls, lh, seen[0] and seen[2]), (rs, rh, seen[1] and seen[3])):
            side = math.hypot(shoulder[0] - hip[0], shoulder[1] - hip[1]) if both_seen else 0.0
            if side > 1.0:
                return float(side)
    sure = xy[conf >= min_confidence]
    if len(sure) < 2:
        sure = xy
    extent = sure.max(axis=0) - sure.min(axis=0)
    return max(float(extent.sum()) / 2.0, 1.0)
