"""The keypoints of one person in one frame, with their joint names."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np


@dataclass
class Keypoints:
    """Joint positions in frame pixels.

    ``xy`` is (N, 2); ``confidence`` (N,) is per joint (visibility for BlazePose, the heatmap peak
    for heatmap models); ``presence`` is the score that a person is there at all. ``aux`` holds a
    model's auxiliary points (BlazePose: the hip centre and the scale/rotation point used to place
    the next frame's crop). ``track`` is the person's id when the pipeline follows several.
    """

    schema: str
    names: tuple[str, ...]
    xy: np.ndarray
    confidence: np.ndarray
    presence: float
    image_size: tuple[int, int]
    z: np.ndarray | None = None
    aux: np.ndarray | None = None
    track: int | None = None  # the person's id where several are tracked (None: one person)

    def index(self, name: str) -> int:
        """Position of a joint in this schema (KeyError if the schema lacks it)."""
        return name_index(self.names)[name]

    def joint(self, name: str) -> np.ndarray:
        """(x, y) of a joint by name."""
        return self.xy[self.index(name)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: {schema, presence, joints: {name: [x, y, confidence]}}."""
        xy = np.round(self.xy.astype(np.float64), 2)
        rows = np.column_stack([xy, np.round(self.confidence.astype(np.float64), 4)]).tolist()
        joints = dict(zip(self.names, rows, strict=True))
        return {"schema": self.schema, "presence": round(float(self.presence), 4), "joints": joints}


@lru_cache(maxsize=64)
def name_index(names: tuple[str, ...]) -> dict[str, int]:
    """Joint name -> position, computed once per schema rather than once per frame."""
    return {n: i for i, n in enumerate(names)}
