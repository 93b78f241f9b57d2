"""Plain NumPy/Python versions of the kernels, written for clarity: the tests compare the
numba kernels against these."""

from __future__ import annotations

import numpy as np


def heatmap_peaks_ref(heatmaps: np.ndarray) -> np.ndarray:
    h, w, c = heatmaps.shape
    out = np.zeros((c, 3), dtype=np.float64)
    for k in range(c):
        m = heatmaps[:, :, k].astype(np.float64)
        i, j = np.unravel_index(int(np.argmax(m)), m.shape)
        dx = dy = 0.0
        if 0 < j < w - 1:
            left, mid, right = m[i, j - 1], m[i, j], m[i, j + 1]
            if left - 2 * mid + right < 0:
                dx = float(np.clip(0.5 * (left - right) / (left - 2 * mid + right), -0.5, 0.5))
        if 0 < i < h - 1:
            up, mid, down = m[i - 1, j], m[i, j], m[i + 1, j]
            if up - 2 * mid + down < 0:
                dy = float(np.clip(0.5 * (up - down) / (up - 2 * mid + down), -0.5, 0.5))
        out[k] = (j + 0.5 + dx, i + 0.5 + dy, m[i, j])
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def blazepose_landmarks_ref(
    raw: np.ndarray, heatmap: np.ndarray | None, input_size: float, kernel: int, min_confidence: float
) -> np.ndarray:
    lm = raw.reshape(-1, 5).astype(np.float64).copy()
    lm[:, 3] = sigmoid(lm[:, 3])
    lm[:, 4] = sigmoid(lm[:, 4])
    if heatmap is None:
        return lm
    hm_h, hm_w, hm_c = heatmap.shape
    half = (kernel - 1) // 2
    for i in range(min(len(lm), hm_c)):
        col = int(lm[i, 0] / input_size * hm_w)
        row = int(lm[i, 1] / input_size * hm_h)
        if not (0 <= col < hm_w and 0 <= row < hm_h):
            continue
        r0, r1 = max(0, row - half), min(hm_h, row + half + 1)
        c0, c1 = max(0, col - half), min(hm_w, col + half + 1)
        conf = sigmoid(heatmap[r0:r1, c0:c1, i].astype(np.float64))
        rows, cols = np.mgrid[r0:r1, c0:c1]
        if conf.max() >= min_confidence and conf.sum() > 0:
            lm[i, 0] = (cols * conf).sum() / conf.sum() / hm_w * input_size
            lm[i, 1] = (rows * conf).sum() / conf.sum() / hm_h * input_size
    return lm


def ssd_decode_ref(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, scale: float, min_score: float
) -> np.ndarray:
    scores = sigmoid(np.clip(raw_scores[:, 0].astype(np.float64), -100, 100))
    keep = scores >= min_score
    boxes = raw_boxes[keep].astype(np.float64) / scale
    anc = anchors[keep]
    cx, cy = boxes[:, 0] + anc[:, 0], boxes[:, 1] + anc[:, 1]
    w, h = boxes[:, 2], boxes[:, 3]
    kps = boxes[:, 4:].reshape(len(boxes), -1, 2) + anc[:, None, :]
    cols = [scores[keep], cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    return (
        np.column_stack([*cols, kps.reshape(len(boxes), -1)]) if len(boxes) else np.zeros((0, raw_boxes.shape[1] + 1))
    )
