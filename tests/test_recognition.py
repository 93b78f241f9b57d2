"""Exercise recognition: feature kernels against plain references, the classifier's inference,
and exercise=auto on synthetic sessions (several exercises, rests, people who do not exercise)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from dataflow.cli import main
from nodes.athlete.session_plan import parse_session, session_keypoints
from nodes.recognition import movement, pose_classifier
from nodes.recognition.pose_classifier import PoseClassifier
from nodes.sinks.sinks import SessionSummary

STAGES = ROOT / "graphs" / "parts" / "workout_stages.yaml"


def _pose(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 500, (12, 2))


def test_frame_features_match_a_plain_computation() -> None:
    rng = np.random.default_rng(1)
    xy = _pose(rng)
    f = movement.frame_features(xy[None], np.ones((1, 12), bool))[0]
    lo, hi = xy.min(0), xy.max(0)
    box = (xy - lo) / (hi - lo)
    assert np.allclose(f[:12], box[:, 0]) and np.allclose(f[12:24], box[:, 1])
    for k, (a, b, c) in enumerate(movement.ANGLES):
        v1, v2 = box[a] - box[b], box[c] - box[b]
        angle = math.acos(np.dot(v1, v2) / np.linalg.norm(v1) / np.linalg.norm(v2)) / math.pi
        assert f[24 + k] == pytest.approx(angle, abs=1e-9)


def test_level_and_pose_agreement_is_the_correlation_of_a_plain_computation() -> None:
    from nodes.recognition.recognition import Recognizer, _Bout

    rec = Recognizer(["squat", "push-up", "front-raise"], pose_classifier.load())
    rng = np.random.default_rng(3)
    bout = _Bout(since=0.0, counters={})
    phase = np.linspace(0, 6 * np.pi, 60)
    levels = np.stack([0.5 - 0.5 * np.cos(phase), rng.uniform(0, 1, 60), np.full(60, np.nan)], axis=1)
    leaning = np.stack([-np.cos(phase) * 0.8 + rng.normal(0, 0.1, 60), rng.uniform(-1, 1, 60), np.zeros(60)], axis=1)
    for lv, ln in zip(levels, leaning, strict=True):
        far = (1 + ln) / 2
        rec._add_sync(bout, lv, np.stack([(1 - far) * 0.5, far * 0.5], axis=1))
    sync = rec._sync_scores(bout)
    expected = [abs(np.corrcoef(levels[:, i], leaning[:, i])[0, 1]) for i in range(2)]
    assert sync[:2] == pytest.approx(expected, abs=1e-3)
    assert sync[0] > 0.9 and sync[1] < 0.4
    assert sync[2] == 0.0  # a candidate with no level metric value: no evidence either way


def test_mirrored_features_are_the_features_of_the_mirror_image() -> None:
    rng = np.random.default_rng(2)
    xy = _pose(rng)
    mirror = xy * [-1, 1]
    swapped = mirror[movement.MIRROR]  # the person's left is now on the other side
    seen = np.ones((1, 12), bool)
    f = movement.frame_features(xy[None], seen)
    g = movement.frame_features(swapped[None], seen)
    assert np.allclose(movement.mirrored(f), g)
    assert np.allclose(movement.mirrored(movement.mirrored(f)), f)


def test_unseen_joints_give_nan_features() -> None:
    rng = np.random.default_rng(3)
    xy = np.stack([_pose(rng) for _ in range(10)])
    seen = np.ones((10, 12), bool)
    seen[:, movement.JOINTS.index("left_wrist")] = False
    seen[4] = False  # no person in one frame
    f = movement.frame_features(xy, seen)
    assert np.isnan(f[:, movement.JOINTS.index("left_wrist")]).all() and np.isnan(f[4]).all()
    assert np.isfinite(np.delete(f, 4, axis=0)[:, movement.JOINTS.index("right_wrist")]).all()


def test_classifier_inference_matches_a_plain_mlp() -> None:
    rng = np.random.default_rng(4)
    n, hidden = movement.FEATURES, 5
    member = {"weights": [rng.normal(size=(n, hidden)).tolist(), rng.normal(size=(hidden, 4)).tolist()],
              "biases": [rng.normal(size=hidden).tolist(), rng.normal(size=4).tolist()]}  # fmt: skip
    model = {"features": n, "workouts": ["a", "b"], "mean": [0.5] * n, "std": [2.0] * n, "members": [member] * 2}
    clf = PoseClassifier(model)
    x = rng.uniform(0, 1, (3, n))
    p = clf.probabilities(x)
    for row, got in zip(x, p, strict=True):
        h = np.maximum(((row - 0.5) / 2.0) @ np.array(member["weights"][0]) + member["biases"][0], 0)
        logits = h @ np.array(member["weights"][1]) + member["biases"][1]
        expect = np.exp(logits) / np.exp(logits).sum()
        assert np.allclose(got.ravel(), expect, atol=1e-5)
    with pytest.raises(ValueError, match="features"):
        PoseClassifier({**model, "features": n + 1})


def _skeletons(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 12, 3) limb joints of one body (fixed bone lengths) in random postures and headings."""
    torso = {}  # shoulders and hips: fixed places
    limbs = []  # (joint, parent, bone length), every parent before its children
    for side, dx in (("left", 20.0), ("right", -20.0)):
        torso[f"{side}_shoulder"] = np.array([dx, 0.0, 0.0])
        torso[f"{side}_hip"] = np.array([dx * 0.7, 50.0, 0.0])
        for parent, child, length in (("shoulder", "elbow", 30.0), ("elbow", "wrist", 27.0), ("hip", "knee", 42.0),
                                      ("knee", "ankle", 40.0)):  # fmt: skip
            limbs.append((f"{side}_{child}", f"{side}_{parent}", length))
    poses = np.zeros((n, 12, 3))
    for k in range(n):
        at = dict(torso)
        for name, parent, length in limbs:
            d = rng.normal(size=3)
            at[name] = at[parent] + length * d / np.linalg.norm(d)
        heading = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(heading), 0, np.sin(heading)], [0, 1, 0], [-np.sin(heading), 0, np.cos(heading)]])
        poses[k] = np.array([at[j] for j in movement.JOINTS]) @ rot.T
    return poses


