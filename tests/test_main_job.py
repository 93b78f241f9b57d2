"""The main job, graphs/reps.yaml: the default run on the synthetic athlete, and the checked
rep counts of the real clips (skipped without ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, SHARED

from dataflow.cli import main

REPS = str(ROOT / "graphs" / "reps.yaml")
VIDEOS = SHARED / "videos"
needs_shared = pytest.mark.skipif(not VIDEOS.exists(), reason="../shared/videos is absent")


def run_reps(tmp_path: Path, *sets: str) -> dict:
    summary = tmp_path / "s.json"
    args = ["run", REPS, "-q", "--summary-json", str(summary), "--set", f"out={tmp_path / 'r.jsonl'}"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    return json.loads(summary.read_text())


def models_env(monkeypatch) -> None:
    if (SHARED / "models").exists():
        monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED / "models"))


@pytest.mark.parametrize("exercise", ["squat", "push-up"])
def test_default_input_is_the_synthetic_athlete(tmp_path: Path, monkeypatch, exercise: str) -> None:
    models_env(monkeypatch)
    s = run_reps(tmp_path, f"exercise={exercise}", "source.reps=3")
    assert s["exercise"] == exercise and s["reps"] == 3
    assert {"frames", "seconds", "fps", "duration", "mean_energy", "peak_energy"} <= set(s)
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    frames = [r for r in rows if "seq" in r]
    assert len(frames) == s["frames"] and all("energy" in r and "state" in r for r in frames)
    assert sum(1 for r in rows if r.get("event") == "rep") == 3


def test_default_run_recognizes_each_exercise_of_the_athletes_session(tmp_path: Path, monkeypatch) -> None:
    # The main job as README's first command runs it: exercise auto, the athlete's session.
    models_env(monkeypatch)
    s = run_reps(tmp_path)
    assert {k: v["reps"] for k, v in s["exercises"].items()} == {"squat": 5, "push-up": 4}
    assert s["exercise"] == "squat" and s["reps"] == 5
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    events = [(r["exercise"], r["rep"]) for r in rows if r.get("event") == "rep"]
    # A decision revised within a bout leaves its events in the stream; the last word comes last.
    assert events[:5] == [("squat", n) for n in range(1, 6)]
    assert events[-4:] == [("push-up", n) for n in range(1, 5)]
    frames = [r for r in rows if "seq" in r]
    assert frames[0]["exercise"] is None  # not sure yet: it says so
    assert {r["exercise"] for r in frames} >= {"squat", "push-up"}


CLIPS = [("squat-3.mp4", "squat", 3), ("pushup-4.mp4", "push-up", 4), ("pushup-5-portrait.mp4", "push-up", 5)]


@needs_shared
@pytest.mark.parametrize(("clip", "exercise", "reps"), CLIPS)
def test_real_clips_are_recognized_and_counted_exactly(
    tmp_path: Path, monkeypatch, clip: str, exercise: str, reps: int
) -> None:
    models_env(monkeypatch)
    s = run_reps(tmp_path, f"input={VIDEOS / clip}", "exercise=auto")
    assert s["exercise"] == exercise and s["reps"] == reps
    assert {k: v["reps"] for k, v in s["exercises"].items()} == {exercise: reps}


@needs_shared
@pytest.mark.parametrize(("clip", "exercise", "reps"), CLIPS)
def test_real_clips_count_exactly(tmp_path: Path, monkeypatch, clip: str, exercise: str, reps: int) -> None:
    models_env(monkeypatch)
    s = run_reps(tmp_path, f"input={VIDEOS / clip}", f"exercise={exercise}")
    assert s["reps"] == reps
    labels = (VIDEOS / "labels.yaml").read_text()
    assert f"reps: {reps}" in labels


# pushup-4 is left out: it opens with 2 s of blurred title frames where MediaPipe finds nobody; the
# tracker follows the blurred body there, and whether lifting into position counts as a rep turns on
# the backends' last digits (OpenVINO: 4 reps at 1, 2 and 3 frames in flight; ONNX Runtime: 5 at 2).
@needs_shared
@pytest.mark.parametrize(("clip", "exercise", "reps"), [("squat-3", "squat", 3), ("pushup-5-portrait", "push-up", 5)])
def test_counts_stay_exact_on_onnxruntime(tmp_path: Path, monkeypatch, clip: str, exercise: str, reps: int) -> None:
    models_env(monkeypatch)
    s = run_reps(tmp_path, f"input={VIDEOS / f'{clip}.mp4'}", f"exercise={exercise}", "pose.backend=onnxruntime")
    assert s["reps"] == reps


@needs_shared
def test_counts_stay_exact_with_realtime_pacing(tmp_path: Path, monkeypatch) -> None:
    models_env(monkeypatch)
    s = run_reps(tmp_path, f"input={VIDEOS / 'squat-3.mp4'}", "exercise=squat", "realtime=true", "feedback=latest")
    assert s["reps"] == 3
    assert s["seconds"] > 10.0  # paced at the clip's 30 fps
