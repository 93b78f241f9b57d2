"""The people tracker: ids by optimal assignment on position and body proportions, kept while a
person is hidden for up to ``forget`` seconds, kept when two people cross."""

from __future__ import annotations

import numpy as np
import pytest

from nodes.pose.keypoints import Keypoints
from nodes.pose.schemas import BLAZEPOSE_33
from nodes.pose.tracker import Tracker, body_of, proportion_distance

# A standing figure in torso lengths, x right, y down, origin at the hip centre.
STANDING = {
    "nose": (0.0, -1.45), "left_shoulder": (0.25, -1.0), "right_shoulder": (-0.25, -1.0),
    "left_elbow": (0.3, -0.6), "right_elbow": (-0.3, -0.6), "left_wrist": (0.32, -0.2),
    "right_wrist": (-0.32, -0.2), "left_hip": (0.15, 0.0), "right_hip": (-0.15, 0.0),
    "left_knee": (0.16, 0.55), "right_knee": (-0.16, 0.55), "left_ankle": (0.17, 1.1),
    "right_ankle": (-0.17, 1.1),
}  # fmt: skip


def person(x: float, y: float, torso: float = 100.0, legs: float = 1.0, arms: float = 1.0) -> Keypoints:
    """Keypoints of the figure at (x, y) with a torso this many pixels long; legs and arms
    stretch the build (the proportions the tracker tells people apart by)."""
    xy = np.zeros((33, 2), np.float32)
    conf = np.zeros(33, np.float32)
    for name, (u, v) in STANDING.items():
        if "knee" in name or "ankle" in name:
            v *= legs
        if "elbow" in name or "wrist" in name:
            v = -1.0 + (v + 1.0) * arms
        i = BLAZEPOSE_33.index(name)
        xy[i] = (x + u * torso, y + v * torso)
        conf[i] = 0.99
    return Keypoints("blazepose33", BLAZEPOSE_33, xy, conf, 0.99, (1280, 720))


def ids(seen: list[tuple[int, Keypoints]]) -> dict[int, float]:
    """id -> hip centre x of each person seen."""
    hips = [BLAZEPOSE_33.index("left_hip"), BLAZEPOSE_33.index("right_hip")]
    return {i: round(float(kp.xy[hips, 0].mean())) for i, kp in seen}


def test_two_people_keep_their_ids_whatever_order_the_detections_come_in() -> None:
    tracker = Tracker(max_people=4, forget=2.0)
    first, _ = tracker.update(0.0, [person(300, 400), person(900, 400)])
    assert ids(first) == {1: 300, 2: 900}
    for k in range(1, 30):
        dx = 3 * k
        frame = [person(900 - dx, 400), person(300 + dx, 400)]
        if k % 2:
            frame.reverse()
        seen, gone = tracker.update(k / 30, frame)
        assert ids(seen) == {1: 300 + dx, 2: 900 - dx} and not gone


def test_no_more_tracks_than_people_and_a_duplicate_set_makes_no_second_track() -> None:
    tracker = Tracker(max_people=2, forget=2.0)
    seen, _ = tracker.update(0.0, [person(200, 400), person(600, 400), person(1000, 400), person(203, 401)])
    assert len(seen) == 2 and len(tracker.tracks) == 2


def test_a_hidden_person_keeps_their_id_until_forget_then_is_forgotten() -> None:
    tracker = Tracker(max_people=4, forget=2.0)
    tracker.update(0.0, [person(300, 400), person(900, 400)])
    tracker.update(0.1, [person(300, 400)])  # the second goes behind something
    seen, gone = tracker.update(1.5, [person(300, 400), person(930, 400)])  # back, nearby
    assert ids(seen) == {1: 300, 2: 930} and not gone
    tracker.update(1.6, [person(300, 400)])
    seen, gone = tracker.update(3.7, [person(300, 400)])  # 2.1 s unseen
    assert [t.id for t in gone] == [2] and ids(seen) == {1: 300}
    seen, _ = tracker.update(3.8, [person(300, 400), person(930, 400)])
    assert ids(seen) == {1: 300, 3: 930}  # a forgotten person comes back as someone new


