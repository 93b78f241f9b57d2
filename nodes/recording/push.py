"""Poses from an application's memory into a ``dataflow.open`` session, as keypoints.

A session opened on a graph's ``keypoints`` node (``dataflow.open("reps", feed="keypoints")``)
takes ``Keypoints``; these helpers make them from one pose or a pose sequence laid out as pose
arrays are (BlazePose order, x y z per landmark; see ``pose_arrays``), so a notebook's array goes
through the counter without a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dataflow import DataflowError, Result, Session
from nodes.pose.keypoints import Keypoints
from nodes.recording import pose_arrays


def keypoints(pose: Any, width: int = 1000, height: int = 1000) -> Keypoints:
    """One pose as Keypoints: a ``Keypoints`` as it is, or an array of shape (33, 3) or (99,)
    (or (99 + k,), extra values ignored); all zeros is no person. Normalized coordinates are
    fractions of a ``width`` x ``height`` image."""
    if isinstance(pose, Keypoints):
        return pose
    array = np.asarray(pose)
    try:
        poses = pose_arrays.load_array(array.reshape(1, -1) if array.ndim == 1 else array[None])
    except pose_arrays.PoseArrayError as exc:
        raise DataflowError(f"push_keypoints: {exc}") from None
    if len(poses) != 1:
        raise DataflowError(f"push_keypoints: one pose at a time, got shape {array.shape}")
    return next(pose_arrays.frames(poses, 1.0, width, height))[1]


def push_keypoints(
    session: Session, pose: Any, timestamp: float | None = None, width: int = 1000, height: int = 1000
) -> None:
    """Push one pose (``keypoints`` says which) with its capture time in seconds (default: now)."""
    session.push(keypoints(pose, width, height), timestamp=timestamp)


def map_keypoints(
    session: Session, poses: Any, fps: float = 30.0, width: int = 1000, height: int = 1000
) -> Iterator[Result]:
    """Push a pose sequence ((T, 99), (T, 33, 3) or (T, 99 + k)) at ``fps`` and yield the results
    as they come; the session is closed at the end (``Session.map``)."""
    try:
        array = pose_arrays.load_array(np.asarray(poses))
    except pose_arrays.PoseArrayError as exc:
        raise DataflowError(f"map_keypoints: {exc}") from None
    if not fps > 0:
        raise DataflowError(f"map_keypoints: fps must be > 0, got {fps}")
    frames = pose_arrays.frames(array, fps, width, height)
    yield from session.map((kp for _, kp in frames), fps=fps)
