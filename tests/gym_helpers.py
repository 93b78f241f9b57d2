"""Inputs for the gym tests and bench: several people in one frame, made from one-person
material (the synthetic athlete, the shared clips) placed side by side."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from nodes.athlete.athlete import session_frames


def athlete(plan: str, seed: int = 0) -> Iterator[np.ndarray]:
    """Frames of the rendered athlete doing ``plan`` (``squat*3,rest*2s``)."""
    for sample in session_frames(plan, seed=seed):
        yield sample.values["frame"]


def clip(path: Path) -> Iterator[np.ndarray]:
    """Frames of a video file."""
    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


def side_by_side(*sources: Iterable[np.ndarray], height: int = 480, shift: int = 0) -> Iterator[np.ndarray]:
    """Frames of every source next to each other, each scaled to ``height``; a source that ends
    early shows black while the others go on. ``shift`` pixels per frame moves the second
    source over the first (people who cross), on a canvas as wide as the sources together."""
    its = [iter(s) for s in sources]
    last: list[np.ndarray | None] = [None] * len(its)
    done = [False] * len(its)
    k = 0
    while True:
        tiles = []
        for i, it in enumerate(its):
            frame = None if done[i] else next(it, None)
            if frame is None:
                done[i] = True
                shape = last[i].shape if last[i] is not None else (height, height, 3)
                tile = np.zeros(shape, np.uint8)
            else:
                scale = height / frame.shape[0]
                tile = cv2.resize(frame, (round(frame.shape[1] * scale / 2) * 2, height))
                last[i] = tile
            tiles.append(tile)
        if all(done):
            return
        if shift and len(tiles) == 2:
            yield _crossing(tiles[0], tiles[1], k * shift)
        else:
            yield np.hstack(tiles)
        k += 1


def _crossing(a: np.ndarray, b: np.ndarray, moved: int) -> np.ndarray:
    """b starts right of a and moves ``moved`` pixels left, over and past a (lighter pixels win,
    so both figures stay visible where they overlap)."""
    width = a.shape[1] + b.shape[1]
    canvas = np.zeros((a.shape[0], width, 3), np.uint8)
    canvas[:, : a.shape[1]] = a
    x = max(0, a.shape[1] - moved)
    part = b[:, : width - x]
    canvas[:, x : x + part.shape[1]] = np.maximum(canvas[:, x : x + part.shape[1]], part)
    return canvas


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float = 30.0) -> int:
    """Write frames to an mp4 file; returns how many."""
    writer = None
    n = 0
    for frame in frames:
        if writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
        n += 1
    if writer is not None:
        writer.release()
    return n
