"""Body measures shared by filters, metrics and the energy meter."""

from __future__ import annotations

import numpy as np

from nodes.pose.keypoints import Keypoints


def body_scale(kp: Keypoints, min_confidence: float = 0.5) -> float:
    """Size of the person in pixels: the torso length (shoulder midpoint to hip midpoint) when
    those joints are seen, else half the sum of the keypoint box's sides."""
    try:
        idx = [kp.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    except KeyError:
        idx = []
    if idx and np.all(kp.confidence[idx] >= min_confidence):
        shoulders = kp.xy[idx[:2]].mean(axis=0)
        hips = kp.xy[idx[2:]].mean(axis=0)
        torso = float(np.linalg.norm(shoulders - hips))
        if torso > 1.0:
            return torso
    sure = kp.xy[kp.confidence >= min_confidence]
    if len(sure) < 2:
        sure = kp.xy
    extent = sure.max(axis=0) - sure.min(axis=0)
    return max(float(extent.sum()) / 2.0, 1.0)
