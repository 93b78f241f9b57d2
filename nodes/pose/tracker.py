"""Who is who from frame to frame: keypoint sets matched to tracks by position and by the body's
own proportions (never by colour), with an optimal assignment, so that each person keeps one id
while they move, cross in front of someone, or are hidden for up to ``forget`` seconds.

Plain logic, no node: ``nodes.pose.people`` wraps it. The assignment is SciPy's
``linear_sum_assignment`` (the Hungarian method)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .keypoints import Keypoints

# Body segments whose lengths, relative to each other, describe a person whatever their place.
SEGMENTS = (
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_shoulder", "left_elbow"),
    ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"),
    ("right_hip", "right_knee"),
    ("left_knee", "left_ankle"),
    ("right_knee", "right_ankle"),
)
UNMATCHABLE = 1e6  # cost of a pair the gate rules out (the assignment needs finite numbers)


@dataclass
class Body:
    """What a keypoint set says about where a person is and how they are built."""

    centre: np.ndarray  # (2,) mean of the joints, pixels
    scale: float  # the body's size in pixels (the joints' bounding box diagonal)
    proportions: np.ndarray  # (len(SEGMENTS),) segment lengths over their sum; nan where unseen
    box: np.ndarray  # (4,) x0, y0, x1, y1 of the joints


def body_of(kp: Keypoints, min_confidence: float = 0.5) -> Body | None:
    """Centre, size and proportions of a keypoint set; None when too few joints are sure.
    Place and size come from every joint a model gives only where it is somewhat sure (a person
    whose knees are hidden at the bottom of a squat is not half their size); proportions from the
    sure joints alone."""
    sure = kp.confidence >= min_confidence
    if int(sure.sum()) < 4:
        return None
    placed = kp.confidence >= min(min_confidence, 0.1)
    pts = kp.xy[placed].astype(np.float64)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    scale = float(np.hypot(*(hi - lo)))
    if scale <= 1.0:
        return None
    index = {n: i for i, n in enumerate(kp.names)}
    lengths = np.full(len(SEGMENTS), np.nan)
    for s, (a, b) in enumerate(SEGMENTS):
        ia, ib = index.get(a), index.get(b)
        if ia is not None and ib is not None and sure[ia] and sure[ib]:
            lengths[s] = float(np.hypot(*(kp.xy[ia] - kp.xy[ib])))
    total = np.nansum(lengths)
    proportions = lengths / total if total > 0 else lengths
    return Body(pts.mean(axis=0), scale, proportions, np.concatenate([lo, hi]))


@dataclass
class Track:
    """One person: an id, where they were last seen, how fast they moved, how they are built."""

    id: int
    body: Body
    first_seen: float
    last_seen: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    proportions: np.ndarray | None = None  # running mean, steadier than one frame's
    hits: int = 1

    def predicted(self, t: float) -> np.ndarray:
        """Where the centre should be at ``t``: constant velocity over a short gap, no further
        (a hidden person does not walk on forever)."""
        return self.body.centre + self.velocity * min(t - self.last_seen, 0.5)


def proportion_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean relative difference of the segments both sets see (0: the same build); 0 with
    fewer than three in common (no evidence either way)."""
    both = ~(np.isnan(a) | np.isnan(b))
    if int(both.sum()) < 3:
        return 0.0
    x, y = a[both] / a[both].sum(), b[both] / b[both].sum()
    return float(np.mean(np.abs(x - y) / np.maximum((x + y) / 2, 1e-6)))


