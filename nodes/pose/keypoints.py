"""The keypoints of one person in one frame, with their joint names."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def index(self, name: str) -> int:
        if not self._index:
            self._index.update({n: i for i, n in enumerate(self.names)})
        return self._index[name]

    def joint(self, name: str) -> np.ndarray:
        """(x, y) of a joint by name."""
        return self.xy[self.index(name)]

    def to_dict(self) -> dict[str, Any]:
        joints = {
            n: [round(float(x), 2), round(float(y), 2), round(float(c), 4)]
            for n, (x, y), c in zip(self.names, self.xy, self.confidence, strict=True)
        }
        return {"schema": self.schema, "presence": round(float(self.presence), 4), "joints": joints}
