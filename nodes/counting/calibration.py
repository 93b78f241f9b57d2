"""Streaming signal kernels for self-calibrating rep counting.

``RunningMedian`` removes single-frame pose failures (a knee angle that drops to 50 degrees for
one frame) before any smoothing spreads them out. ``RangeTracker`` learns the range of motion a
person actually shows: the 10th and 90th percentiles of the signal over the last few seconds, so
the range follows a person who goes deeper or shallower, forgets a warm-up or an earlier set, and
is not set by one glitch; while the movement repeats at a clear cadence (``Cadence``), over the
last few of its periods only, so a long fast set whose posture drifts is measured rep by rep. A
signal's *level* is its place in that range (0 at the low end, 1 at the high end); thresholds on
levels are the same for a tall or short person, a front or side view, and a deep or shallow mover.
``Agreement`` says whether two signals have been moving together
(a level's later sources against its first one), so a source that a camera or a normalization turns
against the movement is left out instead of cancelling the others.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

import numpy as np


class RunningQuantiles:
    """Quantiles of the values seen in the last ``window`` seconds (at least the newest value)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.times: deque[float] = deque()
        self.values: deque[float] = deque()
        self.ordered: list[float] = []

    def add(self, value: float, t: float) -> None:
        self.times.append(t)
        self.values.append(value)
        bisect.insort(self.ordered, value)
        while self.times[0] < t - self.window and len(self.times) > 1:
            self.times.popleft()
            del self.ordered[bisect.bisect_left(self.ordered, self.values.popleft())]

    def drop_newest(self) -> None:
        """Forget the value added last (values that left the window with it stay gone: they were
        older than the window)."""
        if self.values:
            self.times.pop()
            del self.ordered[bisect.bisect_left(self.ordered, self.values.pop())]

    def quantile(self, q: float) -> float:
        """Linear interpolation between the two nearest ranks (as numpy's default)."""
        if not self.ordered:
            return math.nan
        pos = q * (len(self.ordered) - 1)
        i = int(pos)
        j = min(i + 1, len(self.ordered) - 1)
        return self.ordered[i] + (pos - i) * (self.ordered[j] - self.ordered[i])


class RunningMedian(RunningQuantiles):
    """Median of the values seen in the last ``window`` seconds."""

    def __call__(self, value: float, t: float) -> float:
        self.add(value, t)
        return self.quantile(0.5)


class RangeTracker:
    """The range a signal covers: its ``q`` and ``1 - q`` quantiles over the last ``window``
    seconds. Quantiles rather than extremes, so a glitch or the moment of getting into position
    does not set the range; a window of a few reps, so the range follows the person."""

    def __init__(self, window: float, q: float = 0.1) -> None:
        self.q = q
        self.values = RunningQuantiles(window)
        self.low = math.nan
        self.high = math.nan

    def __call__(self, value: float, t: float) -> None:
        if math.isnan(value):
            return
        self.values.add(value, t)
        self.low = self.values.quantile(self.q)
        self.high = self.values.quantile(1.0 - self.q)

    @property
    def window(self) -> float:
        return self.values.window

    @window.setter
    def window(self, seconds: float) -> None:
        """Take the range over the last ``seconds`` from the next value on (values older than a
        shorter window leave with it; a longer one fills as values come)."""
        self.values.window = seconds

    def unlearn(self) -> None:
        """Take back the value added last: a frame that turned out not to be the exercise's."""
        self.values.drop_newest()
        self.low = self.values.quantile(self.q)
        self.high = self.values.quantile(1.0 - self.q)

    def window_values(self) -> list[float]:
        """The values the range is taken over now, oldest first."""
        return list(self.values.values)

    def seed(self, values: list[float], t: float) -> None:
        """Start from ``values`` as if all were seen at time ``t``: they leave the window ``window``
        seconds after ``t``, as the values that follow replace them."""
        for v in values:
            self(v, t)

    @property
    def span(self) -> float:
        return self.high - self.low if not math.isnan(self.low) else 0.0

    def level(self, value: float, min_range: float) -> float:
        """Where ``value`` lies in the range: 0 at the low end, 1 at the high end. A range narrower
        than ``min_range`` counts as ``min_range`` wide, so movements smaller than that never span
        the levels between which a rep is counted; NaN without a value or any range at all."""
        span = max(self.span, min_range)
        if math.isnan(value) or span <= 0.0:
            return math.nan
        return (value - self.low) / span


