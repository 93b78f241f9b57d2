"""The synthetic athlete performs a session (sets, rests, moves between exercises) as a source of
its own, and a graph chooses its source by the input (the engine's `choose`)."""

from __future__ import annotations

import ast
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SHARED

from dataflow.cli import main
from nodes.athlete.motion import Take, keypoints_sequence, phase_track, project
from nodes.athlete.session_plan import (
    Item,
    Session,
    parse_session,
    plan_for,
    session_keypoints,
    session_motion,
    session_segments,
    total_reps,
)
from nodes.pose.schemas import BLAZEPOSE_33

REPS = str(ROOT / "graphs" / "reps.yaml")
SESSION = "squat*5,rest*3s,push-up*4"


# -- session text --------------------------------------------------------------


def test_session_text_parses() -> None:
    assert parse_session(SESSION) == [Item("squat", 5), Item(None, 0, 3.0), Item("push-up", 4)]
    assert parse_session(" squat * 2 ,  rest*2.5s , lunge ") == [Item("squat", 2), Item(None, 0, 2.5), Item("lunge", 5)]
    assert parse_session("rest,Squat*1") == [Item(None, 0, 3.0), Item("squat", 1)]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("squt*5,rest*3s", ["'squt*5'", "did you mean 'squat'"]),
        ("squat*five", ["'squat*five'"]),
        ("squat*2s", ["'squat*2s'", "whole number"]),
        ("squat*0", ["'squat*0'", "at least 1"]),
        ("rest*0s", ["'rest*0s'"]),
        ("squat,,lunge", ["item 2 is empty"]),
        ("", ["empty"]),
    ],
)
def test_bad_session_text_is_one_clear_error(text: str, names: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        parse_session(text)
    message = str(info.value)
    assert "\n" not in message and "exercises: squat, push-up" in message
    for name in names:
        assert name in message, message


def test_node_params_name_the_plan() -> None:
    assert plan_for("synthetic", "lunge", 3) == plan_for("", "lunge", 3) == [Item("lunge", 3)]
    assert plan_for("synthetic:squat*2,push-up", "lunge", 3) == [Item("squat", 2), Item("push-up", 5)]
    assert plan_for("bicep-curl*1") == [Item("bicep-curl", 1)]


# -- motion and ground truth ---------------------------------------------------


def test_ground_truth_segments() -> None:
    segments = session_segments(SESSION)
    assert [(s.exercise, s.reps, s.kind) for s in segments] == [
        ("squat", 5, "exercise"),
        (None, 0, "rest"),
        (None, 0, "transition"),
        ("push-up", 4, "exercise"),
    ]
    assert segments[0].start == 0.0
    assert all(a.end == b.start and a.start < a.end for a, b in itertools.pairwise(segments))
    assert segments[1].end - segments[1].start == pytest.approx(3.0, abs=0.1)
    assert segments[2].end - segments[2].start == pytest.approx(1.0, abs=0.1)
    times = [t for t, _ in session_keypoints(SESSION)]
    assert segments[-1].start < times[-1] < segments[-1].end
    assert total_reps(segments) == 9 and total_reps(segments, "push-up") == 4
    # Same exercise again after a rest: no move between them.
    assert [s.kind for s in session_segments("squat*1,rest*1s,squat*1")] == ["exercise", "rest", "exercise"]
    assert [s.kind for s in session_segments("squat*1,lunge*1")] == ["exercise", "transition", "exercise"]


def test_one_set_is_the_single_set_it_always_was() -> None:
    take = Take("lunge", 2, seed=4, fps_jitter=0.0, torso_px=110.0)
    old = [(t, project(take, s, BLAZEPOSE_33)[0]) for t, s in phase_track(take)]
    new = list(Session([Item("lunge", 2)], Take("squat", 0, seed=4, fps_jitter=0.0, torso_px=110.0)).motion())
    assert len(old) == len(new)
    assert all(a == b.t and np.array_equal(xa, b.xy) for (a, xa), b in zip(old, new, strict=True))
    observed = list(session_keypoints("push-up*3", "coco17", seed=2))
    expected = list(keypoints_sequence(Take("push-up", 3, seed=2), "coco17"))
    assert [t for t, _ in observed] == [t for t, _ in expected]
    assert all(np.array_equal(a.xy, b.xy) for (_, a), (_, b) in zip(observed, expected, strict=True))


def _in(segment, frames) -> np.ndarray:
    """Joint positions of the frames within ``segment``: (time, xy, ...) or (time, Keypoints)."""
    rows = [xy for t, xy, *_ in frames if segment.start <= t < segment.end]
    return np.array([getattr(xy, "xy", xy) for xy in rows])


def test_rest_is_still() -> None:
    rest = session_segments(SESSION)[1]
    truth = _in(rest, session_motion(SESSION))
    assert len(truth) >= 85 and np.ptp(truth, axis=0).max() == 0.0
    noise = 1.5
    observed = _in(rest, session_keypoints(SESSION, noise_px=noise))
    assert observed.std(axis=0).max() < 2 * noise  # nothing but the observation noise
    squats = _in(session_segments(SESSION)[0], session_keypoints(SESSION, noise_px=noise))
    assert squats.std(axis=0).max() > 20 * noise


def test_moving_between_exercises_never_jumps() -> None:
    torso = 150.0
    frames = list(session_motion("squat*2,push-up*1,rest*1s,jumping-jack*1,sit-up*1", torso_px=torso))
    steps = np.array([np.linalg.norm(b.xy - a.xy, axis=1).max() for a, b in itertools.pairwise(frames)])
    assert steps.max() < 0.15 * torso  # reps themselves move up to 0.11 torso a frame; a teleport is > 2
    # ...yet the body does go from one exercise's rest pose to the next one's.
    segments = session_segments("squat*2,push-up*1", torso_px=torso)
    move = segments[1]
    assert move.kind == "transition"
    track = list(session_motion("squat*2,push-up*1", torso_px=torso))
    before = next(f.xy for f in reversed(track) if f.t < move.start)
    after = next(f.xy for f in track if f.t >= move.end)
    assert np.linalg.norm(after - before, axis=1).max() > 2 * torso


# -- the athlete as a source, chosen by the graph --------------------------------


def test_video_source_knows_nothing_of_workouts() -> None:
    tree = ast.parse((ROOT / "nodes" / "video.py").read_text())
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if "workout" in m]
    assert "synthetic" not in (ROOT / "nodes" / "video.py").read_text()


