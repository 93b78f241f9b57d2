"""Recognizing the exercise from the pose stream: which candidate workout is being done, and since when.

Two kinds of evidence, both needed:

- *Its own counter counts it.* Every candidate workout's counter runs in the background on the
  bout (its levels, gate and states, as the workout file defines them), so a workout is only
  chosen once the person has done at least one full repetition of it. Standing, walking, talking
  and resting complete no repetition of anything: no exercise.
- *The pose looks like it.* A fitted classifier (``pose_classifier``) scores each frame against
  each workout's two extreme poses; a workout's score over the bout is the mean log-likelihood of
  its poses plus the log of how often the rarer of its two extremes was seen (a repetition visits
  both), plus the log of one more than the repetitions its counter counted.
- *The two agree over time.* While the person moves, a workout's counter level (0 at one end of the
  repetition, 1 at the other) and the classifier's leaning between that workout's two extreme
  poses should rise and fall together; the absolute correlation of the two over the bout is added,
  times ``SYNC_WEIGHT``. A pose that merely resembles a workout (arms held forward in a frontal
  squat look like a front raise) does not swing between its extremes in step with its counter.

Scores become a confidence by a softmax over the candidates.

A decision is made at a candidate's repetition when it leads with ``confidence``, or from its second
repetition when it holds most of the evidence of the candidates that counted one (``SETTLE_SHARE``);
with weaker evidence the answer is "not sure yet" (no exercise), never a guess. It is revised while
the bout goes on if another candidate with a repetition of its own overtakes it. A bout ends after
``rest`` seconds without a repetition of the recognized workout; then recognition starts afresh
(another exercise may follow).
Workouts the classifier does not know can still be recognized, by their counter alone, when no
known workout leads.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from nodes.counting import spec
from nodes.counting.counter import WorkoutCounter
from nodes.pose.body import body_scale
from nodes.pose.keypoints import Keypoints

from . import movement
from .pose_classifier import PoseClassifier

UNKNOWN_LOG_LIKELIHOOD = math.log(0.02)  # a workout the classifier was not fitted for: a faint, even guess
ONSET_FRAMES = 4  # evaluated frames in a row that look like a workout: its posture is held, not passed through
REPS_WEIGHT = 1.0  # a workout whose own counter counts the movement's repetitions explains it better
# Counter level and extreme-pose leaning in step. Fitted on Countix-Fitness: 2 to 4 give the same choices.
SYNC_WEIGHT = 2.0
# From its second repetition, the best of the candidates that counted the movement is named when it
# holds the greater part of their evidence; with less, the answer stays "not sure yet".
SETTLE_SHARE = 0.5
REVISE_RATIO = 1.5  # a decision is revised when another candidate's evidence is this many times stronger
SYNC_MIN_FRAMES = 10  # evaluated frames before the correlation means anything
LEAD_S = 2.0  # counting of a recognized exercise starts this long before its first rep's far state
RESTART_S = 2.0  # when stale evidence is dropped, the last seconds are kept: a rep may have begun in them


@dataclass
class Decision:
    """What the recognizer says about one frame."""

    exercise: str | None  # None: not sure yet, or no exercise
    confidence: float
    bout: int  # increments when a bout ends
    since: float  # counting of the decided exercise starts here: the bout's start, or where its posture began
    after_exercise: bool = False  # the bout follows another exercise: counting starts mid-stream

    def to_dict(self) -> dict:
        return {
            "exercise": self.exercise,
            "confidence": round(self.confidence, 3),
            "bout": self.bout,
            "since": round(self.since, 4),
            "after_exercise": self.after_exercise,
        }


@dataclass
class _Bout:
    since: float
    counters: dict[str, WorkoutCounter]
    follows_exercise: bool = False  # began where a recognized exercise's reps stopped
    reps: dict[str, int] = field(default_factory=dict)
    last_rep: dict[str, float] = field(default_factory=dict)
    first_start: dict[str, float] = field(default_factory=dict)  # each workout's first rep in the bout
    streak: np.ndarray | None = None  # evaluated frames in a row that look like each workout
    # The last ONSET_FRAMES evaluated frames' times: a streak that reaches ONSET_FRAMES began at the oldest.
    evaluated: deque[float] = field(default_factory=lambda: deque(maxlen=ONSET_FRAMES))
    onset: dict[str, float] = field(default_factory=dict)  # when each workout's posture was taken up (then held)
    loglik: np.ndarray | None = None
    ends: np.ndarray | None = None
    frames: int = 0
    # Running sums for each candidate's level / extreme-leaning correlation: n, a, b, aa, bb, ab.
    sync: np.ndarray | None = None


class Recognizer:
    """Per-stream exercise recognition among ``candidates`` (workout names or files)."""

    def __init__(
        self,
        candidates: list[str],
        classifier: PoseClassifier,
        confidence: float = 0.8,
        rest: float = 8.0,
        rate: float = 10.0,
    ) -> None:
        self.workouts = {w.exercise: w for w in (spec.load(c) for c in candidates)}
        self.names = list(self.workouts)
        self.classifier = classifier
        self.known = np.array([n in classifier.workouts for n in self.names])
        self.columns = np.array([classifier.workouts.index(n) if n in classifier.workouts else 0 for n in self.names])
        # Each workout's first level metric: where in its repetition the person is (None: it has none).
        self.level_metric = [
            next((m.name for m in w.metrics.values() if m.kind == "level"), None) for w in self.workouts.values()
        ]
        self.confidence = confidence
        self.rest = rest
        self.period = 1.0 / rate if rate > 0 else 0.0
        self.exercise: str | None = None
        self.level = 0.0
        self.bout_id = 0
        self.bout: _Bout | None = None
        self.last_step: float | None = None
        self.last_check = -math.inf
        self.recent: deque[tuple[float, Keypoints]] = deque()  # the last ``rest`` seconds, for a new bout

    def __call__(self, kp: Keypoints, t: float) -> Decision:
        if self.bout is None:
            self.bout = self._new_bout(t)
        self.recent.append((t, kp))
        while self.recent[0][0] < t - self.rest - 1.0:
            self.recent.popleft()
        if self._due(t):
            repeated = self._step(kp, t)
            if repeated or t - self.last_check >= 1.0:
                self.last_check = t
                self._decide()
            self._maybe_end(t)
        since = self.bout.since
        if self.exercise is not None and self.bout.follows_exercise:
            # After another exercise, count from when the person took up this one's posture (or just
            # before its first rep): the other's last moves and the change of position would only
            # stretch the range its levels calibrate on. A first bout is counted whole, as a named
            # exercise would be.
            start = self.bout.first_start[self.exercise] - LEAD_S
            onset = self.bout.onset.get(self.exercise)
            since = max(since, start if onset is None else min(onset, self.bout.first_start[self.exercise]))
        return Decision(self.exercise, self.level, self.bout_id, since, self.bout.follows_exercise)

    def _due(self, t: float) -> bool:
        """Counters and the classifier run at most ``rate`` times a second: rep states last longer."""
        if self.last_step is not None and t - self.last_step < self.period * 0.999:
            return False
        self.last_step = t
        return True

    def _new_bout(self, t: float, follows_exercise: bool = False) -> _Bout:
        counters = {n: WorkoutCounter(w) for n, w in self.workouts.items()}
        return _Bout(since=t, counters=counters, follows_exercise=follows_exercise)

    def _step(self, kp: Keypoints, t: float) -> bool:
        bout = self.bout
        assert bout is not None
        repeated = False
        body, plain = body_scale(kp), (kp.xy.tolist(), kp.confidence.tolist())  # shared by every counter
        levels = np.full(len(self.names), np.nan)
        for i, (name, counter) in enumerate(bout.counters.items()):
            values, _, event = counter.step(kp, t, body, plain)
            if self.level_metric[i] is not None:
                levels[i] = values.get(self.level_metric[i], math.nan)
            if event is not None:
                bout.reps[name] = bout.reps.get(name, 0) + 1
                bout.last_rep[name] = t
                bout.first_start.setdefault(name, event.start)
                repeated = True
        if kp.presence >= 0.5:
            idx = movement.joint_indices(kp.names)
            if idx is not None:
                seen = kp.confidence[idx] >= 0.5
                if seen.sum() >= 8:
                    f = movement.frame_features(kp.xy[idx][None], seen[None])
                    p = self.classifier.probabilities(f)[0][self.columns]  # (candidates, 2)
                    loglik = np.where(self.known, np.log(p.sum(1) + 1e-3), UNKNOWN_LOG_LIKELIHOOD)
                    ends = np.where(self.known[:, None], p, math.exp(UNKNOWN_LOG_LIKELIHOOD) / 2)
                    bout.loglik = loglik if bout.loglik is None else bout.loglik + loglik
                    bout.ends = ends if bout.ends is None else bout.ends + ends
                    bout.frames += 1
                    self._add_sync(bout, levels, p)
                    likeness = p.sum(1)
                    looks = likeness >= 0.5 * likeness.max()  # among the likeliest: a rest pose is shared
                    bout.streak = looks * (1 if bout.streak is None else bout.streak + 1)
                    bout.evaluated.append(t)
                    for i in np.flatnonzero(bout.streak == ONSET_FRAMES):
                        bout.onset.setdefault(self.names[i], bout.evaluated[0])
        return repeated

    def _add_sync(self, bout: _Bout, levels: np.ndarray, p: np.ndarray) -> None:
        leaning = (p[:, 1] - p[:, 0]) / (p.sum(1) + 1e-6)  # -1: one extreme pose, +1: the other
        ok = self.known & ~np.isnan(levels)
        a, b = np.where(ok, levels, 0.0), np.where(ok, leaning, 0.0)
        sums = np.stack([ok.astype(float), a, b, a * a, b * b, a * b])
        bout.sync = sums if bout.sync is None else bout.sync + sums

    def _sync_scores(self, bout: _Bout) -> np.ndarray:
        """|correlation| of each candidate's level and its extreme-pose leaning over the bout."""
        if bout.sync is None:
            return np.zeros(len(self.names))
        n, a, b, aa, bb, ab = bout.sync
        m = np.maximum(n, 1.0)
        cov, var_a, var_b = ab / m - a * b / m**2, aa / m - (a / m) ** 2, bb / m - (b / m) ** 2
        usable = (n >= SYNC_MIN_FRAMES) & (var_a > 1e-9) & (var_b > 1e-9)
        r = np.where(usable, cov / np.sqrt(np.maximum(var_a * var_b, 1e-18)), 0.0)
        return np.abs(np.clip(r, -1.0, 1.0))

    def scores(self) -> dict[str, float]:
        """Each candidate's confidence over the bout so far (they sum to 1)."""
        bout = self.bout
        if bout is None or bout.frames == 0:
            return {n: 1.0 / len(self.names) for n in self.names}
        assert bout.loglik is not None and bout.ends is not None
        s = bout.loglik / bout.frames + np.log(bout.ends.min(axis=1) / bout.frames + 1e-3)
        s = s + REPS_WEIGHT * np.log1p([bout.reps.get(n, 0) for n in self.names])
        s = s + SYNC_WEIGHT * self._sync_scores(bout)
        p = np.exp(s - s.max())
        p /= p.sum()
        return dict(zip(self.names, p.tolist(), strict=True))

    def _decide(self) -> None:
        bout = self.bout
        assert bout is not None
        if not bout.reps:
            return
        scores = self.scores()
        with_reps = [n for n in self.names if bout.reps.get(n, 0) >= 1]
        leader = max(self.names, key=scores.__getitem__)
        current = self.exercise
        choice = None
        if leader in with_reps and (scores[leader] >= self.confidence or bout.reps[leader] >= 2):
            # A revision needs a clear lead, so two close candidates do not take turns.
            if current is None or scores[leader] >= self.confidence or scores[leader] >= REVISE_RATIO * scores[current]:
                choice = leader
        elif current is None:
            # Only a workout whose counter counted the movement can be it: at a second repetition the
            # best of those is named if it holds most of their evidence. Otherwise not sure yet: a
            # wrong name would count nothing for the person, a late one loses nothing (the bout is
            # recounted once it is named).
            best = max(with_reps, key=scores.__getitem__)
            share = scores[best] / sum(scores[n] for n in with_reps)
            if bout.reps[best] >= 2 and share >= SETTLE_SHARE:
                choice = best
        if choice is not None:
            self.exercise = choice
        self.level = scores[self.exercise] if self.exercise is not None else 0.0

    def _maybe_end(self, t: float) -> None:
        bout = self.bout
        assert bout is not None
        last = bout.last_rep.get(self.exercise) if self.exercise else max(bout.last_rep.values(), default=None)
        quiet_since = last if last is not None else bout.since
        if t - quiet_since < self.rest or (self.exercise is None and bout.frames == 0 and not bout.reps):
            return
        follows = self.exercise is not None or bout.follows_exercise
        if self.exercise is not None:
            # The next exercise may have begun during the quiet time: its bout starts where this one's reps ended.
            self.bout_id += 1
            since = quiet_since
        else:
            since = t - RESTART_S  # nothing recognized: old evidence is stale, keep a rep's worth
        self.exercise, self.level = None, 0.0
        self.bout = self._new_bout(since, follows)
        self.last_check = -math.inf
        self.last_step = None
        for bt, bkp in [item for item in self.recent if item[0] >= since]:
            if self._due(bt):
                self._step(bkp, bt)
