"""Numba decoders against their plain references, and the ROI geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nodes.pose.detector import ssd_anchors, weighted_nms
from nodes.pose.kernels import blazepose_landmarks, heatmap_peaks, ssd_decode
from nodes.pose.reference import blazepose_landmarks_ref, heatmap_peaks_ref, ssd_decode_ref
from nodes.pose.roi import Roi, warp

RNG = np.random.default_rng(7)


def gaussian_maps(h: int, w: int, centers: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    maps = [np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2)) for cx, cy in centers]
    return np.stack(maps, axis=-1).astype(np.float32)


def test_heatmap_peaks_match_reference_on_noise() -> None:
    maps = RNG.random((56, 48, 16), dtype=np.float32)
    np.testing.assert_allclose(heatmap_peaks(maps), heatmap_peaks_ref(maps), atol=1e-5)


def test_heatmap_peaks_find_subpixel_centres() -> None:
    centers = np.column_stack([RNG.uniform(5, 219, 16), RNG.uniform(5, 219, 16)])
    maps = gaussian_maps(224, 224, centers)
    got = heatmap_peaks(maps)
    np.testing.assert_allclose(got, heatmap_peaks_ref(maps), atol=1e-5)
    # quadratic refinement beats the integer argmax (error up to 0.5 px) by a wide margin
    assert np.abs(got[:, :2] - centers).max() < 0.1
    assert np.all(got[:, 2] > 0.85)


def test_heatmap_peak_on_the_border_is_not_refined() -> None:
    maps = np.zeros((8, 8, 1), dtype=np.float32)
    maps[0, 7, 0] = 1.0
    np.testing.assert_allclose(heatmap_peaks(maps)[0], [7.5, 0.5, 1.0])


@pytest.mark.parametrize("refine", [True, False])
def test_blazepose_landmarks_match_reference(refine: bool) -> None:
    raw = np.column_stack(
        [RNG.uniform(-10, 266, 39), RNG.uniform(-10, 266, 39), RNG.normal(0, 20, 39), RNG.normal(0, 3, (39, 2))]
    ).astype(np.float32)
    heat = RNG.normal(-2, 3, (64, 64, 39)).astype(np.float32) if refine else np.zeros((0, 0, 0), np.float32)
    got = blazepose_landmarks(raw.reshape(-1), heat, 256.0, 7, 0.5)
    want = blazepose_landmarks_ref(raw.reshape(-1), heat if refine else None, 256.0, 7, 0.5)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    assert not np.allclose(got[:, :2], raw[:, :2]) or not refine


def test_ssd_decode_matches_reference_and_anchor_layout() -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (2254, 2)
    boxes = RNG.normal(0, 20, (2254, 12)).astype(np.float32)
    scores = RNG.normal(-3, 3, (2254, 1)).astype(np.float32)
    got = ssd_decode(boxes, scores, anchors, 224.0, 0.5)
    want = ssd_decode_ref(boxes, scores, anchors, 224.0, 0.5)
    assert len(got) > 0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_weighted_nms_merges_overlaps_by_score() -> None:
    dets = np.array(
        [
            [0.9, 0.1, 0.1, 0.5, 0.5, 0.3, 0.3],
            [0.6, 0.12, 0.1, 0.52, 0.5, 0.4, 0.3],
            [0.8, 0.7, 0.7, 0.9, 0.9, 0.8, 0.8],
        ],
        dtype=np.float32,
    )
    out = weighted_nms(dets, 0.3)
    assert len(out) == 2
    assert out[0, 0] == pytest.approx(0.9)
    assert out[0, 5] == pytest.approx((0.9 * 0.3 + 0.6 * 0.4) / 1.5)


def test_alignment_roi_upright_and_rotated() -> None:
    up = Roi.from_alignment(np.array([100.0, 200.0]), np.array([100.0, 150.0]), 1.0, "t")
    assert up.rotation == pytest.approx(0.0) and up.width == pytest.approx(100.0)
    right = Roi.from_alignment(np.array([100.0, 200.0]), np.array([150.0, 200.0]), 1.0, "t")
    assert right.rotation == pytest.approx(math.pi / 2)


def test_warp_and_inverse_round_trip() -> None:
    frame = RNG.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    roi = Roi(210.0, 140.0, 120.0, 90.0, 0.4)
    image, crop = warp(frame, roi, 256, 256)
    assert image.shape == (256, 256, 3)
    pts = RNG.uniform(0, 256, (20, 2))
    back = crop.to_frame(pts)
    again = back @ crop.matrix[:, :2].T + crop.matrix[:, 2]
    np.testing.assert_allclose(again, pts, atol=1e-6)
    # the ROI centre lands in the tensor centre; a point along the rotated x axis lands right of it
    np.testing.assert_allclose(crop.to_frame(np.array([[128.0, 128.0]]))[0], [210, 140], atol=1e-6)
    along = crop.to_frame(np.array([[256.0, 128.0]]))[0] - [210, 140]
    assert math.atan2(along[1], along[0]) == pytest.approx(0.4)