def test_two_people_who_cross_keep_their_ids() -> None:
    """A tall long-legged person walks right, a short one left, through each other: at the
    crossing positions say nothing, the build and the motion carry the ids."""
    tracker = Tracker(max_people=4, forget=2.0)
    steps = 40
    for k in range(steps + 1):
        a = person(200 + 20 * k, 400, torso=100, legs=1.25)
        b = person(1000 - 20 * k, 420, torso=80, legs=0.8, arms=0.8)
        seen, _ = tracker.update(k / 30, [b, a] if k % 3 else [a, b])
        got = {i: kp for i, kp in seen}
        if k == 0:
            assert sorted(got) == [1, 2]
        if k in (0, steps // 2 - 3, steps // 2 + 3, steps):
            assert float(got[1].xy[0, 0]) == pytest.approx(200 + 20 * k, abs=1)
            assert float(got[2].xy[0, 0]) == pytest.approx(1000 - 20 * k, abs=1)
    assert sorted(t.id for t in tracker.tracks) == [1, 2]


def test_proportions_tell_builds_apart_not_places_or_sizes() -> None:
    a, b = body_of(person(300, 400)), body_of(person(900, 300, torso=60))
    c = body_of(person(300, 400, legs=1.5, arms=0.7))
    assert a is not None and b is not None and c is not None
    assert proportion_distance(a.proportions, b.proportions) == pytest.approx(0.0, abs=1e-6)
    assert proportion_distance(a.proportions, c.proportions) > 0.1


def test_a_set_with_too_few_sure_joints_is_no_one() -> None:
    kp = person(300, 400)
    kp.confidence[:] = 0.1
    tracker = Tracker(max_people=2, forget=1.0)
    assert tracker.update(0.0, [kp]) == ([], [])


def test_a_crop_that_caught_part_of_someone_already_found_is_no_second_person() -> None:
    whole = person(300, 400)
    legs = person(300, 400)
    legs.confidence[[BLAZEPOSE_33.index(n) for n in STANDING if "hip" not in n and "knee" not in n
                     and "ankle" not in n]] = 0.1  # fmt: skip
    legs.presence = 0.6  # less sure than the whole body
    tracker = Tracker(max_people=3, forget=2.0)
    seen, _ = tracker.update(0.0, [legs, whole])
    assert len(seen) == 1 and seen[0][1] is whole


def test_someone_hidden_does_not_keep_a_newcomer_out() -> None:
    tracker = Tracker(max_people=2, forget=3.0)
    tracker.update(0.0, [person(300, 400), person(900, 400)])
    seen, _ = tracker.update(0.5, [person(300, 400), person(600, 300, torso=70)])  # 2 hidden, someone new
    assert ids(seen) == {1: 300, 3: 600}
    seen, _ = tracker.update(1.0, [person(300, 400), person(600, 300, torso=70), person(900, 400)])
    assert sorted(ids(seen)) == [1, 2, 3]  # someone known who comes back is followed again
    seen, _ = tracker.update(1.1, [person(300, 400), person(600, 300, torso=70), person(200, 100, torso=60)])
    assert sorted(ids(seen)) == [1, 3]  # but no newcomer while the limit's two are in view


def test_a_set_outside_the_gate_but_where_someone_just_was_is_that_person() -> None:
    """One bad frame (the model gives a set less than half the size) keeps the id and the count."""
    tracker = Tracker(max_people=2, forget=3.0)
    tracker.update(0.0, [person(300, 400)])
    seen, _ = tracker.update(1 / 30, [person(300, 380, torso=45)])  # out of the size gate
    assert ids(seen) == {1: 300} and len(tracker.tracks) == 1
