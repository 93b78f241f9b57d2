"""Pose-sequence arrays (``.npy``) as keypoint streams.

Other tools and public pose datasets store a clip's poses as one array: (T, 99) or (T, 33, 3)
in BlazePose order (x, y, z per landmark), or (T, 99 + k) with k extra columns after the
landmarks (ignored). A frame that is all zeros means no person was found. Coordinates in
[0, 1] are taken as fractions of a ``width`` x ``height`` image (as MediaPipe's normalized
landmarks are); larger values are taken as pixels.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nodes.pose.keypoints import Keypoints
from nodes.pose.schemas import BLAZEPOSE_33

LANDMARKS = len(BLAZEPOSE_33)
VALUES = 3 * LANDMARKS


class PoseArrayError(ValueError):
    """The file is not a pose-sequence array; the message says what is wrong."""


def load(path: str | Path) -> np.ndarray:
    """The array of ``path`` as float32 (T, 33, 3); raise PoseArrayError naming the problem."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        # numpy's own words here are about pickles and headers; the user needs to know what to give.
        raise PoseArrayError("not a .npy array of numbers (numpy.save of a (T, 99) or (T, 33, 3) array)") from None
    return load_array(data)


def load_array(data: np.ndarray) -> np.ndarray:
    """A pose-sequence array in any of the accepted layouts as float32 (T, 33, 3)."""
    if not isinstance(data, np.ndarray) or not np.issubdtype(data.dtype, np.number):
        raise PoseArrayError("not a numeric array")
    if data.ndim == 1 and data.size == 0:
        return np.zeros((0, LANDMARKS, 3), np.float32)
    if data.ndim == 3 and data.shape[1:] == (LANDMARKS, 3):
        return data.astype(np.float32)
    if data.ndim == 2 and data.shape[1] >= VALUES:
        return data[:, :VALUES].reshape(-1, LANDMARKS, 3).astype(np.float32)
    raise PoseArrayError(
        f"shape {data.shape} is not a pose sequence: expected (T, 99), (T, 33, 3) or (T, 99 + extra columns)"
    )


def frames(
    poses: np.ndarray, fps: float, width: int, height: int, confidence: float = 1.0
) -> Iterator[tuple[float, Keypoints]]:
    """(timestamp, keypoints) per frame of a (T, 33, 3) array; all-zero frames have no person."""
    normalized = poses.size > 0 and float(np.nanmax(np.abs(poses[..., :2]))) <= 1.5
    scale = np.array([width, height], np.float32) if normalized else np.ones(2, np.float32)
    present_conf = np.full(LANDMARKS, confidence, np.float32)
    absent_conf = np.zeros(LANDMARKS, np.float32)
    for i, pose in enumerate(poses):
        present = bool(np.any(pose != 0.0)) and bool(np.all(np.isfinite(pose)))
        xy = np.nan_to_num(pose[:, :2]) * scale
        yield (
            i / fps,
            Keypoints(
                schema="blazepose33",
                names=BLAZEPOSE_33,
                xy=xy,
                confidence=present_conf if present else absent_conf,
                presence=1.0 if present else 0.0,
                image_size=(width, height),
                z=np.nan_to_num(pose[:, 2]) * scale[0],
            ),
        )
