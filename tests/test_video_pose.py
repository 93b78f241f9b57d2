"""Frame sources, and the pose graph on real clips (skipped without ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, SHARED

import dataflow
from dataflow.cli import main

CLIP = SHARED / "videos" / "squat-3.mp4"
needs_shared = pytest.mark.skipif(not CLIP.exists(), reason="../shared/videos is absent")


def write_clip(path: Path, frames: int = 12, fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 48))
    for i in range(frames):
        img = np.full((48, 64, 3), i * 20 % 255, np.uint8)
        writer.write(img)
    writer.release()
    return path


def collect_graph(tmp_path: Path, source_params: str) -> Path:
    g = tmp_path / "g.yaml"
    g.write_text(
        f"nodes:\n  src: {{type: video, params: {source_params}}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: src.frame}}\n"
    )
    return g


def test_video_file_frames_keep_seq_and_container_timestamps(tmp_path: Path) -> None:
    import testnodes

    clip = write_clip(tmp_path / "c.mp4")
    result = dataflow.run(str(collect_graph(tmp_path, f"{{input: '{clip}'}}")))
    got = testnodes.RECEIVED["out"]
    assert result.exit_code == 0 and len(got) == 12
    assert [s for _, s, _ in got] == list(range(12))
    assert got[0][2].shape == (48, 64, 3)


def test_image_folder_source(tmp_path: Path) -> None:
    import testnodes

    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((10, 20, 3), i, np.uint8))
    dataflow.run(str(collect_graph(tmp_path, f"{{input: '{tmp_path}/*.png'}}")))
    assert [int(v[0, 0, 0]) for _, _, v in testnodes.RECEIVED["out"]] == [0, 1, 2]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: (d / "notes.mp4").write_text("hello") and d / "notes.mp4", "is not a video file"),
        (lambda d: d / "none" / "*.png", "no images match"),
        (lambda d: 7, "camera 7 cannot be opened"),
    ],
)
def test_bad_inputs_are_one_line(tmp_path: Path, capsys, make, message: str) -> None:
    target = make(tmp_path)
    g = collect_graph(tmp_path, f"{{input: '{target}'}}")
    code = main(["run", str(g), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def keypoint_rows(path: Path) -> list[dict]:
    return [json.loads(line)["keypoints"] for line in path.read_text().splitlines()]


def torso(kp: dict) -> float:
    j = kp["joints"]
    sh = (np.array(j["left_shoulder"][:2]) + np.array(j["right_shoulder"][:2])) / 2
    hip = (np.array(j["left_hip"][:2]) + np.array(j["right_hip"][:2])) / 2
    return float(np.linalg.norm(sh - hip))


@needs_shared
def test_pose_graph_tracks_the_person_and_backends_agree(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED / "models"))
    graph = str(ROOT / "graphs" / "pose.yaml")
    ov_out, ort_out = tmp_path / "ov.jsonl", tmp_path / "ort.jsonl"
    sets = [f"input={CLIP}"]
    assert main(["run", graph, "-q", "--set", f"out={ov_out}", *(f"--set={s}" for s in sets)]) == 0
    assert (
        main(["run", graph, "-q", "--set", f"out={ort_out}", "--set", "pose.backend=onnxruntime", f"--set={sets[0]}"])
        == 0
    )
    ov, ort = keypoint_rows(ov_out), keypoint_rows(ort_out)
    assert len(ov) == len(ort) == 322
    found = np.mean([r["presence"] >= 0.5 for r in ov])
    assert found >= 0.95
    dists = []
    for a, b in zip(ov, ort, strict=True):
        if a["presence"] < 0.5 or b["presence"] < 0.5:
            continue
        pa = np.array([v[:2] for v in a["joints"].values()])
        pb = np.array([v[:2] for v in b["joints"].values()])
        dists.append(np.linalg.norm(pa - pb, axis=1).mean() / torso(a))
    assert np.mean(dists) < 0.03


@needs_shared
def test_swapping_to_efficientpose_needs_no_other_edit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED / "models"))
    out = tmp_path / "ep.jsonl"
    code = main(
        [
            "run",
            str(ROOT / "graphs" / "pose.yaml"),
            "-q",
            "--set",
            f"input={CLIP}",
            "--set",
            f"out={out}",
            "--set",
            "pose.model=efficientpose-rt",
            "--set",
            "source.max_frames=30",
        ]
    )
    assert code == 0
    rows = keypoint_rows(out)
    assert len(rows) == 30 and rows[0]["schema"] == "efficientpose-rt"
    assert set(rows[0]["joints"]) >= {"head_top", "pelvis", "left_knee"}
