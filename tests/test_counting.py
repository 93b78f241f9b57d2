"""Counting that generalizes: pose-sequence arrays, self-calibrating levels, and synthetic sets stored
the way public pose sets store them (each frame's keypoint box stretched to the unit square)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from workout_helpers import count

from dataflow import GraphError, Packet
from dataflow.cli import main
from nodes.athlete.motion import Take, keypoints_sequence
from nodes.counting import spec
from nodes.counting.calibration import Agreement, Cadence, RangeTracker, RunningMedian, dominant_period
from nodes.counting.reps import RepCounter
from nodes.recording import pose_arrays

ROOT = Path(__file__).resolve().parent.parent
LEVELLED = "squat lunge push-up sit-up bench-press front-raise pull-up tricep-pushdown jumping-jack".split()


def unit_square_array(take: Take) -> np.ndarray:
    """(T, 99) BlazePose array with each frame min-max normalized per axis, as in Countix-Fitness."""
    rows = []
    for _, kp in keypoints_sequence(take, "blazepose33"):
        xy = kp.xy.astype(np.float64)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        unit = (xy - lo) / (hi - lo)
        rows.append(np.column_stack([unit, np.full(len(unit), 0.5)]).ravel())
    return np.array(rows, np.float32)


def count_array(exercise: str, poses: np.ndarray, fps: float = 30.0) -> int:
    node = RepCounter("reps", {"exercise": exercise})
    node.setup()
    for seq, (t, kp) in enumerate(pose_arrays.frames(pose_arrays.load_array(poses), fps, 1000, 1000)):
        node.packet = Packet("s", seq, t, kp)
        node.process(kp)
    return node.counter.machine.reps


# -- pose-sequence arrays ------------------------------------------------------------------------


def test_pose_array_layouts_load_alike(tmp_path: Path) -> None:
    poses = np.random.default_rng(0).random((7, 33, 3)).astype(np.float32)
    layouts = {
        "flat": poses.reshape(7, 99),
        "cube": poses,
        "extra": np.hstack([poses.reshape(7, 99), np.ones((7, 5), np.float32)]),
    }
    for name, data in layouts.items():
        np.save(tmp_path / f"{name}.npy", data)
        np.testing.assert_array_equal(pose_arrays.load(tmp_path / f"{name}.npy"), poses)
    np.save(tmp_path / "empty.npy", np.zeros(0, np.float32))
    assert pose_arrays.load(tmp_path / "empty.npy").shape == (0, 33, 3)
    np.save(tmp_path / "bad.npy", np.zeros((7, 50), np.float32))
    with pytest.raises(pose_arrays.PoseArrayError, match=r"shape \(7, 50\) is not a pose sequence"):
        pose_arrays.load(tmp_path / "bad.npy")


def test_zero_frames_have_no_person_and_unit_coordinates_scale() -> None:
    poses = np.zeros((3, 33, 3), np.float32)
    poses[0] = 0.5
    poses[2, :, :2] = 0.25
    frames = list(pose_arrays.frames(poses, 25.0, 640, 480))
    assert [t for t, _ in frames] == pytest.approx([0.0, 0.04, 0.08])
    first, missing, third = (kp for _, kp in frames)
    assert first.presence == 1.0 and missing.presence == 0.0 and missing.confidence.max() == 0.0
    np.testing.assert_allclose(third.xy[0], [160.0, 120.0])
    assert first.names[11] == "left_shoulder" and first.image_size == (640, 480)


def test_replay_graph_counts_a_unit_square_array(tmp_path: Path) -> None:
    path = tmp_path / "squats.npy"
    np.save(path, unit_square_array(Take("squat", reps=4, seed=3)))
    summary = tmp_path / "s.json"
    args = ["run", str(ROOT / "graphs" / "replay.yaml"), "-q", "--set", f"recording={path}"]
    args += ["--set", f"out={tmp_path / 'r.jsonl'}", "--summary-json", str(summary)]
    assert main(args) == 0
    assert json.loads(summary.read_text())["reps"] == 4
    first = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    assert set(first["calibration"]["low"]) == {"knee", "hips"}


def test_a_file_that_is_not_a_pose_array_is_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros((10, 5), np.float32))
    assert main(["run", str(ROOT / "graphs" / "replay.yaml"), "-q", "--set", f"recording={path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.npy" in err and "not a pose sequence" in err


# -- counting that does not depend on the person, the camera or the set --------------------------


# Not push-up: stretching a side-view push-up's box to the unit square keeps the shoulders on the
# box's top edge in both positions, so two of its three sources do not move (known limitation).
@pytest.mark.parametrize("exercise", [e for e in LEVELLED if e != "push-up"])
def test_unit_square_sets_count_exactly(exercise: str) -> None:
    for seed, reps in ((0, 5), (7, 2)):
        assert count_array(exercise, unit_square_array(Take(exercise, reps=reps, seed=seed))) == reps


@pytest.mark.parametrize("exercise", LEVELLED)
def test_shallow_and_deep_movers_count_alike(exercise: str) -> None:
    # The same workout file for someone who moves 55 % of the way and someone who goes all the way.
    for amplitude in (0.55, 1.0):
        got, _, _ = count(exercise, Take(exercise, reps=6, amplitude=amplitude, seed=2))
        assert got == 6, amplitude


@pytest.mark.parametrize("exercise", LEVELLED)
def test_small_movements_never_count(exercise: str) -> None:
    # Fidgeting, talking with the hands: 12 % of a rep's range, over and over.
    got, _, _ = count(exercise, Take(exercise, reps=10, amplitude=0.12, seed=4))
    assert got == 0


@pytest.mark.parametrize(("exercise", "reps", "seconds"), [("squat", 60, 1.0), ("sit-up", 20, 0.7), ("lunge", 6, 5.0)])
def test_long_sets_slow_and_fast_reps_on_the_unit_square(exercise: str, reps: int, seconds: float) -> None:
    take = Take(exercise, reps=reps, rep_seconds=seconds, pause_seconds=0.2, seed=1)
    assert count_array(exercise, unit_square_array(take)) == reps


@pytest.mark.parametrize(
    ("exercise", "reps", "seconds"), [("push-up", 8, 5.0), ("front-raise", 40, 0.5), ("squat", 30, 0.5)]
)
def test_long_sets_slow_and_fast_reps(exercise: str, reps: int, seconds: float) -> None:
    got, _, _ = count(exercise, Take(exercise, reps=reps, rep_seconds=seconds, pause_seconds=0.2, seed=1))
    assert got == reps


def test_records_say_why_nothing_counts() -> None:
    node = RepCounter("reps", {"exercise": "push-up"})
    node.setup()
    reasons = set()
    for seq, (t, kp) in enumerate(keypoints_sequence(Take("bicep-curl", reps=3, seed=2), "blazepose33")):
        node.packet = Packet("s", seq, t, kp)
        reasons.add(node.process(kp)["state"].get("gate"))
    assert node.counter.machine.reps == 0
    assert "not wrist_drop > 0.3 or body_tilt > 50" in reasons


# -- kernels against plain references -------------------------------------------------------------


def test_running_median_matches_numpy() -> None:
    rng = np.random.default_rng(5)
    times = np.cumsum(rng.uniform(0.01, 0.05, 400))
    values = rng.normal(size=400)
    median = RunningMedian(0.3)
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        inside = values[: i + 1][times[: i + 1] >= t - 0.3]
        assert median(float(v), float(t)) == pytest.approx(np.median(inside))


def test_range_tracker_matches_numpy_quantiles() -> None:
    rng = np.random.default_rng(6)
    times = np.arange(600) / 30.0
    values = np.sin(times * 3) * 20 + rng.normal(size=600)
    tracker = RangeTracker(4.0, q=0.1)
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        tracker(float(v), float(t))
        inside = values[: i + 1][times[: i + 1] >= t - 4.0]
        assert tracker.low == pytest.approx(np.quantile(inside, 0.1))
        assert tracker.high == pytest.approx(np.quantile(inside, 0.9))
    assert tracker.level(tracker.low, 1.0) == 0.0 and tracker.level(tracker.high, 1.0) == pytest.approx(1.0)
    # A range narrower than min_range counts as min_range wide, anchored at the low end.
    assert tracker.level(tracker.low + 5.0, 100.0) == pytest.approx(0.05)


def test_a_seeded_range_starts_from_the_seed_and_forgets_it_after_the_window() -> None:
    rng = np.random.default_rng(7)
    seed, later = rng.normal(50, 10, 200), rng.normal(0, 1, 200)
    tracker = RangeTracker(4.0, q=0.1)
    tracker.seed(seed.tolist(), 10.0)
    assert (tracker.low, tracker.high) == pytest.approx(tuple(np.quantile(seed, [0.1, 0.9])))
    times = 10.0 + np.arange(1, 201) / 30.0
    for t, v in zip(times, later, strict=True):
        tracker(float(v), float(t))
    inside = later[times >= times[-1] - 4.0]  # the seed was "seen" at 10.0: more than 4 s ago
    assert (tracker.low, tracker.high) == pytest.approx(tuple(np.quantile(inside, [0.1, 0.9])))


def test_a_counter_calibrated_on_frames_starts_with_the_range_they_show() -> None:
    from nodes.counting.counter import WorkoutCounter

    frames = list(keypoints_sequence(Take("squat", 4, seed=2)))
    learned = WorkoutCounter(spec.load("squat"))
    for t, kp in frames:
        learned.step(kp, t)
    seeded = WorkoutCounter(spec.load("squat"))
    seeded.calibrate_on(frames)
    assert seeded.metrics.calibration() == learned.metrics.calibration()
    # Only the ranges are seeded: the rep machine and the smoothing start afresh.
    assert seeded.reps == 0 and seeded.metrics.last_t is None


def test_agreement_reads_together_against_and_unknown() -> None:
    t = np.arange(0, 20, 1 / 30)
    wave = np.sin(2 * np.pi * 0.5 * t)
    noise = np.random.default_rng(0).normal(size=t.size)
    for other, low, high in ((2 * wave + 1, 0.99, 1.0), (-0.3 * wave, -1.0, -0.99), (noise, -0.3, 0.3)):
        agreement = Agreement(5.0)
        for ti, x, y in zip(t, wave, other, strict=True):
            got = agreement(float(x), float(y), float(ti))
        assert low <= got <= high
    # Before it has seen them vary, nothing is known against them.
    fresh = Agreement(5.0)
    assert fresh(1.0, 2.0, 0.0) == 1.0 and fresh(float("nan"), 1.0, 0.1) == 1.0


# A squat whose second level source is named with the wrong sign: it moves against the knee.
AGAINST = """\
exercise: squat-against
metrics:
  knee: {angle: [hip, knee, ankle], side: mean}
  hips: {vertical: [hip, ankle], side: mean}
  low: {level: [-knee, hips], min_range: [30, 0.3]}
