"""Inputs for the gym tests and bench: several people in one frame, made from one-person
material (the synthetic athlete, the shared clips) placed side by side."""

from __future__ import annotations

import itertools
import json
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


def side_by_side(*sources: Iterable[np.ndarray], height: int = 480) -> Iterator[np.ndarray]:
    """Frames of every source next to each other, each scaled to ``height``; a source that ends
    early shows black while the others go on."""
    its = [iter(s) for s in sources]
    last: list[np.ndarray | None] = [None] * len(its)
    done = [False] * len(its)
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
        yield np.hstack(tiles)


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


def places(records: Path) -> dict[int, float]:
    """Each person's mean hip x over their records (JSON lines with ``person`` and keypoints)."""
    xs: dict[int, list[float]] = {}
    for line in records.read_text().splitlines():
        row = json.loads(line)
        kp = row.get("keypoints")
        if "person" in row and kp:
            hips = [kp["joints"][j][0] for j in ("left_hip", "right_hip") if j in kp["joints"]]
            if hips:
                xs.setdefault(row["person"], []).append(sum(hips) / len(hips))
    return {p: sum(v) / len(v) for p, v in xs.items()}


def counted_by_place(summary: dict, records: Path) -> list[tuple[str | None, int]]:
    """(exercise, reps) of every person in the summary, left to right."""
    where = places(records)
    people = sorted(summary["people"], key=lambda p: where.get(p["id"], 0.0))
    return [(p["exercise"], p["reps"]) for p in people]


def tiles(*sources: Iterable[np.ndarray], size: tuple[int, int] = (640, 360)) -> Iterator[list[np.ndarray]]:
    """Each source's frames resized to ``size`` (width, height), together, until the longest
    ends (the others black after their end)."""
    its = [iter(s) for s in sources]
    done = [False] * len(its)
    black = np.zeros((size[1], size[0], 3), np.uint8)
    while True:
        out = []
        for i, it in enumerate(its):
            frame = None if done[i] else next(it, None)
            done[i] = frame is None
            out.append(black if frame is None else cv2.resize(frame, size))
        if all(done):
            return
        yield out


def grid(*sources: Iterable[np.ndarray], columns: int = 2, size: tuple[int, int] = (640, 360)) -> Iterator[np.ndarray]:
    """Sources tiled ``columns`` to a row, each tile ``size``."""
    for row in tiles(*sources, size=size):
        rows = [np.hstack(row[i : i + columns]) for i in range(0, len(row), columns)]
        yield np.vstack(rows)


def crossing(
    still: Iterable[np.ndarray],
    moving: Iterable[np.ndarray],
    start: float,
    end: float,
    fps: float = 30.0,
    height: int = 360,
) -> Iterator[np.ndarray]:
    """Three tiles wide: ``still`` in the middle tile; ``moving`` slides in front of it from the
    left tile to the right one between ``start`` and ``end`` seconds, hiding it on the way. Each
    source holds its last frame once it ends."""
    its, last = [iter(still), iter(moving)], [None, None]
    for i in itertools.count():
        frames = [next(it, None) for it in its]
        if all(f is None for f in frames):
            return
        for k, f in enumerate(frames):
            if f is not None:
                last[k] = cv2.resize(f, (round(f.shape[1] * height / f.shape[0]), height))
        w = last[0].shape[1]
        canvas = np.full((height, 3 * w, 3), 90, np.uint8)
        canvas[:, w : 2 * w] = last[0]
        x = round(min(1.0, max(0.0, (i / fps - start) / (end - start))) * 2 * w)
        canvas[:, x : x + w] = last[1]
        yield canvas
