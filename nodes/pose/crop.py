"""Crop node: warp the region of interest into the model's input tensor, keeping aspect and
rotation, and pass the warp along so keypoints can be mapped back."""

from __future__ import annotations

from typing import Any

import numpy as np

from dataflow import FRAME, ROI, TENSOR, In, Node, Out, Param

from . import zoo
from .preprocess import to_tensor
from .roi import Roi, warp


class CropNode(Node):
    """Affine-warp a region of interest of the frame to the model's input size."""

    inputs = [In("frame", FRAME), In("roi", ROI, "region to crop; the whole frame when absent", optional=True)]
    outputs = [Out("tensor", TENSOR, "model input"), Out("crop", ROI, "the warp, to map keypoints back")]
    params = [Param("model", str, "blazepose-full", "zoo name (or file) whose input size and normalization to use")]

    def setup(self) -> None:
        self.spec = zoo.spec_of(self.model)

    def process(self, frame: np.ndarray, roi: Roi | None) -> dict[str, Any]:
        h, w = frame.shape[:2]
        image, crop = warp(frame, roi or Roi.full_frame(w, h), self.spec.width, self.spec.height)
        return {"tensor": to_tensor(image, self.spec.norm), "crop": crop}
