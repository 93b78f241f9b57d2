"""The session report's sets: each bout of one exercise with its reps, mean range of motion, mean
duration and energy, and a note on each rep a coach would look at twice.

A rep is judged against its own set, not against a fixed number: a range of motion in degrees of a
2-D angle depends on the camera, a duration on the athlete, so "shallow" and "fast" mean "next to
the other reps of this set". Out of position is read from the per-frame records: a rep during which
the exercise's gate (or a lost person) stopped counting for longer than a blink.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

SHALLOW = 0.75  # a range of motion under this share of the set's median is "too shallow"
FAST = 0.6  # a duration under this share of the set's median is "too fast"
MIN_REPS_TO_COMPARE = 3  # fewer reps in a set: no median to judge a rep against
SET_GAP_S = 20.0  # without records: a longer pause between two reps of one exercise starts a new set


@dataclass
class RepNote:
    """What stands out about one rep (empty ``notes``: nothing)."""

    event: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class Set:
    """One bout of one exercise: its reps and their means."""

    number: int
    exercise: str
    reps: list[RepNote]

    @property
    def start(self) -> float:
        return _num(self.reps[0].event.get("start"))

    @property
    def end(self) -> float:
        return _num(self.reps[-1].event.get("end"))

    @property
    def mean_range(self) -> float:
        return _mean(r.event.get("range_of_motion") for r in self.reps)

    @property
    def mean_duration(self) -> float:
        return _mean(r.event.get("duration") for r in self.reps)

    @property
    def energy(self) -> float:
        """The set's energy: its reps' energy added up (nan when the meter gave none)."""
        values = [_num(r.event.get("energy")) for r in self.reps]
        values = [v for v in values if not math.isnan(v)]
        return sum(values) if values else math.nan


def sets(
    events: list[dict[str, Any]],
    bouts: list[tuple[float, float]] | None = None,
    out_of_position: list[tuple[float, float, str]] | None = None,
    brief_s: float = 0.2,
) -> list[Set]:
    """The rep events (in session order) grouped into sets, each rep with its notes.

    ``bouts``: each bout's (start, end) seconds from the records; a rep belongs to the bout its end
    falls in. Without them a set ends where the exercise changes, its rep numbers start again, or
    the athlete pauses longer than SET_GAP_S. ``out_of_position``: (start, end, why) stretches;
    those shorter than ``brief_s`` are the pose model's blinks and are not noted.
    """
    groups: list[list[dict[str, Any]]] = []
    for event in events:
        if not groups or _starts_a_set(event, groups[-1][-1], bouts):
            groups.append([])
        groups[-1].append(event)
    gates = [g for g in out_of_position or [] if g[1] - g[0] >= brief_s]
    return [Set(i + 1, str(group[0].get("exercise")), _notes(group, gates)) for i, group in enumerate(groups)]


def _starts_a_set(event: dict[str, Any], previous: dict[str, Any], bouts: list[tuple[float, float]] | None) -> bool:
    if event.get("exercise") != previous.get("exercise"):
        return True
    if bouts:
        return _bout_of(event, bouts) != _bout_of(previous, bouts)
    restarted = _num(event.get("rep")) <= _num(previous.get("rep"))
    paused = _num(event.get("start")) - _num(previous.get("end")) > SET_GAP_S
    return restarted or paused


def _bout_of(event: dict[str, Any], bouts: list[tuple[float, float]]) -> int | None:
    end = _num(event.get("end"))
    return next((i for i, (a, b) in enumerate(bouts) if a <= end <= b), None)


def _notes(group: list[dict[str, Any]], gates: list[tuple[float, float, str]]) -> list[RepNote]:
    ranges = [_num(e.get("range_of_motion")) for e in group]
    durations = [_num(e.get("duration")) for e in group]
    median_range = _median(ranges) if len(group) >= MIN_REPS_TO_COMPARE else math.nan
    median_duration = _median(durations) if len(group) >= MIN_REPS_TO_COMPARE else math.nan
    out = []
    for event, rom, duration in zip(group, ranges, durations, strict=True):
        note = RepNote(event)
        if rom < SHALLOW * median_range:
            note.notes.append(f"too shallow ({rom:.0f} of the set's {median_range:.0f})")
        if duration < FAST * median_duration:
            note.notes.append(f"too fast ({duration:.1f} s, the set's {median_duration:.1f} s)")
        start, end = _num(event.get("start")), _num(event.get("end"))
        for a, b, why in gates:
            if a < end and b > start:
                note.notes.append(f"out of position {min(b, end) - max(a, start):.1f} s ({why})")
        out.append(note)
    return out


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _mean(values: Any) -> float:
    got = [v for v in (_num(x) for x in values) if not math.isnan(v)]
    return statistics.fmean(got) if got else math.nan


def _median(values: list[float]) -> float:
    got = [v for v in values if not math.isnan(v)]
    return statistics.median(got) if got else math.nan
