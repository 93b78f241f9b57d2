"""BlazePose's person detector: SSD anchors, decoding, weighted non-max suppression, and the
ROI from the hip centre and the full-body scale/rotation keypoint."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import ssd_decode
from .roi import Roi


@dataclass(frozen=True)
class AnchorSpec:
    """SSD anchor layout (MediaPipe's pose detector: 224x224, strides 8,16,32,32,32, fixed size)."""

    size: int = 224
    strides: tuple[int, ...] = (8, 16, 32, 32, 32)
    anchors_per_layer: int = 2  # aspect ratio 1.0 plus the interpolated scale


def ssd_anchors(spec: AnchorSpec = AnchorSpec()) -> np.ndarray:
    """(A, 2) anchor centres, normalized. Consecutive layers of equal stride share one grid."""
    out = []
    i = 0
    while i < len(spec.strides):
        stride = spec.strides[i]
        j = i
        while j < len(spec.strides) and spec.strides[j] == stride:
            j += 1
        per_cell = spec.anchors_per_layer * (j - i)
        grid = int(np.ceil(spec.size / stride))
        ys, xs = np.meshgrid((np.arange(grid) + 0.5) / grid, (np.arange(grid) + 0.5) / grid, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(cells, per_cell, axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


def weighted_nms(dets: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Weighted non-max suppression: each kept detection is the score-weighted mean of the
    detections that overlap it (rows: score, box, keypoints)."""
    order = np.argsort(-dets[:, 0])
    dets = dets[order]
    kept = []
    remaining = np.ones(len(dets), dtype=bool)
    for i in range(len(dets)):
        if not remaining[i]:
            continue
        iou = _iou(dets[i, 1:5], dets[:, 1:5])
        group = remaining & (iou > iou_threshold)
        group[i] = True
        weights = dets[group, 0:1]
        merged = dets[i].copy()
        merged[1:] = (dets[group, 1:] * weights).sum(axis=0) / weights.sum()
        kept.append(merged)
        remaining &= ~group
    return np.array(kept, dtype=np.float32).reshape(-1, dets.shape[1])


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


class PersonDetector:
    """Runs the detector model on a letterboxed frame and returns the best person's ROI."""

    def __init__(self, backend, min_score: float = 0.5, iou: float = 0.3, roi_scale: float = 1.25) -> None:
        self.backend = backend
        self.anchors = ssd_anchors()
        self.min_score = min_score
        self.iou = iou
        self.roi_scale = roi_scale
        names = backend.output_names
        self.boxes_name = next(n for n in names if "_1" not in n)
        self.scores_name = next(n for n in names if n != self.boxes_name)

    def detections(self, frame_rgb_tensor: np.ndarray, crop) -> np.ndarray:
        """Every person the detector finds in one input (after non-max suppression): rows of
        score, box (x0, y0, x1, y1) and keypoints, in frame pixels."""
        out = self.backend.infer(frame_rgb_tensor)
        boxes = out[self.boxes_name].reshape(len(self.anchors), -1)
        scores = out[self.scores_name].reshape(len(self.anchors), 1)
        dets = ssd_decode(boxes, scores, self.anchors, 224.0, self.min_score)
        if len(dets) == 0:
            return dets
        dets = weighted_nms(dets, self.iou)
        size = np.array(crop.tensor_size, dtype=np.float32)
        points = dets[:, 1:].reshape(len(dets), -1, 2) * size
        frame = crop.to_frame(points.reshape(-1, 2).astype(np.float64)).reshape(points.shape)
        dets[:, 1:] = frame.reshape(len(dets), -1)
        return dets

    def rois(self, dets: np.ndarray) -> list[Roi]:
        """The crop of each detection (rows as ``detections`` gives them), best first."""
        out = []
        for det in dets[np.argsort(-dets[:, 0])]:
            kps = det[5:].reshape(-1, 2)
            out.append(Roi.from_alignment(kps[0], kps[1], self.roi_scale, "detector"))
        return out

    def detect(self, frame_rgb_tensor: np.ndarray, crop) -> Roi | None:
        out = self.backend.infer(frame_rgb_tensor)
        boxes = out[self.boxes_name].reshape(len(self.anchors), -1)
        scores = out[self.scores_name].reshape(len(self.anchors), 1)
        dets = ssd_decode(boxes, scores, self.anchors, 224.0, self.min_score)
        if len(dets) == 0:
            return None
        best = weighted_nms(dets, self.iou)[0]
        # Keypoints 0 (hip centre) and 1 (full-body scale and rotation), tensor pixels -> frame.
        kps = best[5:].reshape(-1, 2) * np.array(crop.tensor_size, dtype=np.float32)
        center, scale_point = crop.to_frame(kps[:2])
        return Roi.from_alignment(center, scale_point, self.roi_scale, "detector")
