"""Regions of interest: a rotated rectangle in frame pixels and the affine warps to and from a
model's input tensor."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Roi:
    """A rotated rectangle: centre, size (pixels) and rotation (radians, clockwise on screen)."""

    cx: float
    cy: float
    width: float
    height: float
    rotation: float = 0.0
    source: str = "full"  # full | detector | keypoints

    @classmethod
    def full_frame(cls, width: int, height: int) -> Roi:
        return cls(width / 2, height / 2, float(width), float(height), 0.0, "full")

    @classmethod
    def from_alignment(
        cls, center: np.ndarray, scale_point: np.ndarray, scale: float, source: str, target_angle: float = math.pi / 2
    ) -> Roi:
        """Square box around ``center`` of twice the distance to ``scale_point`` (times ``scale``),
        rotated so that the centre→scale-point vector points at ``target_angle``."""
        dx, dy = float(scale_point[0] - center[0]), float(scale_point[1] - center[1])
        size = 2.0 * math.hypot(dx, dy) * scale
        rotation = _normalize_radians(target_angle - math.atan2(-dy, dx))
        return cls(float(center[0]), float(center[1]), size, size, rotation, source)

    @classmethod
    def around(cls, points: np.ndarray, scale: float, source: str) -> Roi:
        """Upright square box around points, its long side times ``scale``."""
        lo, hi = points.min(axis=0), points.max(axis=0)
        side = float(max(hi[0] - lo[0], hi[1] - lo[1])) * scale
        c = (lo + hi) / 2
        return cls(float(c[0]), float(c[1]), side, side, 0.0, source)

    def to_tensor_matrix(self, out_w: int, out_h: int) -> np.ndarray:
        """2x3 affine matrix from frame pixels to tensor pixels, keeping aspect (letterbox)."""
        w, h = self.width, self.height
        # Letterbox: grow the short side of the ROI to the tensor's aspect ratio.
        if w / h > out_w / out_h:
            h = w * out_h / out_w
        else:
            w = h * out_w / out_h
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        ux, uy = np.array([cos, sin]), np.array([-sin, cos])
        c = np.array([self.cx, self.cy])
        tl = c - ux * w / 2 - uy * h / 2
        tr = c + ux * w / 2 - uy * h / 2
        bl = c - ux * w / 2 + uy * h / 2
        src = np.float32([tl, tr, bl])
        dst = np.float32([[0, 0], [out_w, 0], [0, out_h]])
        return cv2.getAffineTransform(src, dst)

    def to_dict(self) -> dict[str, float | str]:
        return {
            "cx": self.cx,
            "cy": self.cy,
            "width": self.width,
            "height": self.height,
            "rotation": self.rotation,
            "source": self.source,
        }


@dataclass
class Crop:
    """What travels with a model's input tensor: the ROI, the warp, its inverse, the frame size."""

    roi: Roi
    matrix: np.ndarray
    inverse: np.ndarray
    frame_size: tuple[int, int]
    tensor_size: tuple[int, int]

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) tensor-pixel points back to frame pixels."""
        return points @ self.inverse[:, :2].T + self.inverse[:, 2]

    def to_dict(self) -> dict:
        return {"roi": self.roi.to_dict(), "frame_size": list(self.frame_size)}


def _normalize_radians(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def warp(frame: np.ndarray, roi: Roi, out_w: int, out_h: int) -> tuple[np.ndarray, Crop]:
    """Cut ``roi`` out of ``frame`` into an out_w x out_h image (zero border)."""
    matrix = roi.to_tensor_matrix(out_w, out_h)
    image = cv2.warpAffine(frame, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    inverse = cv2.invertAffineTransform(matrix)
    h, w = frame.shape[:2]
    return image, Crop(roi, matrix, inverse, (w, h), (out_w, out_h))