class Tracker:
    """Matches each frame's keypoint sets to tracks; starts tracks for newcomers while fewer
    than ``max_people`` are in view (someone known who comes back is always followed) and
    forgets tracks unseen for ``forget`` seconds (or, past twice ``max_people`` tracks, the
    longest hidden).

    The cost of a pair is the distance from the track's predicted centre in the track's body
    sizes, plus ``shape_weight`` times the proportion distance; a pair further than
    ``max_distance`` body sizes apart (more, the longer the track was hidden) never matches."""

    def __init__(
        self,
        max_people: int,
        forget: float,
        max_distance: float = 0.6,
        shape_weight: float = 1.0,
        duplicate: float = 0.15,
        contained: float = 0.7,
        min_confidence: float = 0.5,
    ) -> None:
        self.max_people = max_people
        self.forget = forget
        self.max_distance = max_distance
        self.shape_weight = shape_weight
        self.duplicate = duplicate
        self.contained = contained
        self.min_confidence = min_confidence
        self.tracks: list[Track] = []
        self.next_id = 1

    def update(self, t: float, people: list[Keypoints]) -> tuple[list[tuple[int, Keypoints]], list[Track]]:
        """Assign ids to this frame's keypoint sets. Returns (id, keypoints) of everyone seen,
        in id order, and the tracks forgotten at ``t``."""
        bodies = [(kp, body_of(kp, self.min_confidence)) for kp in people]
        found = self._distinct([(kp, b) for kp, b in bodies if b is not None])
        cost = self._costs(t, [b for _, b in found])
        seen: list[tuple[int, Keypoints]] = []
        matched_tracks: set[int] = set()
        matched_people: set[int] = set()
        if cost.size:
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] < UNMATCHABLE:
                    self._move(self.tracks[r], t, found[c][1])
                    matched_tracks.add(r)
                    matched_people.add(c)
                    seen.append((self.tracks[r].id, found[c][0]))
        for c, (kp, body) in enumerate(found):
            if c in matched_people:
                continue
            # Outside the gate but over where someone was a moment ago: that person, changed
            # faster than the gate allows (a jump, a bad frame), not a newcomer taking their count.
            near = self._just_lost(t, body, matched_tracks)
            if near is not None:
                self._move(self.tracks[near], t, body)
                matched_tracks.add(near)
                seen.append((self.tracks[near].id, kp))
                continue
            # The limit is on people in view: someone hidden must not keep a newcomer out.
            if len(seen) >= self.max_people:
                continue
            track = Track(self.next_id, body, t, t, proportions=body.proportions.copy())
            self.next_id += 1
            self.tracks.append(track)
            seen.append((track.id, kp))
        # Forgotten: unseen for `forget` seconds, or the longest hidden beyond twice the limit.
        by_recency = sorted(self.tracks, key=lambda tr: -tr.last_seen)
        keep = {id(tr) for tr in by_recency[: 2 * self.max_people] if t - tr.last_seen <= self.forget}
        gone = [tr for tr in self.tracks if id(tr) not in keep]
        self.tracks = [tr for tr in self.tracks if id(tr) in keep]
        return sorted(seen, key=lambda p: p[0]), gone

    def _just_lost(self, t: float, body: Body, matched: set[int]) -> int | None:
        """The unmatched track seen within the last second whose box holds this body's centre."""
        best, best_dt = None, 1.0
        for r, tr in enumerate(self.tracks):
            dt = t - tr.last_seen
            if r in matched or dt > best_dt:
                continue
            x0, y0, x1, y1 = tr.body.box
            if x0 <= body.centre[0] <= x1 and y0 <= body.centre[1] <= y1:
                best, best_dt = r, dt
        return best

    def _distinct(self, found: list[tuple[Keypoints, Body]]) -> list[tuple[Keypoints, Body]]:
        """Two crops that ended on the same person give two sets of one body: keep the surer."""
        found = sorted(found, key=lambda p: -float(p[0].presence))
        kept: list[tuple[Keypoints, Body]] = []
        for kp, body in found:
            if all(not self._same(body, other) for _, other in kept):
                kept.append((kp, body))
        return kept

    def _same(self, a: Body, b: Body) -> bool:
        """One body seen twice: nearly the same place and size, or one set mostly inside the
        other's box (a crop that caught part of a person already found whole)."""
        near = float(np.hypot(*(a.centre - b.centre))) < self.duplicate * max(a.scale, b.scale)
        if near and 0.7 < a.scale / b.scale < 1.0 / 0.7:
            return True
        x0, y0 = np.maximum(a.box[:2], b.box[:2])
        x1, y1 = np.minimum(a.box[2:], b.box[2:])
        inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
        smaller = min(_area(a.box), _area(b.box))
        return smaller > 0 and inter / smaller > self.contained

    def _costs(self, t: float, bodies: list[Body]) -> np.ndarray:
        cost = np.full((len(self.tracks), len(bodies)), UNMATCHABLE)
        for r, tr in enumerate(self.tracks):
            at = tr.predicted(t)
            hidden = max(0.0, t - tr.last_seen)
            # A person out of sight may have moved: the gate widens with the time hidden.
            reach = self.max_distance * (1.0 + min(hidden, 3.0))
            for c, body in enumerate(bodies):
                size = max(tr.body.scale, 1.0)
                distance = float(np.hypot(*(body.centre - at))) / size
                ratio = body.scale / size
                if distance > reach or not 0.5 < ratio < 2.0:
                    continue
                shape = proportion_distance(tr.proportions if tr.proportions is not None else tr.body.proportions,
                                            body.proportions)  # fmt: skip
                cost[r, c] = distance + self.shape_weight * shape + abs(math.log(ratio))
        return cost

    def _move(self, tr: Track, t: float, body: Body) -> None:
        dt = t - tr.last_seen
        if 0 < dt <= 0.5:
            # Smoothed velocity: one frame's jitter must not throw the prediction.
            tr.velocity = 0.5 * tr.velocity + 0.5 * (body.centre - tr.body.centre) / dt
        elif dt > 0.5:
            tr.velocity = np.zeros(2)
        if tr.proportions is None:
            tr.proportions = body.proportions.copy()
        else:
            fresh = ~np.isnan(body.proportions)
            old = np.isnan(tr.proportions)
            tr.proportions[fresh & old] = body.proportions[fresh & old]
            both = fresh & ~old
            tr.proportions[both] = 0.9 * tr.proportions[both] + 0.1 * body.proportions[both]
        tr.body = body
        tr.last_seen = t
        tr.hits += 1


def _area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))