def test_depth_scale_recovers_how_much_an_estimator_stretched_depth() -> None:
    from nodes.recognition.fit_recognizer import depth_scale

    poses = _skeletons(400, np.random.default_rng(3))
    assert depth_scale(poses) == pytest.approx(1.0, abs=0.051)
    assert depth_scale(poses * np.array([1.0, 1.0, 2.5])) == pytest.approx(0.4, abs=0.051)


def test_turned_views_are_orthographic_projections_of_the_turned_body() -> None:
    from nodes.recognition.fit_recognizer import turned

    pose = _skeletons(1, np.random.default_rng(4))
    centred = pose[0] - pose[0].mean(axis=0)
    quarter = turned(pose, np.array([np.pi / 2]), np.array([0.0]))[0]
    assert np.allclose(quarter[:, 0], centred[:, 2]) and np.allclose(quarter[:, 1], centred[:, 1])
    assert np.allclose(turned(pose, np.array([0.0]), np.array([0.0]))[0], centred[:, :2])
    tilted = turned(pose, np.array([0.0]), np.array([np.pi / 2]))[0]
    assert np.allclose(tilted[:, 1], -centred[:, 2])


def test_shipped_classifier_knows_every_shipped_workout() -> None:
    from nodes.counting import spec

    clf = pose_classifier.load()
    assert set(spec.available()) <= set(clf.workouts)
    p = clf.probabilities(np.zeros((2, movement.FEATURES)))
    assert p.shape == (2, len(clf.workouts), 2) and np.allclose(p.sum(axis=(1, 2)), 1.0, atol=1e-5)