def test_session_input_counts_its_reps(tmp_path: Path, monkeypatch) -> None:
    if (SHARED / "models").exists():
        monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED / "models"))
    summary = tmp_path / "s.json"
    args = ["run", REPS, "-q", "--summary-json", str(summary), "--set", f"out={tmp_path / 'r.jsonl'}"]
    args += ["--set", "input=synthetic:squat*2", "--set", "exercise=squat"]
    assert main(args) == 0
    assert json.loads(summary.read_text())["reps"] == 2


def test_input_chooses_the_source(capsys) -> None:
    for sets, kind in (
        (["input=synthetic:squat*5,rest*3s,push-up*4"], "athlete"),
        (["input=synthetic", "exercise=push-up", "source.reps=3"], "athlete"),
        (["input=clip.mp4", "source.max_frames=3"], "video"),
    ):
        args = ["graph", REPS, "--format", "dot"]
        for s in sets:
            args += ["--set", s]
        assert main(args) == 0
        assert f'"source" [label="source\\n{kind}"]' in capsys.readouterr().out


def test_bad_session_is_one_line_and_fails(subprocess_env) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dataflow", "run", REPS, "--set", "input=synthetic:squat*2,jumping-jax*3"],
        capture_output=True,
        text=True,
        env=subprocess_env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "pose_pipeline.yaml:" in lines[0] and "node 'source'" in lines[0] and "'jumping-jax*3'" in lines[0]


def test_synthetic_keypoints_perform_a_session(graph_file, tmp_path: Path) -> None:
    out = tmp_path / "k.jsonl"
    path = graph_file(
        "nodes:\n  kp: {type: synthetic_keypoints, params: {session: 'squat*1,rest*1s,lunge*1', seed: 3}}\n"
        f"  sink: {{type: jsonl, inputs: {{value: kp.keypoints}}, params: {{path: '{out}'}}}}\n"
    )
    assert main(["run", str(path), "-q"]) == 0
    expected = list(session_keypoints("squat*1,rest*1s,lunge*1", seed=3))
    assert len(out.read_text().splitlines()) == len(expected)


# -- the engine's `choose` -------------------------------------------------------

CHOOSE = """\
params:
  mode: double
nodes:
  src:
    type: counter
    params: {count: 3}
  op:
    choose: "${mode}"
    cases:
      - match: [double, "twice*"]
        type: scale
        params: {factor: 2}
      - match: plus-*
        type: add
    inputs: {value: src.value}
  sink:
    type: discard
    inputs: {value: op.value}
"""


def test_choose_picks_the_first_matching_case(graph_file, capsys) -> None:
    path = str(graph_file(CHOOSE))
    assert main(["graph", path, "--format", "dot"]) == 0
    assert '"op" [label="op\\nscale"]' in capsys.readouterr().out
    assert main(["graph", path, "--format", "dot", "--set", "mode=twice-over", "--set", "op.offset=1"]) == 0
    assert '"op" [label="op\\nscale"]' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "sets", "expected"),
    [
        (CHOOSE, ["mode=triple"], ["g.yaml:8:", "node 'op'", "no case matches 'triple'", "double, twice*, plus-*"]),
        (CHOOSE, ["mode=plus-one"], ["g.yaml:15:", "node 'op' (add) has no input port 'value'"]),
        (CHOOSE.replace("type: add", "type: ad"), [], ["g.yaml:14:", "unknown node type 'ad'", "did you mean 'add'"]),
        (CHOOSE.replace("      - match: plus-*", "      - mach: plus-*"), [], ["g.yaml:13:", "unknown key 'mach'"]),
        (CHOOSE.replace("  op:\n", "  op:\n    type: scale\n"), [], ["g.yaml:8:", "give 'type' in each case"]),
        (CHOOSE.replace("    cases:", "    kases:"), [], ["g.yaml:", "'choose' needs 'cases'"]),
        (CHOOSE, ["op.factr=3"], ["--set op.factr", "node 'op' (scale): unknown param 'factr'"]),
    ],
)
def test_choose_mistakes_are_one_line(graph_file, capsys, text: str, sets: list[str], expected: list[str]) -> None:
    args = ["validate", str(graph_file(text))]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    for part in expected:
        assert part in lines[0], (part, lines[0])
