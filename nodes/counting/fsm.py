"""The rep state machine: states entered by conditions held for a minimum time, a rep when the
visited states end with the workout's rep sequence."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .spec import Workout


@dataclass
class RepEvent:
    rep: int
    exercise: str
    start: float
    end: float
    range_of_motion: float | None
    metric_min: float | None
    metric_max: float | None

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "rep",
            "exercise": self.exercise,
            "rep": self.rep,
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "duration": round(self.duration, 4),
            "range_of_motion": None if self.range_of_motion is None else round(self.range_of_motion, 4),
            "min": None if self.metric_min is None else round(self.metric_min, 4),
            "max": None if self.metric_max is None else round(self.metric_max, 4),
        }


@dataclass
class RepMachine:
    """State of one stream's rep counting."""

    workout: Workout
    state: str | None = None
    reps: int = 0
    hold_seconds: float = 0.0
    history: list[tuple[str, float]] = field(default_factory=list)
    pending: dict[str, float] = field(default_factory=dict)
    extremes: list[float] = field(default_factory=lambda: [math.inf, -math.inf])
    last_t: float | None = None
    out_since: float | None = None
    too_fast: int = 0  # cycles not counted: faster than the workout's min_rep_time

    def step(self, values: dict[str, float], t: float, gated: bool) -> RepEvent | None:
        """Advance one frame; return the rep completed on this frame, if any."""
        dt = 0.0 if self.last_t is None else max(0.0, t - self.last_t)
        self.last_t = t
        w = self.workout
        if not gated:
            # Out of position (joints unseen, wrong orientation): no transitions; after
            # gate_min_time (longer than a tracking dropout), partial progress is forgotten.
            self.out_since = t if self.out_since is None else self.out_since
            self.pending = {}
            if t - self.out_since >= w.gate_min_time:
                self.state, self.history = None, []
            return None
        self.out_since = None
        if w.hold and self.state == w.hold:
            self.hold_seconds += dt
        rm = values.get(w.range_metric) if w.range_metric else None
        if rm is not None and not math.isnan(rm):
            self.extremes = [min(self.extremes[0], rm), max(self.extremes[1], rm)]
        for name, st in w.states.items():
            if name == self.state:
                continue
            if st.enter(values):
                since = self.pending.setdefault(name, t)
                if t - since >= st.min_time:
                    return self._enter(name, t)
            else:
                self.pending.pop(name, None)
        return None

    def _enter(self, name: str, t: float) -> RepEvent | None:
        w = self.workout
        self.state = name
        self.pending = {}
        self.history.append((name, t))
        if w.hold or not w.rep:
            return None
        if name == w.rep[0] and len(self.history) == 1:
            self.extremes = [math.inf, -math.inf]
        n = len(w.rep)
        if len(self.history) >= n and tuple(s for s, _ in self.history[-n:]) == w.rep:
            # A rep's time starts on entering its second state (its first state's entry is the
            # previous rep's end); for a two-state rep, entering the second is now, so from its first.
            start = self.history[-max(n - 1, 2)][1]
            if t - start < w.min_rep_time:
                # Faster than any person moves: pose noise crossing the hysteresis, not a rep.
                self.too_fast += 1
                self.history = self.history[-1:]
                self.extremes = [math.inf, -math.inf]
                return None
            self.reps += 1
            lo, hi = self.extremes
            ok = math.isfinite(lo) and math.isfinite(hi)
            event = RepEvent(
                self.reps, w.exercise, start, t, hi - lo if ok else None, lo if ok else None, hi if ok else None
            )
            self.history = self.history[-1:]
            self.extremes = [math.inf, -math.inf]
            return event
        if len(self.history) > 4 * n:
            self.history = self.history[-n:]
        return None
