"""Numba kernels for streaming keypoint filters, all joints of a frame at once.

Filter design (coefficients) is separate from filter state (arrays the caller owns), as in
``scipy.signal``; plain references live in ``reference.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


@njit(cache=True, nogil=True)
def one_euro_step(
    x: np.ndarray,
    confidence: np.ndarray,
    min_confidence: float,
    t: float,
    scale: float,
    min_cutoff: float,
    beta: float,
    d_cutoff: float,
    reset_after: float,
    x_hat: np.ndarray,
    dx_hat: np.ndarray,
    t_last: np.ndarray,
) -> np.ndarray:
    """One-euro filter (Casiez et al., CHI 2012) over (N, D) values at time ``t`` (seconds).

    A joint is valid when its ``confidence`` reaches ``min_confidence`` (rows of ``x`` past
    ``confidence``, such as auxiliary points, count as valid).

    Speeds are divided by ``scale`` (body size) before they set the cutoff, so ``beta`` works
    on body sizes per second whatever the distance to the camera; positions stay in pixels.
    Invalid joints hold their last output and keep their state; one that was invalid for
    longer than ``reset_after`` seconds restarts from its new value. State arrays
    (``x_hat``, ``dx_hat``: (N, D); ``t_last``: (N,), NaN = never seen) are updated in place.
    """
    n, d = x.shape
    out = np.empty_like(x)
    for j in range(n):
        seen = not math.isnan(t_last[j])
        if j < confidence.shape[0] and confidence[j] < min_confidence:
            for k in range(d):
                out[j, k] = x_hat[j, k] if seen else x[j, k]
            continue
        dt = t - t_last[j] if seen else 0.0
        if seen and dt <= 0.0:
            # A repeated timestamp carries no new information: hold.
            for k in range(d):
                out[j, k] = x_hat[j, k]
            continue
        if not seen or dt > reset_after:
            for k in range(d):
                x_hat[j, k] = x[j, k]
                dx_hat[j, k] = 0.0
                out[j, k] = x[j, k]
            t_last[j] = t
            continue
        a_d = _alpha(d_cutoff, dt)
        for k in range(d):
            v = x[j, k]
            dx = (v - x_hat[j, k]) / dt / scale
            dx_hat[j, k] = a_d * dx + (1.0 - a_d) * dx_hat[j, k]
            cutoff = min_cutoff + beta * abs(dx_hat[j, k])
            a = _alpha(cutoff, dt)
            x_hat[j, k] = a * v + (1.0 - a) * x_hat[j, k]
            out[j, k] = x_hat[j, k]
        t_last[j] = t
    return out


@njit(cache=True, nogil=True)
def sos_step(x: np.ndarray, valid: np.ndarray, sos: np.ndarray, zi: np.ndarray, last: np.ndarray) -> np.ndarray:
    """One sample of a causal biquad cascade (direct form II transposed, as scipy's sosfilt)
    for every channel of ``x`` (C,). ``zi`` (C, S, 2) is the state, updated in place; invalid
    channels output ``last`` (their previous output) and keep their state."""
    c = x.shape[0]
    sections = sos.shape[0]
    out = np.empty_like(x)
    for ch in range(c):
        if not valid[ch]:
            out[ch] = last[ch]
            continue
        v = x[ch]
        for s in range(sections):
            b0, b1, b2 = sos[s, 0], sos[s, 1], sos[s, 2]
            a1, a2 = sos[s, 4], sos[s, 5]
            y = b0 * v + zi[ch, s, 0]
            zi[ch, s, 0] = b1 * v - a1 * y + zi[ch, s, 1]
            zi[ch, s, 1] = b2 * v - a2 * y
            v = y
        out[ch] = v
        last[ch] = v
    return out