class Agreement:
    """Exponentially weighted correlation of two signals over about the last ``tau`` seconds:
    +1 moving together, -1 one rising as the other falls. Until both have varied over ``warmup``
    samples it reads +1 (nothing is known against them)."""

    def __init__(self, tau: float, warmup: int = 10) -> None:
        self.tau = tau
        self.warmup = warmup
        self.last_t = math.nan
        self.mx = self.my = 0.0
        self.vx = self.vy = self.cxy = 0.0
        self.n = 0

    def __call__(self, x: float, y: float, t: float) -> float:
        """Add a pair of values at time ``t`` (skipped where either is NaN); the correlation now."""
        if math.isnan(x) or math.isnan(y):
            return self.correlation
        if math.isnan(self.last_t):
            self.mx, self.my, self.last_t = x, y, t
            return self.correlation
        dt = t - self.last_t
        self.last_t = t
        if dt <= 0.0:
            return self.correlation
        a = 1.0 - math.exp(-dt / self.tau)
        dx, dy = x - self.mx, y - self.my
        self.mx += a * dx
        self.my += a * dy
        # West's exponentially weighted (co)variance update.
        self.vx = (1.0 - a) * (self.vx + a * dx * dx)
        self.vy = (1.0 - a) * (self.vy + a * dy * dy)
        self.cxy = (1.0 - a) * (self.cxy + a * dx * dy)
        self.n += 1
        return self.correlation

    @property
    def correlation(self) -> float:
        if self.n < self.warmup or self.vx <= 0.0 or self.vy <= 0.0:
            return 1.0
        return max(-1.0, min(1.0, self.cxy / math.sqrt(self.vx * self.vy)))


HARMONIC_SHARE = 0.85


def dominant_period(
    signals: list[np.ndarray], dt: float, shortest: float, longest: float, min_strength: float
) -> float | None:
    """The period, in seconds, at which signals sampled every ``dt`` seconds repeat most clearly:
    the first local peak nearly as high as the highest (``HARMONIC_SHARE`` of it), between
    ``shortest`` and ``longest`` seconds of lag, of their mean autocorrelation (each normalized to
    1 at lag 0 and unbiased: divided by the overlap), or None when no peak reaches
    ``min_strength`` (1 is a perfect repetition, 0 none)."""
    curves = []
    for x in signals:
        x = np.asarray(x, np.float64) - np.mean(x)
        n = len(x)
        spectrum = np.fft.rfft(x, 2 * n)  # zero-padded: the linear, not circular, autocorrelation
        ac = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
        if ac[0] > 0.0:
            curves.append(ac / ac[0] * n / (n - np.arange(n)))
    if not curves:
        return None
    n = min(len(c) for c in curves)
    ac = np.mean([c[:n] for c in curves], axis=0)
    lo, hi = max(2, int(shortest / dt)), min(n // 2, int(longest / dt))
    if hi <= lo + 2:
        return None
    seg = ac[lo:hi]
    peaks = np.flatnonzero((seg[1:-1] >= seg[:-2]) & (seg[1:-1] >= seg[2:])) + 1
    if len(peaks) == 0:
        return None
    # The first peak nearly as high as the highest: a repetition correlates as well at two periods
    # as at one, and noise decides which of them is the higher.
    best = peaks[np.argmax(seg[peaks] >= HARMONIC_SHARE * seg[peaks].max())]
    return float((lo + best) * dt) if seg[best] > min_strength else None


class Cadence:
    """The period at which a level's sources repeat, over the last ``window`` seconds
    (``dominant_period`` of each source's values), recomputed every ``every`` seconds; None while
    the movement does not repeat clearly or less than ``min_samples`` values of a source are in."""

    SHORTEST = 0.4  # s: faster than any rep a person does
    LONGEST = 4.0  # s: a slow rep; longer lags are too few in a 10 s window to judge
    STRENGTH = 0.5  # the autocorrelation a repetition reaches that idle sway and noise do not

    def __init__(self, sources: int, window: float, every: float = 0.5, min_samples: int = 60) -> None:
        self.window = window
        self.every = every
        self.min_samples = min_samples
        self.history: list[deque[tuple[float, float]]] = [deque() for _ in range(sources)]
        self.checked = -math.inf
        self.period: float | None = None

    def add(self, source: int, value: float, t: float) -> None:
        if math.isnan(value):
            return
        h = self.history[source]
        h.append((t, value))
        while h[0][0] < t - self.window:
            h.popleft()

    def __call__(self, t: float) -> float | None:
        """The period now (from the values added before ``t``)."""
        if t - self.checked < self.every:
            return self.period
        self.checked = t
        full = [h for h in self.history if len(h) >= self.min_samples]
        if not full:
            self.period = None
            return None
        dt = float(np.median([(h[-1][0] - h[0][0]) / (len(h) - 1) for h in full]))
        signals = [np.fromiter((v for _, v in h), np.float64, len(h)) for h in full]
        self.period = dominant_period(signals, dt, self.SHORTEST, self.LONGEST, self.STRENGTH) if dt > 0 else None
        return self.period
