"""Pose benchmark: graphs/pose.yaml fps on a clip next to the model alone and MediaPipe Pose
(the peer, in its own virtual environment), their landmark agreement, and decoder costs.

Prints one JSON object as its last line.
Run: DATAFLOW_MODELS=../shared/models python bench/pose.py [--clip PATH] [--rounds N] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / "bench" / ".peer-venv"
sys.path.insert(0, str(ROOT))

from dataflow import load_graph  # noqa: E402
from dataflow.runtime import Runtime  # noqa: E402
from nodes.pose import zoo  # noqa: E402
from nodes.pose.backends import open_backend  # noqa: E402
from nodes.pose.kernels import blazepose_landmarks, heatmap_peaks  # noqa: E402


def ours(clip: Path, out: Path, extra: list[str]) -> dict:
    graph = load_graph(ROOT / "graphs" / "pose.yaml", [f"input={clip}", f"out={out}", *extra])
    rt = Runtime(graph)
    rt.setup()
    result = rt.run(handle_signals=False)
    assert result.exit_code == 0, result.failure
    return result.summary


def model_alone(n: int = 200) -> float:
    _, path = zoo.resolve("blazepose-full", ("tflite", "onnx"))
    backend = open_backend("openvino", path, "CPU", "f32", 0)
    x = np.random.default_rng(0).random(backend.input_shape, dtype=np.float32)
    for _ in range(10):
        backend.infer(x)
    t0 = time.perf_counter()
    for _ in range(n):
        backend.infer(x)
    return (time.perf_counter() - t0) / n * 1e3


def ensure_peer() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mediapipe==0.10.14", "numpy<2"], check=True)
    return python


def peer(python: Path, clip: Path, out: Path) -> dict:
    subprocess.run([str(python), str(ROOT / "bench" / "peer_mediapipe.py"), str(clip), str(out)], check=True)
    return json.loads(out.read_text())


def agreement(ours_path: Path, peer_landmarks: list) -> float:
    """Mean landmark distance / torso length over frames where both found the person."""
    rows = [json.loads(line)["keypoints"] for line in ours_path.read_text().splitlines()]
    dists = []
    for row, theirs in zip(rows, peer_landmarks, strict=False):
        if theirs is None or row["presence"] < 0.5:
            continue
        a = np.array([v[:2] for v in row["joints"].values()])
        b = np.array(theirs)[:, :2]
        torso = np.linalg.norm((b[11] + b[12]) / 2 - (b[23] + b[24]) / 2)
        dists.append(np.linalg.norm(a - b, axis=1).mean() / torso)
    return float(np.mean(dists)) if dists else float("nan")


def decoder_costs() -> dict:
    rng = np.random.default_rng(0)
    maps = rng.random((224, 224, 16), dtype=np.float32)
    raw = rng.uniform(0, 256, 195).astype(np.float32)
    heat = rng.normal(0, 2, (64, 64, 39)).astype(np.float32)
    heatmap_peaks(maps)
    blazepose_landmarks(raw, heat, 256.0, 7, 0.5)

    def per_call(fn, n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e3

    heatmap_ms = per_call(lambda: heatmap_peaks(maps), 300)
    landmarks_ms = per_call(lambda: blazepose_landmarks(raw, heat, 256.0, 7, 0.5), 3000)
    return {
        "efficientpose_heatmap_224x224x16_ms": round(heatmap_ms, 4),
        "blazepose_landmarks_refine_ms": round(landmarks_ms, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", default=str(ROOT.parent / "shared" / "videos" / "squat-3.mp4"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    clip = Path(args.clip)
    report: dict = {"cores": os.cpu_count(), "clip": clip.name}
    python = None if args.no_peer else ensure_peer()
    ours_fps, async_fps, peer_fps, agree, agree_async, alone = [], [], [], [], [], []
    live = ["feedback=latest", "pose.requests=3"]  # frames in flight, as for a camera
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            alone.append(model_alone())
            out = Path(tmp) / f"ours{r}.jsonl"
            ours_fps.append(ours(clip, out, [])["fps"])
            out_async = Path(tmp) / f"async{r}.jsonl"
            async_fps.append(ours(clip, out_async, live)["fps"])
            if python is not None:
                theirs = peer(python, clip, Path(tmp) / f"peer{r}.json")
                peer_fps.append(theirs["fps"])
                agree.append(agreement(out, theirs["landmarks"]))
                agree_async.append(agreement(out_async, theirs["landmarks"]))
    # The fastest model-alone round: the strictest reference for the pipeline's ratio.
    report["model_alone_ms"] = round(min(alone), 3)
    report["model_alone_ms_runs"] = [round(a, 3) for a in alone]
    report["model_alone_fps"] = round(1e3 / report["model_alone_ms"], 2)
    report["pose_fps"] = round(float(np.median(ours_fps)), 2)
    report["pose_fps_runs"] = [round(f, 2) for f in ours_fps]
    report["pose_vs_model_alone"] = round(report["pose_fps"] / report["model_alone_fps"], 3)
    report["pose_fps_async"] = round(float(np.median(async_fps)), 2)
    report["pose_async_config"] = " ".join(live)
    report["pose_async_vs_model_alone"] = round(report["pose_fps_async"] / report["model_alone_fps"], 3)
    if peer_fps:
        report["peer_mediapipe_fps"] = round(float(np.median(peer_fps)), 2)
        report["pose_vs_peer"] = round(report["pose_fps"] / report["peer_mediapipe_fps"], 3)
        report["agreement_torso_normalized"] = round(float(np.median(agree)), 4)
        report["agreement_torso_normalized_async"] = round(float(np.median(agree_async)), 4)
        report["pose_async_vs_peer"] = round(report["pose_fps_async"] / report["peer_mediapipe_fps"], 3)
    report.update(decoder_costs())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