states:
  up: {enter: "low < 0.35"}
  down: {enter: "low > 0.65", min_time: 0.1}
rep: [up, down, up]
"""


def test_a_source_moving_against_the_first_is_left_out_only_when_the_exercise_is_known(tmp_path: Path) -> None:
    from nodes.counting.counter import WorkoutCounter

    path = tmp_path / "squat-against.yaml"
    path.write_text(AGAINST)
    frames = list(keypoints_sequence(Take("squat", reps=6, seed=5)))
    known, candidate = WorkoutCounter(spec.load(str(path)), known=True), WorkoutCounter(spec.load(str(path)))
    for t, kp in frames:
        values, blocked, _ = known.step(kp, t)
        candidate.step(kp, t)
    # Counted on the knee alone, and the record says which source was left out.
    assert known.reps == 6 and known.record(values, blocked)["left_out"] == {"low": ["hips"]}
    # As one candidate among others the disagreement is evidence against it: the sources cancel.
    assert candidate.reps == 0 and "left_out" not in candidate.record(values, blocked)


# -- workout files ------------------------------------------------------------------------------

LEVEL_BASE = """\
exercise: test
metrics:
  knee: {angle: [hip, knee, ankle]}
  low: {level: [-knee], min_range: 30}
states:
  up: {enter: "low < 0.35"}
  down: {enter: "low > 0.65"}
