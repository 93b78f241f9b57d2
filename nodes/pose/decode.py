"""Decode node: model outputs -> keypoints in frame pixels, by the zoo's decoder and schema."""

from __future__ import annotations

from typing import Any

import numpy as np

from dataflow import KEYPOINTS, ROI, TENSORS, In, Node, Out, Param, PortType, UserError

from . import zoo
from .kernels import blazepose_landmarks, heatmap_peaks
from .keypoints import Keypoints
from .roi import Crop
from .schemas import SCHEMAS

_EMPTY_HEATMAP = np.zeros((0, 0, 0), dtype=np.float32)


class DecodeNode(Node):
    """Turn a pose model's outputs into named keypoints in frame coordinates."""

    inputs = [In("tensors", TENSORS), In("crop", ROI, "the crop the tensors came from")]
    outputs = [Out("keypoints", KEYPOINTS)]
    params = [
        Param("model", str, "blazepose-full", "zoo name (or file) whose decoder and schema to use"),
        Param("refine", bool, True, "BlazePose: refine landmarks with the heatmap output"),
        Param("kernel", int, 7, "BlazePose refinement window", min=1),
        Param("min_refine_confidence", float, 0.5, "BlazePose: refine only where the heatmap is this sure"),
    ]

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        spec = zoo.spec_of(self.model)
        if spec.schema not in SCHEMAS:
            raise UserError(f"model '{self.model}' gives no keypoints (schema {spec.schema})")
        self.spec = spec
        self.joints = SCHEMAS[spec.schema]

    def setup(self) -> None:
        # Compile (or load from numba's cache) before the first frame.
        heatmap_peaks(np.zeros((4, 4, len(self.joints)), np.float32))
        blazepose_landmarks(np.zeros(10, np.float32), np.zeros((4, 4, 2), np.float32), 4.0, 3, 0.5)

    def output_type(self, port: str, inputs: dict[str, PortType]) -> PortType:
        return KEYPOINTS.with_schema(self.spec.name, self.joints)

    def process(self, tensors: dict[str, np.ndarray], crop: Crop) -> dict[str, Any]:
        if self.spec.decoder == "blazepose":
            return {"keypoints": self._blazepose(tensors, crop)}
        return {"keypoints": self._heatmap(tensors, crop)}

    def _blazepose(self, tensors: dict[str, np.ndarray], crop: Crop) -> Keypoints:
        outs = self.spec.outputs
        raw = tensors[outs["landmarks"]].reshape(-1).astype(np.float32, copy=False)
        heatmap = _EMPTY_HEATMAP
        if self.refine and outs.get("heatmap") in tensors:
            heatmap = tensors[outs["heatmap"]][0]
        lm = blazepose_landmarks(raw, heatmap, float(self.spec.width), self.kernel, self.min_refine_confidence)
        flag = float(np.asarray(tensors[outs["flag"]]).reshape(-1)[0])
        xy = crop.to_frame(lm[:, :2].astype(np.float64))
        n = len(self.joints)
        return Keypoints(
            schema=self.spec.name,
            names=self.joints,
            xy=xy[:n].astype(np.float32),
            confidence=lm[:n, 3].copy(),
            presence=flag,
            image_size=crop.frame_size,
            z=lm[:n, 2] * (crop.roi.width / self.spec.width),
            aux=xy[n : n + 2].astype(np.float32),
        )

    def _heatmap(self, tensors: dict[str, np.ndarray], crop: Crop) -> Keypoints:
        key = self.spec.outputs.get("heatmaps", -1)
        maps = list(tensors.values())[key] if isinstance(key, int) else tensors[key]
        maps = maps[0]
        peaks = heatmap_peaks(np.ascontiguousarray(maps, dtype=np.float32))
        # Heatmap pixels -> tensor pixels (heatmaps may be smaller than the input).
        scale = np.array([self.spec.width / maps.shape[1], self.spec.height / maps.shape[0]])
        xy = crop.to_frame(peaks[:, :2].astype(np.float64) * scale)
        conf = np.clip(peaks[:, 2], 0.0, 1.0)
        return Keypoints(
            schema=self.spec.name,
            names=self.joints,
            xy=xy.astype(np.float32),
            confidence=conf.astype(np.float32),
            presence=float(np.median(conf)),
            image_size=crop.frame_size,
        )
