"""Workouts counted exactly on synthetic sets (noise, frame-time jitter, dropouts, pauses),
in every keypoint schema; gating; hold time; workout file errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from workout_helpers import count

from dataflow import GraphError, load_graph
from nodes.athlete.motion import EXERCISES, Take
from nodes.counting import spec

COUNTED = sorted(e for e in EXERCISES if e != "plank")


@pytest.mark.parametrize("schema", ["blazepose33", "mpii16", "coco17"])
@pytest.mark.parametrize("exercise", COUNTED)
def test_counts_are_exact(exercise: str, schema: str) -> None:
    for seed, reps in ((0, 5), (3, 2)):
        got, events, _ = count(exercise, Take(exercise, reps=reps, seed=seed), schema)
        assert got == reps, (exercise, schema, seed)
        assert [e.rep for e in events] == list(range(1, reps + 1))


def test_every_shipped_workout_loads_and_is_tested() -> None:
    shipped = set(spec.available())
    assert shipped == set(EXERCISES)  # every shipped workout has a synthetic motion to be tested on
    assert {"squat", "push-up", "bicep-curl", "jumping-jack", "lunge", "shoulder-press", "sit-up"} <= shipped


def test_rep_events_carry_timing_and_range() -> None:
    take = Take("squat", reps=3, rep_seconds=2.0, seed=1)
    _, events, _ = count("squat", take)
    for e in events:
        assert 0.8 < e.duration < 3.0
        assert e.range_of_motion is not None and e.range_of_motion > 60
        d = e.to_dict()
        assert d["event"] == "rep" and d["exercise"] == "squat" and d["max"] > d["min"]


def test_slow_and_fast_reps_count() -> None:
    for seconds in (0.8, 4.0):
        got, _, _ = count("push-up", Take("push-up", reps=4, rep_seconds=seconds, seed=5))
        assert got == 4, seconds


def test_push_up_gate_ignores_a_standing_person_bending_arms() -> None:
    # A standing person curling their arms bends the elbows like a push-up but is upright.
    got, _, node = count("push-up", Take("bicep-curl", reps=6, seed=2))
    assert got == 0
    assert node.counter.machine.state is None


def test_curl_does_not_count_squats() -> None:
    got, _, _ = count("bicep-curl", Take("squat", reps=4, seed=2))
    assert got == 0


def test_plank_counts_hold_time_not_reps() -> None:
    take = Take("plank", reps=1, lead_seconds=4.0, rep_seconds=2.0, pause_seconds=0.0, seed=1)
    got, _, node = count("plank", take)
    assert got == 0
    # about 4 s held before standing up and 4 s after, minus the entry delay
    assert 6.0 < node.counter.machine.hold_seconds < 8.5


def write_workout(tmp_path: Path, text: str) -> str:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    return str(path)


BASE = """\
exercise: test
metrics:
  knee:
    angle: [hip, knee, ankle]
states:
  up: {enter: "knee > 150"}
  down: {enter: "knee < 100"}
rep: [up, down, up]
"""


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (BASE.replace('"knee > 150"', '"knee > > 150"'), 6, "syntax error"),
        (BASE.replace('"knee > 150"', '"knee >> 150"'), 6, "'RShift' is not allowed"),
        (BASE.replace('"knee > 150"', '"kne > 150"'), 6, "unknown name 'kne'"),
        (BASE.replace('"knee > 150"', "\"__import__('os')\""), 6, "only abs(), min(), max() may be called"),
        (BASE.replace('"knee > 150"', '"knee.real > 1"'), 6, "'Attribute' is not allowed"),
        (BASE.replace("rep: [up, down, up]", "rep: [up, dwn, up]"), 8, "unknown state 'dwn'"),
        (BASE.replace("angle: [hip, knee, ankle]", "angle: [hip, knee]"), 4, "angle takes 3 joint names"),
        (BASE.replace("    angle:", "    angel:"), 4, "unknown key 'angel'"),
        (BASE + "colour: red\n", 9, "unknown workout key 'colour'"),
    ],
)
def test_workout_mistakes_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write_workout(tmp_path, text)
    with pytest.raises(GraphError) as err:
        spec.load(path)
    assert err.value.where == f"{path}:{line}"
    assert message in err.value.message


def test_missing_joints_are_caught_at_graph_check(tmp_path: Path) -> None:
    workout = write_workout(tmp_path, BASE.replace("angle: [hip, knee, ankle]", "distance: [nose, hip]"))
    graph = tmp_path / "g.yaml"
    graph.write_text(
        "nodes:\n  src: {type: 'testnodes:AnySource'}\n"
        "  decode: {type: decode, inputs: {tensors: src.value, crop: src.value}, "
        "params: {model: efficientpose-rt}}\n"
        f"  reps: {{type: reps, inputs: {{keypoints: decode.keypoints}}, params: {{exercise: '{workout}'}}}}\n"
    )
    with pytest.raises(GraphError) as err:
        load_graph(graph)
    assert "node 'reps' input 'keypoints'" in str(err.value)
    assert "needs nose; efficientpose-rt gives joints: head_top, upper_neck" in str(err.value)


def test_unknown_exercise_suggests(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match="did you mean 'squat'"):
        spec.load("sqat")
