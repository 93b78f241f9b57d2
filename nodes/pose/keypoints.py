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
    the next frame's crop).
    """

    schema: str
    names: tuple[str, ...]
    xy: np.ndarray
    confidence: np.ndarray
    presence: float
    image_size: tuple[int, int]
    z: np.ndarray | None = None
    aux: np.ndarray | None = None

    def index(self, name: str) -> int:
        """Position of a joint in this schema (KeyError if the schema lacks it)."""
        return name_index(self.names)[name]

    def joint(self, name: str) -> np.ndarray:
        """(x, y) of a joint by name."""
        return self.xy[self.index(name)]

    def to_dict(self) -> dict[str, Any]:
        joints = {
            n: [round(float(x), 2), round(float(y), 2), round(float(c), 4)]
            for n, (x, y), c in zip(self.names, self.xy, self.confidence, strict=True)
        }
        return {"schema": self.schema, "presence": round(float(self.presence), 4), "joints": joints}


@lru_cache(maxsize=64)
def name_index(names: tuple[str, ...]) -> dict[str, int]:
    """Joint name -> position, computed once per schema rather than once per frame."""
    return {n: i for i, n in enumerate(names)}
