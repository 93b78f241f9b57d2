"""Visual and tabular sinks: annotated video, window without a display, CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2

from dataflow.cli import main

GRAPH = """\
nodes:
  athlete: {type: athlete, params: {exercise: squat, reps: 1}}
  reps: {type: reps, inputs: {keypoints: athlete.truth}, params: {exercise: squat}}
  energy: {type: energy, inputs: {keypoints: athlete.truth}}
  %s
"""


def test_annotated_video_has_every_frame(tmp_path: Path) -> None:
    out = tmp_path / "a.mp4"
    g = tmp_path / "g.yaml"
    g.write_text(GRAPH % (
        "video: {type: annotate, inputs: {frame: athlete.frame, keypoints: athlete.truth, state: reps.state, "
        f"energy: energy.energy}}, params: {{path: '{out}'}}}}"
    ))  # fmt: skip
    assert main(["run", str(g), "-q"]) == 0
    cap = cv2.VideoCapture(str(out))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) > 60
    ok, frame = cap.read()
    assert ok and frame.shape == (480, 640, 3)


def test_window_without_display_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    g = tmp_path / "g.yaml"
    g.write_text(GRAPH % "win: {type: window, inputs: {frame: athlete.frame}}")
    assert main(["run", str(g), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no display here" in err and len(err.splitlines()) == 1


def test_csv_records(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    g = tmp_path / "g.yaml"
    g.write_text(GRAPH % (
        "rec: {type: records, inputs: {keypoints: athlete.truth, state: reps.state, energy: energy.energy}, "
        f"params: {{path: '{out}'}}}}"
    ))  # fmt: skip
    assert main(["run", str(g), "-q"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) > 60
    assert {"seq", "timestamp", "state", "reps", "energy", "knee", "left_knee_x"} <= set(rows[0])
    assert rows[-1]["reps"] == "1"
