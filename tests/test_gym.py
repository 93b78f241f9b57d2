"""A gym floor: several people in one frame, each tracked, recognized and counted on their own
(graphs/gym.yaml); people=1 keeps the one-person path; bad input is one line, exit 2."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conftest import SHARED
from gym_helpers import athlete, clip, counted_by_place, crossing, side_by_side, write_video

import dataflow
from dataflow.cli import main

VIDEOS = SHARED / "videos"
needs_shared = pytest.mark.skipif(not (VIDEOS / "squat-3.mp4").exists(), reason="../shared/videos is absent")


def gym(tmp_path: Path, video: Path, *sets: str) -> tuple[dict, Path]:
    """Run graphs/gym.yaml on a video; the summary and the records file."""
    records = tmp_path / "reps.jsonl"
    result = dataflow.run("graphs/gym.yaml", [f"input={video}", f"out={records}", "session.print=false", *sets])
    assert result.exit_code == 0, result.failure and result.failure.line()
    return result.summary, records


def test_two_rendered_athletes_doing_different_sessions_are_two_people_each_counted(tmp_path: Path) -> None:
    video = tmp_path / "two.mp4"
    write_video(video, side_by_side(athlete("squat*3"), athlete("push-up*4", seed=1)))
    summary, records = gym(tmp_path, video, "people=2")
    assert counted_by_place(summary, records) == [("squat", 3), ("push-up", 4)]
    ids = sorted(p["id"] for p in summary["people"])
    assert len(ids) == 2
    for person in summary["people"]:
        assert person["first_seen"] < 1.0 < person["last_seen"]
        assert {e["person"] for e in person["rep_events"]} == {person["id"]}
    # Every record names its person, and each person's reps rise only in their own records.
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    assert {r["person"] for r in rows} == set(ids)
    final = {p: max(r.get("reps", 0) for r in rows if r["person"] == p and "reps" in r) for p in ids}
    assert sorted(final.values()) == [3, 4]


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["people=0"], "param 'people' must be >= 1, got 0"),
        (["people=2", "track.forget=-1"], "param 'forget' must be >= 0, got -1"),
        (["people=11"], "people=11, but the detector finds at most 10 people in a frame"),
    ],
)
def test_bad_people_settings_are_one_line_and_exit_2(
    sets: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "graphs/gym.yaml", "--set", "input=synthetic"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_people_1_is_the_one_person_path_and_several_the_people_path() -> None:
    one = dataflow.load_graph("graphs/reps.yaml", ["input=synthetic"])
    types = [one.nodes[n].type_name for n in ("roi", "crop", "pose", "decode")]
    assert types == ["pose_roi", "crop", "model", "decode"]
    assert one.nodes["keypoints"].inputs["value"].src == "decode"
    many = dataflow.load_graph("graphs/reps.yaml", ["input=synthetic", "people=3"])
    types = [many.nodes[n].type_name for n in ("roi", "crop", "pose", "decode", "track")]
    assert types == ["people_roi", "people_crop", "people_model", "people_decode", "people_track"]
    assert many.nodes["keypoints"].inputs["value"].src == "track"


def composite(tmp_path: Path, name: str, *clips: str) -> Path:
    video = tmp_path / name
    write_video(video, side_by_side(*(clip(VIDEOS / c) for c in clips)))
    return video


@needs_shared
@pytest.mark.parametrize(
    ("clips", "expected"),
    [
        (("squat-3.mp4", "pushup-4.mp4"), [("squat", 3), ("push-up", 4)]),
        (("pushup-4.mp4", "squat-3.mp4"), [("push-up", 4), ("squat", 3)]),
    ],
)
def test_two_shared_clips_side_by_side_are_each_counted(
    tmp_path: Path, clips: tuple[str, str], expected: list[tuple[str, int]]
) -> None:
    summary, records = gym(tmp_path, composite(tmp_path, "pair.mp4", *clips), "people=2")
    assert counted_by_place(summary, records) == expected


@needs_shared
def test_one_clip_ending_early_leaves_the_other_counted_and_its_person_forgotten(tmp_path: Path) -> None:
    """squat-3 is the shorter clip: black after it ends while the push-ups go on."""
    summary, records = gym(tmp_path, composite(tmp_path, "early.mp4", "squat-3.mp4", "pushup-4.mp4"), "people=2",
                           "track.forget=1")  # fmt: skip
    assert counted_by_place(summary, records) == [("squat", 3), ("push-up", 4)]
    squat = next(p for p in summary["people"] if p["exercise"] == "squat")
    pushup = next(p for p in summary["people"] if p["exercise"] == "push-up")
    assert squat["last_seen"] < pushup["last_seen"] - 1.0


def test_someone_crossing_in_front_takes_neither_the_id_nor_the_count_of_the_person_hidden(tmp_path: Path) -> None:
    """Push-ups slide across in front of the squats (hiding them for about a second, during both
    people's rest): each keeps one id and their own count."""
    video = tmp_path / "cross.mp4"
    squats, pushups = athlete("squat*2,rest*4s,squat*2"), athlete("push-up*2,rest*4s,push-up*2", seed=1)
    write_video(video, crossing(squats, pushups, start=3.5, end=7.0))
    summary, records = gym(tmp_path, video, "people=2")
    people = {p["exercise"]: p for p in summary["people"]}
    assert sorted((p["exercise"], p["reps"]) for p in summary["people"]) == [("push-up", 4), ("squat", 4)]
    squat = people["squat"]
    assert {e["person"] for e in squat["rep_events"]} == {squat["id"]}
    # The squats were hidden on the way (no record of them for a while) and counted again after.
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    seen = sorted(r["timestamp"] for r in rows if r.get("person") == squat["id"] and "timestamp" in r)
    assert max(b - a for a, b in itertools.pairwise(seen)) > 0.3
    assert sum(e["end"] > 7.0 for e in squat["rep_events"]) == 2