rep: [up, down, up]
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("level: [-knee]", "level: [-kne]", 4, "level of unknown metric 'kne'"),
        ("min_range: 30", "min_range: [30, 1]", 4, "min_range must be a number >= 0 or one per level source (1)"),
        ("angle: [hip, knee, ankle]}", "angle: [hip, knee, ankle], window: 3}", 3, "'window' belongs to a level"),
        ("min_range: 30", "min_range: 30, median: fast", 4, "median must be a number of seconds"),
        ("rep: [up, down, up]", "rep: [up, down, up]\nmin_rep_time: -1", 9, "min_rep_time must be a number of seconds"),
    ],
)
def test_level_mistakes_name_file_and_line(tmp_path: Path, old: str, new: str, line: int, message: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(LEVEL_BASE.replace(old, new))
    with pytest.raises(GraphError) as err:
        spec.load(str(path))
    assert err.value.where == f"{path}:{line}"
    assert message in err.value.message


def test_cycles_faster_than_min_rep_time_are_not_counted_and_records_say_so(tmp_path: Path) -> None:
    workout = tmp_path / "slow-squat.yaml"
    workout.write_text(Path(spec.find("squat")).read_text() + "min_rep_time: 5\n")
    node = RepCounter("reps", {"exercise": str(workout)})
    node.setup()
    record: dict = {}
    for seq, (t, kp) in enumerate(keypoints_sequence(Take("squat", reps=3, seed=1), "blazepose33")):
        node.packet = Packet("s", seq, t, kp)
        record = node.process(kp)["state"]
    assert node.counter.machine.reps == 0 and record["not_counted_too_fast"] == 3


def test_a_file_that_is_not_numpy_at_all_is_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "notes.npy"
    path.write_text("squats on monday\n")
    assert main(["run", str(ROOT / "graphs" / "replay.yaml"), "-q", "--set", f"recording={path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "notes.npy: not a .npy array of numbers" in err


def test_a_deadlift_set_that_starts_with_the_bar_on_the_floor_counts_every_pull() -> None:
    from nodes.athlete.motion import phase_track

    take = Take("deadlift", reps=3, seed=2)
    frames = list(keypoints_sequence(take, "blazepose33"))
    # The set starts hinged at the bar: the frames before the first time the athlete is all the way down are cut.
    ease = [s for _, s in phase_track(take)]
    first_bottom = next(i for i in range(len(ease) - 1) if ease[i] > 0.8 and ease[i + 1] < ease[i])
    for cut, pulls in ((0, 3), (first_bottom, 3)):
        node = RepCounter("reps", {"exercise": "deadlift"})
        node.setup()
        events = []
        for seq, (t, kp) in enumerate(frames[cut:]):
            node.packet = Packet("s", seq, t, kp)
            if "rep" in (out := node.process(kp)):
                events.append(out["rep"])
        assert node.counter.machine.reps == pulls
        # A pull lasts from the bottom to standing: as long as the synthetic athlete takes to stand up.
        assert all(0.3 < e.duration < take.rep_seconds for e in events)


def test_a_range_takes_back_its_newest_value_as_if_never_seen() -> None:
    rng = np.random.default_rng(8)
    values = rng.normal(size=200)
    tracker = RangeTracker(100.0, q=0.1)
    kept = []
    for i, v in enumerate(values):
        tracker(float(v), i / 30.0)
        if i % 3 == 0:
            tracker.unlearn()
        else:
            kept.append(v)
        expected = tuple(np.quantile(kept, [0.1, 0.9])) if kept else (np.nan, np.nan)
        assert (tracker.low, tracker.high) == pytest.approx(expected, nan_ok=True)


def test_a_named_exercise_learns_its_range_only_in_position() -> None:
    from nodes.athlete.session_plan import session_keypoints
    from nodes.counting.counter import WorkoutCounter

    # Squats are out of position for push-ups (hands by the hips, upright): they are no part of the
    # push-ups' range, whose rest end standing would otherwise stretch (shoulders high above the hands).
    named = WorkoutCounter(spec.load("push-up"), known=True)
    candidate = WorkoutCounter(spec.load("push-up"))
    for t, kp in session_keypoints("squat*3"):
        assert named.step(kp, t)[1] is not None
        candidate.step(kp, t)
    assert all(b == [None, None] for b in named.metrics.calibration()["low"].values())
    # Among candidates every frame is evidence: the range learns them.
    assert all(b[0] is not None for b in candidate.metrics.calibration()["low"].values())
    for t, kp in session_keypoints("push-up*4"):
        named.step(kp, t + 100.0)
    assert named.reps == 4


# -- cadence -------------------------------------------------------------------------------------


def reference_period(x: np.ndarray, dt: float, shortest: float, longest: float, strength: float) -> float | None:
    """dominant_period for one signal, written out plainly: the unbiased autocorrelation lag by lag."""
    x = x - x.mean()
    n = len(x)
    ac = [float(np.dot(x[: n - k], x[k:])) / (n - k) / (float(np.dot(x, x)) / n) for k in range(n)]
    lo, hi = max(2, int(shortest / dt)), min(n // 2, int(longest / dt))
    peaks = [k for k in range(lo + 1, hi - 1) if ac[k] >= ac[k - 1] and ac[k] >= ac[k + 1]]
    if not peaks:
        return None
    highest = max(ac[k] for k in peaks)
    best = next(k for k in peaks if ac[k] >= 0.85 * highest)
    return best * dt if ac[best] > strength else None


@pytest.mark.parametrize("seed", range(6))
def test_dominant_period_matches_a_plain_autocorrelation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    dt, n = 1 / 30, 300
    t = np.arange(n) * dt
    period = rng.uniform(0.5, 3.5)
    x = np.sin(2 * np.pi * t / period) + rng.normal(0, 0.3, n) + 0.05 * t
    got = dominant_period([x], dt, 0.4, 4.0, 0.5)
    assert got == pytest.approx(reference_period(x, dt, 0.4, 4.0, 0.5))
    assert got == pytest.approx(period, abs=0.1 * period)


def test_no_cadence_in_noise_a_drift_or_a_single_move() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(300) / 30
    single = np.exp(-(((t - 5.0) / 0.6) ** 2))  # one squat, or picking up a bar
    for x in (rng.normal(size=300), 0.3 * t, single):
        assert dominant_period([x], 1 / 30, 0.4, 4.0, 0.5) is None
    # Two sources: the period of what they share.
    shared = np.sin(2 * np.pi * t / 1.5)
    assert dominant_period([shared + rng.normal(0, 0.5, 300), 2 * shared], 1 / 30, 0.4, 4.0, 0.5) == pytest.approx(
        1.5, abs=0.1
    )


def drifting_set(exercise: str, reps: int, rep_seconds: float, depth: float, drift: float, seed: int = 5):
    """Keypoints of a fast set whose posture drifts: each rep goes ``depth`` of the way down from
    a rest that sinks ``drift`` of the way and comes back up over 12 s (a long set's fatigue)."""
    from nodes.athlete.motion import project
    from nodes.pose.keypoints import Keypoints
    from nodes.pose.schemas import SCHEMAS

    take = Take(exercise, reps=reps, seed=seed)
    names = SCHEMAS["blazepose33"]
    rng = np.random.default_rng(seed)
    for i in range(int((2.0 + reps * rep_seconds) * 30)):
        t = i / 30
        u = (t - 1.0) / rep_seconds
        rep = depth * 0.5 * (1 - np.cos(2 * np.pi * u)) if 0 <= u < reps else 0.0
        rest = drift * 0.5 * (1 - np.cos(2 * np.pi * t / 12.0))
        xy, conf = project(take, rest + rep, names)
        xy = xy + rng.normal(0, 1.5, xy.shape)
        yield t, Keypoints("blazepose33", names, xy.astype(np.float32), conf.astype(np.float32), 0.99, take.size)


def test_a_long_fast_set_whose_posture_drifts_is_measured_rep_by_rep(monkeypatch: pytest.MonkeyPatch) -> None:
    from nodes.counting.counter import WorkoutCounter

    def counted() -> int:
        counter = WorkoutCounter(spec.load("squat"), known=True)
        for t, kp in drifting_set("squat", 30, 1.0, 0.6, 0.4):
            counter.step(kp, t)
        return counter.reps

    with_cadence = counted()
    monkeypatch.setattr(Cadence, "STRENGTH", 2.0)  # no movement repeats this clearly: the 10 s range
    without = counted()
    assert with_cadence >= 24 and without <= with_cadence / 2, (with_cadence, without)
