"""Numba kernels for decoding pose model outputs. Plain references live in ``reference.py``
and the tests hold the two together."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit


def heatmap_peaks(heatmaps: np.ndarray) -> np.ndarray:
    """Per channel of an (H, W, C) heatmap: argmax with quadratic sub-pixel refinement.

    Returns (C, 3): x, y in heatmap pixels (pixel centres at +0.5) and the peak value.
    One pass over the memory in HWC order searches every channel at once; the scan is compiled
    per channel count, because a constant inner trip count is what lets it vectorize.
    """
    h, w, c = heatmaps.shape
    best, best_p = _scan_for(c)(heatmaps.reshape(h * w, c))
    return _refine_peaks(heatmaps, best, best_p)


@lru_cache(maxsize=16)
def _scan_for(channels: int):
    # Not cache=True: numba's on-disk cache keys a closure by its name, not by the constant it
    # closes over, so a scan compiled for another channel count came back for this one
    # ("NRT_adapt_ndarray_to_python: descr is NULL" under the pose tests).
    @njit(nogil=True)
    def scan(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        best = flat[0].copy()
        best_p = np.zeros(channels, dtype=np.int32)
        for p in range(1, flat.shape[0]):
            for k in range(channels):
                # Branchless select keeps the first maximum, as argmax does.
                v = flat[p, k]
                better = v > best[k]
                best[k] = v if better else best[k]
                best_p[k] = np.int32(p) if better else best_p[k]
        return best, best_p

    return scan


@njit(cache=True, nogil=True)
def _refine_peaks(heatmaps: np.ndarray, best: np.ndarray, best_p: np.ndarray) -> np.ndarray:
    h, w, c = heatmaps.shape
    out = np.empty((c, 3), dtype=np.float32)
    for k in range(c):
        i, j = best_p[k] // w, best_p[k] % w
        dx = 0.0
        dy = 0.0
        if 0 < j < w - 1:
            left, mid, right = heatmaps[i, j - 1, k], heatmaps[i, j, k], heatmaps[i, j + 1, k]
            denom = left - 2.0 * mid + right
            if denom < 0.0:
                dx = min(0.5, max(-0.5, 0.5 * (left - right) / denom))
        if 0 < i < h - 1:
            up, mid, down = heatmaps[i - 1, j, k], heatmaps[i, j, k], heatmaps[i + 1, j, k]
            denom = up - 2.0 * mid + down
            if denom < 0.0:
                dy = min(0.5, max(-0.5, 0.5 * (up - down) / denom))
        out[k, 0] = j + 0.5 + dx
        out[k, 1] = i + 0.5 + dy
        out[k, 2] = best[k]
    return out


@njit(cache=True, nogil=True)
def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, nogil=True)
def blazepose_landmarks(
    raw: np.ndarray, heatmap: np.ndarray, input_size: float, kernel: int, min_confidence: float
) -> np.ndarray:
    """BlazePose landmarks from the flat regression output (5 values per landmark: x, y, z,
    visibility logit, presence logit), optionally refined with the (H, W, L) heatmap logits.

    Returns (L, 5): x, y in input-tensor pixels, z, visibility, presence (both probabilities).
    Refinement follows MediaPipe: the sigmoid-weighted mean position inside a kernel x kernel
    window around the landmark, used when the window's peak reaches ``min_confidence``.
    """
    n = raw.size // 5
    out = np.empty((n, 5), dtype=np.float32)
    for i in range(n):
        out[i, 0] = raw[5 * i]
        out[i, 1] = raw[5 * i + 1]
        out[i, 2] = raw[5 * i + 2]
        out[i, 3] = _sigmoid(raw[5 * i + 3])
        out[i, 4] = _sigmoid(raw[5 * i + 4])
    if heatmap.size == 0:
        return out
    hm_h, hm_w, hm_c = heatmap.shape
    offset = (kernel - 1) // 2
    for i in range(min(n, hm_c)):
        col = int(out[i, 0] / input_size * hm_w)
        row = int(out[i, 1] / input_size * hm_h)
        if col < 0 or col >= hm_w or row < 0 or row >= hm_h:
            continue
        total = 0.0
        wcol = 0.0
        wrow = 0.0
        peak = 0.0
        for r in range(max(0, row - offset), min(hm_h, row + offset + 1)):
            for cc in range(max(0, col - offset), min(hm_w, col + offset + 1)):
                conf = _sigmoid(heatmap[r, cc, i])
                total += conf
                wcol += cc * conf
                wrow += r * conf
                if conf > peak:
                    peak = conf
        if peak >= min_confidence and total > 0.0:
            out[i, 0] = wcol / hm_w / total * input_size
            out[i, 1] = wrow / hm_h / total * input_size
    return out


@njit(cache=True, nogil=True)
def ssd_decode(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, scale: float, min_score: float
) -> np.ndarray:
    """Decode SSD detector outputs against (A, 2) anchor centres (fixed-size anchors).

    ``raw_boxes`` is (A, 4 + 2K): centre x, y, width, height, then K keypoints, in input pixels
    relative to the anchor. Returns (D, 5 + 2K) for detections above ``min_score``: score,
    xmin, ymin, xmax, ymax, keypoints, all normalized to [0, 1] of the detector input.
    """
    a, vals = raw_boxes.shape
    k = (vals - 4) // 2
    keep = 0
    for i in range(a):
        s = min(100.0, max(-100.0, raw_scores[i, 0]))
        if _sigmoid(s) >= min_score:
            keep += 1
    out = np.empty((keep, 5 + 2 * k), dtype=np.float32)
    d = 0
    for i in range(a):
        s = _sigmoid(min(100.0, max(-100.0, raw_scores[i, 0])))
        if s < min_score:
            continue
        cx = raw_boxes[i, 0] / scale + anchors[i, 0]
        cy = raw_boxes[i, 1] / scale + anchors[i, 1]
        w = raw_boxes[i, 2] / scale
        h = raw_boxes[i, 3] / scale
        out[d, 0] = s
        out[d, 1] = cx - w / 2
        out[d, 2] = cy - h / 2
        out[d, 3] = cx + w / 2
        out[d, 4] = cy + h / 2
        for j in range(k):
            out[d, 5 + 2 * j] = raw_boxes[i, 4 + 2 * j] / scale + anchors[i, 0]
            out[d, 6 + 2 * j] = raw_boxes[i, 5 + 2 * j] / scale + anchors[i, 1]
        d += 1
    return out
