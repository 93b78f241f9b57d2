"""Keypoint filters: one-euro (adaptive, uses real timestamps) and Butterworth low-pass
(fixed cutoff in Hz). Low-confidence joints hold their last filtered position and do not
drag the filter; after ``reset_after`` seconds unseen they restart from where they reappear."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from dataflow import KEYPOINTS, In, Node, Out, Param
from nodes.pose.body import body_scale
from nodes.pose.keypoints import Keypoints

from .kernels import one_euro_step, sos_step


class OneEuroFilter(Node):
    """Smooth keypoints with the one-euro filter; slow motion is smoothed hard, fast motion lags little."""

    inputs = [In("keypoints", KEYPOINTS)]
    outputs = [Out("keypoints", KEYPOINTS, like="keypoints")]
    params = [
        Param("min_cutoff", float, 1.0, "cutoff (Hz) at rest: lower = smoother", min=1e-6),
        Param("beta", float, 1.0, "how fast the cutoff rises with speed", min=0),
        Param("d_cutoff", float, 1.0, "cutoff (Hz) of the speed estimate", min=1e-6),
        Param("scale_invariant", bool, True, "filter in body sizes, not pixels"),
        Param("min_confidence", float, 0.5, "joints below this hold their last position", min=0, max=1),
        Param("reset_after", float, 1.0, "seconds unseen after which a joint restarts", min=0),
    ]
    stateful = True

    def setup(self) -> None:
        self.state: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # Load the compiled kernel before the first frame is timed.
        one_euro_step(np.zeros((1, 2), np.float32), np.ones(1, np.float32), 0.5, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0,
                      np.zeros((1, 2)), np.zeros((1, 2)), np.full(1, np.nan))  # fmt: skip

    def process(self, keypoints: Keypoints) -> dict[str, Any]:
        kp = keypoints
        points = kp.xy if kp.aux is None else np.vstack([kp.xy, kp.aux])
        n = len(points)
        if self.state is None or self.state[0].shape[0] != n:
            self.state = (np.zeros((n, 2)), np.zeros((n, 2)), np.full(n, np.nan))
        # A frame without a person holds every joint.
        min_conf = self.min_confidence if kp.presence >= 0.5 else 2.0
        scale = body_scale(kp) if self.scale_invariant else 1.0
        out = one_euro_step(
            points, kp.confidence, min_conf, float(self.timestamp), scale,
            self.min_cutoff, self.beta, self.d_cutoff, self.reset_after, *self.state,
        )  # fmt: skip
        if kp.aux is None:
            return {"keypoints": replace(kp, xy=out)}
        m = len(kp.names)
        return {"keypoints": replace(kp, xy=out[:m], aux=out[m:])}


class ButterworthFilter(Node):
    """Causal Butterworth low-pass per coordinate (design as scipy.signal.butter, output='sos')."""

    inputs = [In("keypoints", KEYPOINTS)]
    outputs = [Out("keypoints", KEYPOINTS, like="keypoints")]
    params = [
        Param("order", int, 2, "filter order", min=1, max=8),
        Param("cutoff", float, 3.0, "cutoff frequency (Hz)", min=1e-3),
        Param("fps", float, 30.0, "sampling rate the filter is designed for (Hz)", min=1),
        Param("min_confidence", float, 0.5, "joints below this hold their last position", min=0, max=1),
    ]
    stateful = True

    def setup(self) -> None:
        from scipy.signal import butter, sosfilt_zi

        if self.cutoff >= self.fps / 2:
            raise ValueError(f"cutoff {self.cutoff} Hz must be below half the rate ({self.fps / 2} Hz)")
        self.sos = butter(self.order, self.cutoff, fs=self.fps, output="sos")
        self.zi_unit = sosfilt_zi(self.sos)
        self.zi: np.ndarray | None = None
        self.last: np.ndarray | None = None
        sos_step(np.zeros(1), np.ones(1, np.bool_), self.sos, np.zeros((1, len(self.sos), 2)), np.zeros(1))

    def process(self, keypoints: Keypoints) -> dict[str, Any]:
        kp = keypoints
        x = kp.xy.astype(np.float64).reshape(-1)
        valid = np.repeat(kp.confidence >= self.min_confidence, 2) & (kp.presence >= 0.5)
        if self.zi is None or self.zi.shape[0] != x.size:
            # Start in steady state at the first value: no ramp from zero.
            self.zi = self.zi_unit[None, :, :] * x[:, None, None]
            self.last = x.copy()
        assert self.last is not None
        out = sos_step(x, valid, self.sos, self.zi, self.last)
        return {"keypoints": replace(kp, xy=out.reshape(-1, 2).astype(np.float32))}
