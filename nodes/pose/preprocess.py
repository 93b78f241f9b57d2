"""Turning a cropped BGR image into a model's input tensor."""

from __future__ import annotations

import cv2
import numpy as np

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def to_tensor(image_bgr: np.ndarray, norm: str) -> np.ndarray:
    """(1, H, W, 3) float32 RGB, normalized as the model was trained: ``unit`` [0, 1],
    ``signed`` [-1, 1], ``imagenet`` (x/255 - mean) / std."""
    rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
    if norm == "unit":
        rgb *= 1.0 / 255.0
    elif norm == "signed":
        rgb *= 2.0 / 255.0
        rgb -= 1.0
    elif norm == "imagenet":
        rgb = (rgb / 255.0 - _MEAN) / _STD
    else:
        raise ValueError(f"unknown normalization {norm}")
    return rgb[None]
