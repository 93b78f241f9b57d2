"""A synthetic athlete's workout session: ``"squat*5,rest*3s,push-up*4"`` performed as one motion.

Each exercise is a set as ``motion.phase_track`` performs it (lead, reps with pauses, lead); a rest
holds the last rest pose still; between two different exercises the body blends linearly (about a
second) from one rest pose to the next, so no joint ever jumps. Every exercise stands on the same
floor. The ground truth (``Segment``: what is done from when to when) comes from the same timeline
as the frames. A session of one exercise is frame for frame the single set it always was.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from nodes.pose.keypoints import Keypoints
from nodes.pose.schemas import BLAZEPOSE_33, SCHEMAS

from .motion import EXERCISES, Take, phase_track, project

DEFAULT_REPS = 5
DEFAULT_REST_SECONDS = 3.0
BLEND_SECONDS = 1.0
AUTO_SESSION = "squat*5,rest*3s,push-up*4"  # no session and exercise 'auto': something to recognize
SCHEME = "synthetic"  # a graph's input 'synthetic' or 'synthetic:SESSION' names the athlete
REST = "rest"
SESSION_DOC = (
    "sets and rests, e.g. 'squat*5,rest*3s,push-up*4' (an exercise alone: 5 reps); a graph's input "
    "'synthetic:SESSION' is taken as it comes; empty or 'synthetic': `reps` of `exercise`"
)

_ITEM = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_-]*)\s*(?:\*\s*(?P<count>\d+(?:\.\d*)?)\s*(?P<unit>s?))?")
_GROUND = ("left_foot_index", "right_foot_index", "left_wrist")  # what touches the floor at rest


@dataclass(frozen=True)
class Item:
    """One entry of a session: ``reps`` of ``exercise``, or a rest of ``seconds`` (``exercise`` None)."""

    exercise: str | None
    reps: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Segment:
    """Ground truth: what the athlete does from ``start`` to ``end`` (seconds; ``end`` is the next
    segment's ``start``). ``exercise`` is None while resting or moving between two exercises;
    ``kind`` (exercise, rest, transition) tells which. An exercise segment includes the still lead
    before its first rep and after its last."""

    exercise: str | None
    reps: int
    start: float
    end: float
    kind: str = "exercise"


class SessionFrame(NamedTuple):
    """One frame of a session: time (seconds), joint positions (frame pixels, one row per joint of
    the schema asked for) and the view the figure is drawn in (side or front)."""

    t: float
    xy: np.ndarray
    view: str


def _bad(item: str, why: str, what: str = "session item") -> ValueError:
    known = ", ".join(EXERCISES)
    return ValueError(
        f"{what} '{item}': {why} (items are EXERCISE*REPS or rest*SECONDSs, joined by commas; exercises: {known})"
    )


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, [*EXERCISES, REST], n=1, cutoff=0.6)
    return f"unknown exercise '{name}'" + (f", did you mean '{close[0]}'?" if close else "")


def parse_session(text: str) -> list[Item]:
    """Parse ``"squat*5, rest*3s, push-up*4"``: an exercise alone is 5 reps, ``rest`` alone 3 s.

    Raises ``ValueError`` with one line naming the bad item and the known exercises."""
    items: list[Item] = []
    if not text.strip():
        raise _bad(text, "it is empty", "session")
    for n, raw in enumerate(text.split(","), 1):
        item = raw.strip()
        if not item:
            raise _bad(text, f"item {n} is empty (two commas in a row, or one at an end?)", "session")
        m = _ITEM.fullmatch(item)
        if m is None:
            raise _bad(item, "not EXERCISE*REPS or rest*SECONDSs")
        name, count, unit = m["name"].lower(), m["count"], m["unit"]
        if name == REST:
            seconds = float(count) if count is not None else DEFAULT_REST_SECONDS
            if seconds <= 0:
                raise _bad(item, "a rest lasts more than 0 s")
            items.append(Item(None, 0, seconds))
            continue
        if name not in EXERCISES:
            raise _bad(item, _unknown(name))
        if unit or (count is not None and not count.isdigit()):
            raise _bad(item, "reps are a whole number (seconds are for rest)")
        reps = int(count) if count is not None else DEFAULT_REPS
        if reps < 1:
            raise _bad(item, "at least 1 rep")
        items.append(Item(name, reps))
    return items


def plan_for(session: str, exercise: str = "squat", reps: int = DEFAULT_REPS) -> list[Item]:
    """The plan a synthetic source's params describe: ``session`` text when given (a graph's input
    ``synthetic:SESSION`` is taken as it comes), else ``reps`` of ``exercise`` (``auto``: the
    session AUTO_SESSION, several exercises for recognition to name)."""
    text = session.strip()
    if text.startswith(f"{SCHEME}:"):
        text = text[len(SCHEME) + 1 :]
    elif text == SCHEME:
        text = ""
    if not text.strip() and exercise == "auto":
        return parse_session(AUTO_SESSION)
    if not text.strip():
        if exercise not in EXERCISES:
            raise _bad(exercise, _unknown(exercise))
        return [Item(exercise, reps)]
    return parse_session(text)


@dataclass(frozen=True)
class _Part:
    """A stretch of the timeline: a set (``take``), a rest holding ``take``'s rest pose, or a
    transition from ``take``'s rest pose to ``to``'s."""

    kind: str
    take: Take
    seconds: float = 0.0
    to: Take | None = None


class Session:
    """A plan performed: frames of motion and the ground truth, from one timeline.

    ``take`` sets how every set is performed and observed (fps, frame-time jitter, noise, torso
    size, seed); its exercise and reps are ignored. The k-th exercise of the plan uses seed
    ``take.seed + k``."""

    def __init__(self, plan: str | Sequence[Item], take: Take | None = None) -> None:
        self.items = parse_session(plan) if isinstance(plan, str) else list(plan)
        self.take = take or Take("squat", 0)
        self.parts = self._parts()
        # Shift each exercise down onto the lowest floor of the session (a lone set: not at all).
        ground = {p.take.exercise: float(project(p.take, 0.0, _GROUND)[0][:, 1].max()) for p in self.parts}
        floor = max(ground.values())
        self._dy = {name: floor - g for name, g in ground.items()}

    def _parts(self) -> list[_Part]:
        takes: list[Take | None] = []
        k = 0
        for item in self.items:
            if item.exercise is None:
                takes.append(None)
                continue
            takes.append(replace(self.take, exercise=item.exercise, reps=item.reps, seed=self.take.seed + k))
            k += 1
        sets = [t for t in takes if t is not None]
        still = sets[0] if sets else replace(self.take, exercise="squat", reps=0)
        parts: list[_Part] = []
        for item, take in zip(self.items, takes, strict=True):
            if take is None:
                # A rest holds the last pose (or the first set's, before any set).
                pose = (parts[-1].to or parts[-1].take) if parts else still
                parts.append(_Part("rest", pose, item.seconds))
                continue
            if parts:
                last = parts[-1].to or parts[-1].take
                if last.exercise != take.exercise:
                    parts.append(_Part("transition", last, BLEND_SECONDS, to=take))
            parts.append(_Part("exercise", take))
        return parts

    def _timeline(self) -> Iterator[tuple[int, float, Take, float, Take | None, float]]:
        """(part index, t, take, s, blend target, blend fraction) per frame."""
        rng = np.random.default_rng(self.take.seed + 7919)  # rests and transitions: not the sets' draws
        dt = 1.0 / self.take.fps
        t0 = 0.0
        for i, part in enumerate(self.parts):
            t = t0
            if part.kind == "exercise":
                for local, s in phase_track(part.take):
                    t = t0 + local
                    yield i, t, part.take, s, None, 0.0
                t0 = t + dt
                continue
            while t < t0 + part.seconds:
                yield i, t, part.take, 0.0, part.to, (t - t0) / part.seconds
                t += dt * (1.0 + self.take.fps_jitter * (rng.random() - 0.5))
            t0 = t

    def segments(self) -> list[Segment]:
        """The ground truth: one segment per set, rest and transition, in order."""
        spans: dict[int, list[float]] = {}
        last = 0.0
        for i, t, *_ in self._timeline():
            spans.setdefault(i, [t, t])[1] = t
            last = t
        out: list[Segment] = []
        starts = [spans[i][0] for i in sorted(spans)] + [last + 1.0 / self.take.fps]
        for n, i in enumerate(sorted(spans)):
            part = self.parts[i]
            exercise = part.take.exercise if part.kind == "exercise" else None
            reps = part.take.reps if part.kind == "exercise" else 0
            out.append(Segment(exercise, reps, starts[n], starts[n + 1], part.kind))
        return out

    def _place(self, take: Take, s: float, names: tuple[str, ...]) -> np.ndarray:
        xy, _ = project(take, s, names)
        dy = self._dy[take.exercise]
        if dy:
            xy[:, 1] += dy
        return xy

    def motion(self, names: tuple[str, ...] = BLAZEPOSE_33) -> Iterator[SessionFrame]:
        """Per frame: time, the true positions of ``names`` (frame pixels) and the view."""
        for _, t, take, s, to, u in self._timeline():
            xy = self._place(take, s, names)
            view = EXERCISES[take.exercise].view
            if to is not None:
                xy = xy + (self._place(to, 0.0, names) - xy) * u
                if u >= 0.5:
                    view = EXERCISES[to.exercise].view
            yield SessionFrame(t, xy, view)

    def keypoints(self, schema: str = "blazepose33") -> Iterator[tuple[float, Keypoints]]:
        """Observed keypoints, as ``motion.keypoints_sequence`` observes a set: noise and dropouts."""
        take = self.take
        rng = np.random.default_rng(take.seed + 1)
        names = SCHEMAS[schema]
        conf0 = np.full(len(names), 0.95)
        for t, xy, _ in self.motion(names):
            xy = xy + rng.normal(0, take.noise_px, xy.shape)
            conf = np.where(rng.random(len(names)) < take.dropout, 0.1, conf0)
            yield t, Keypoints(schema, names, xy.astype(np.float32), conf.astype(np.float32), 0.99, take.size)


def _session(plan: str | Sequence[Item], seed: int, take: dict[str, Any]) -> Session:
    return Session(plan, Take("squat", 0, seed=seed, **take))


def session_keypoints(
    plan: str | Sequence[Item], schema: str = "blazepose33", seed: int = 0, **take: Any
) -> Iterator[tuple[float, Keypoints]]:
    """Noisy observed keypoints of a session in any schema; ``take`` sets ``motion.Take`` fields
    (fps, noise_px, dropout, fps_jitter, torso_px, ...). Pair with ``session_segments`` given the
    same arguments for the ground truth."""
    return _session(plan, seed, take).keypoints(schema)


def session_segments(plan: str | Sequence[Item], seed: int = 0, **take: Any) -> list[Segment]:
    """The ground truth of ``session_keypoints``/``session_motion`` with the same arguments."""
    return _session(plan, seed, take).segments()


def session_motion(
    plan: str | Sequence[Item], names: tuple[str, ...] = BLAZEPOSE_33, seed: int = 0, **take: Any
) -> Iterator[SessionFrame]:
    """True joint positions of a session, frame by frame: ``(t, xy, view)``."""
    return _session(plan, seed, take).motion(names)


def total_reps(segments: Sequence[Segment], exercise: str | None = None) -> int:
    """Reps in the ground truth, of one exercise or of all."""
    return sum(s.reps for s in segments if exercise is None or s.exercise == exercise)