def run_session(tmp_path: Path, session: str, *sets: str, schema: str = "blazepose33") -> tuple[dict, list[dict]]:
    graph = tmp_path / "g.yaml"
    graph.write_text(
        f"include: {STAGES}\n"
        "params: {exercise: auto}\n"
        "nodes:\n"
        f"  source: {{type: synthetic_keypoints, params: {{session: '{session}', schema: {schema}}}}}\n"
        "  keypoints: {type: passthrough, inputs: {value: source.keypoints}}\n"
    )
    summary = tmp_path / "s.json"
    args = ["run", str(graph), "-q", "--summary-json", str(summary), "--set", f"out={tmp_path / 'r.jsonl'}"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    return json.loads(summary.read_text()), rows


def reps_of(summary: dict) -> dict[str, int]:
    return {k: v["reps"] for k, v in summary["exercises"].items()}


@pytest.mark.parametrize(
    ("session", "schema", "expected"),
    [
        ("squat*5,rest*3s,push-up*4", "blazepose33", {"squat": 5, "push-up": 4}),
        ("push-up*3,lunge*4,rest*5s,front-raise*6", "coco17", {"push-up": 3, "lunge": 4, "front-raise": 6}),
        ("bench-press*4,rest*4s,tricep-pushdown*5", "mpii16", {"bench-press": 4, "tricep-pushdown": 5}),
    ],
)
def test_a_session_is_counted_per_exercise(tmp_path: Path, session: str, schema: str, expected: dict) -> None:
    summary, rows = run_session(tmp_path, session, schema=schema)
    assert reps_of(summary) == expected
    main_exercise = max(expected, key=expected.__getitem__)
    assert summary["exercise"] == main_exercise and summary["reps"] == expected[main_exercise]
    events = [r for r in rows if r.get("event") == "rep"]
    assert {e["exercise"] for e in events} == set(expected)
    frames = [r for r in rows if "seq" in r]
    # Before it is sure it says so: the first frames name no exercise.
    assert frames[0]["exercise"] is None and frames[0]["reps"] == 0


def test_standing_resting_and_small_movements_are_no_exercise(tmp_path: Path) -> None:
    summary, _ = run_session(tmp_path, "rest*20s")
    assert summary["exercises"] == {} and summary["reps"] == 0 and summary["exercise"] is None
    # Fidgeting: every workout's motion at an eighth of its range.
    summary, _ = run_session(tmp_path, "squat*6,front-raise*6,push-up*6", "source.amplitude=0.12")
    assert summary["reps"] == 0 and summary["exercises"] == {}


def test_among_narrows_the_candidates(tmp_path: Path) -> None:
    summary, _ = run_session(tmp_path, "squat*5", "recognize.among=push-up,front-raise")
    assert "squat" not in summary["exercises"]
    summary, _ = run_session(tmp_path, "squat*5", "recognize.among=squat,lunge")
    assert reps_of(summary) == {"squat": 5}


def test_an_unknown_candidate_is_one_line(tmp_path: Path, capsys) -> None:
    graph = tmp_path / "g.yaml"
    graph.write_text(
        f"include: {STAGES}\nparams: {{exercise: auto}}\nnodes:\n"
        "  source: {type: synthetic_keypoints}\n  keypoints: {type: passthrough, inputs: {value: source.keypoints}}\n"
    )
    assert main(["run", str(graph), "-q", "--set", "recognize.among=squat,sqaut"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "recognize" in err[0] and "sqaut" in err[0] and "squat" in err[0]


def test_summary_keeps_the_last_word_on_each_bout() -> None:
    node = SessionSummary("session", {"print": False})
    node.setup()
    from dataflow import Packet

    states = [
        (0, None, 0, 0),
        (0, "lunge", 1, 1),  # decided, then revised within the bout
        (0, "squat", 2, 2),
        (1, None, 0, 2),
        (1, "push-up", 3, 3),
    ]
    for seq, (bout, exercise, bout_reps, reps) in enumerate(states):
        node.packet = Packet("s", seq, float(seq), None)
        node.process({"exercise": exercise, "reps": reps, "bout": bout, "bout_reps": bout_reps}, None, None)
    s = node.summary()
    assert {k: v["reps"] for k, v in s["exercises"].items()} == {"squat": 2, "push-up": 3}
    assert s["exercise"] == "push-up" and s["reps"] == 3


def test_session_keypoints_reach_the_recognizer_in_every_schema() -> None:
    # The recognizer uses the 12 limb joints every schema has.
    plan = parse_session("squat*1")
    for schema in ("blazepose33", "coco17", "mpii16"):
        _, kp = next(iter(session_keypoints(plan, schema)))
        assert movement.joint_indices(kp.names) is not None


def _synthetic_set(exercise: str, reps: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(T, 12, 3) limb joints of a synthetic set (no depth) and each frame's ease (0 rest, 1 peak)."""
    from nodes.athlete.motion import Take, phase_track, project

    take = Take(exercise, reps)
    track = list(phase_track(take))
    xy = np.array([project(take, s, movement.JOINTS)[0] for _, s in track])
    rng = np.random.default_rng(5)
    xyz = np.concatenate([xy + rng.normal(0, 1.5, xy.shape), np.zeros((*xy.shape[:2], 1))], axis=2)
    return xyz, np.array([s for _, s in track])


@pytest.mark.parametrize("exercise", ["squat", "bicep-curl", "lateral-raise", "sit-up"])
def test_a_sequences_two_ends_are_the_rest_and_the_peak_of_its_reps(exercise: str) -> None:
    from nodes.recognition.fit_recognizer import sequence_extremes

    xyz, ease = _synthetic_set(exercise)
    xyz[5:9] = 0.0  # frames without a person are never picked
    ends = sequence_extremes(xyz[..., :2], np.any(xyz != 0, axis=2))
    assert all(len(e) > 0 for e in ends) and not set(range(5, 9)) & {int(i) for e in ends for i in e}
    lows, highs = sorted((ease[e].mean(), e) for e in ends)
    assert ease[lows[1]].max() < 0.3 and ease[highs[1]].min() > 0.7


def test_a_sequences_ends_are_labelled_rest_and_far_whichever_way_it_varies() -> None:
    from nodes.recognition.fit_recognizer import add_sequence

    xyz, ease = _synthetic_set("squat")
    for seq in (xyz, xyz[::-1]):
        poses: list = []
        labels: list = []
        added = add_sequence(poses, labels, "squat", seq)
        assert added == len(poses) == len(labels) > 0
        picked = [np.flatnonzero(np.all(seq == p, axis=(1, 2)))[0] for p in poses]
        order = ease if seq is xyz else ease[::-1]
        rest = [order[i] for i, (_, end) in zip(picked, labels, strict=True) if end == 0]
        far = [order[i] for i, (_, end) in zip(picked, labels, strict=True) if end == 1]
        assert {w for w, _ in labels} == {"squat"} and max(rest) < 0.3 and min(far) > 0.7
