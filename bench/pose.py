"""Pose benchmark: graphs/pose.yaml fps on a clip next to the model alone and MediaPipe Pose
(the peer, in its own virtual environment), their landmark agreement, and decoder costs.

Prints one JSON object as its last line.
Run: DATAFLOW_MODELS=../shared/models python bench/pose.py [--clip PATH] [--rounds N] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ours(clip: Path, out: Path, extra: list[str], graph_path: Path = ROOT / "graphs" / "pose.yaml") -> dict:
    """The graph's summary, plus the CPU time (all threads) it spent per frame."""
    graph = load_graph(graph_path, [f"input={clip}", f"out={out}", *extra])
    rt = Runtime(graph)
    rt.setup()
    c0 = cpu_seconds()
    result = rt.run(handle_signals=False)
    assert result.exit_code == 0, result.failure
    summary = dict(result.summary)
    summary["cpu_ms_per_frame"] = (cpu_seconds() - c0) / summary["frames"] * 1e3
    return summary


def decoded_graph(folder: Path) -> Path:
    """graphs/pose.yaml with the clip decoded into memory before the run (a diagnostic: what
    video decoding costs the pipeline)."""
    pipeline = (ROOT / "graphs" / "pose_pipeline.yaml").read_text()
    video = "      - type: video                         # no match: any other input\n"
    assert video in pipeline, "graphs/pose_pipeline.yaml's source changed; update the bench"
    decoded = "      - type: 'benchnodes:DecodedFrames'\n"
    pipeline = pipeline.replace(video, decoded).replace('          realtime: "${realtime}"\n', "")
    (folder / "pose_pipeline.yaml").write_text(pipeline)
    (folder / "pose.yaml").write_text((ROOT / "graphs" / "pose.yaml").read_text())
    return folder / "pose.yaml"


def model_alone(threads: int = 0, n: int = 200) -> tuple[float, float]:
    """Milliseconds per synchronous inference and CPU milliseconds it takes (all threads)."""
    _, path = zoo.resolve("blazepose-full", ("tflite", "onnx"))
    backend = open_backend("openvino", path, "CPU", "f32", threads)
    x = np.random.default_rng(0).random(backend.input_shape, dtype=np.float32)
    for _ in range(10):
        backend.infer(x)
    c0, t0 = cpu_seconds(), time.perf_counter()
    for _ in range(n):
        backend.infer(x)
    return (time.perf_counter() - t0) / n * 1e3, (cpu_seconds() - c0) / n * 1e3


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


# Configurations of graphs/pose.yaml measured next to the default (exact lag-1 feedback).
CONFIGS: dict[str, list[str]] = {
    "lag2": ["lag=2", "pose.requests=2"],  # deterministic, two frames in flight
    "live": ["feedback=latest", "pose.requests=3"],  # newest keypoints, as for a camera
    "decoded": [],  # the default with the clip decoded into memory first (diagnostic)
    # The model on one thread, leaving a core to the rest of the graph (diagnostic: the graph's
    # own cost when the model need not share its cores); compared with the model alone on one.
    "one_thread": ["pose.threads=1"],
    "one_thread_lag2": ["pose.threads=1", "lag=2", "pose.requests=2"],
}


def found_fraction(path: Path) -> float:
    rows = [json.loads(line)["keypoints"] for line in path.read_text().splitlines()]
    return sum(r["presence"] >= 0.5 for r in rows) / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", default=str(ROOT.parent / "shared" / "videos" / "squat-3.mp4"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    clip = Path(args.clip)
    report: dict = {"cores": os.cpu_count(), "clip": clip.name}
    python = None if args.no_peer else ensure_peer()
    names = ["default", *CONFIGS]
    runs: dict[str, dict[str, list[float]]] = {n: {"fps": [], "cpu": [], "found": [], "agree": []} for n in names}
    alone, alone_cpu, alone_1, peer_fps = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        decoded = decoded_graph(Path(tmp))
        for r in range(args.rounds):
            ms, cpu = model_alone()
            alone.append(ms)
            alone_cpu.append(cpu)
            alone_1.append(model_alone(threads=1)[0])
            theirs = peer(python, clip, Path(tmp) / f"peer{r}.json") if python is not None else None
            if theirs is not None:
                peer_fps.append(theirs["fps"])
            for name in names:
                out = Path(tmp) / f"{name}{r}.jsonl"
                if name == "decoded":
                    summary = ours(clip, out, [], decoded)
                else:
                    summary = ours(clip, out, CONFIGS.get(name, []))
                row = runs[name]
                row["fps"].append(summary["fps"])
                row["cpu"].append(summary["cpu_ms_per_frame"])
                row["found"].append(found_fraction(out))
                if theirs is not None:
                    row["agree"].append(agreement(out, theirs["landmarks"]))
    # The fastest model-alone round: the strictest reference for the pipeline's ratio.
    report["model_alone_ms"] = round(min(alone), 3)
    report["model_alone_ms_runs"] = [round(a, 3) for a in alone]
    report["model_alone_fps"] = round(1e3 / report["model_alone_ms"], 2)
    report["model_alone_cpu_ms"] = round(float(np.median(alone_cpu)), 2)
    report["model_alone_1thread_ms"] = round(min(alone_1), 3)
    if peer_fps:
        report["peer_mediapipe_fps"] = round(float(np.median(peer_fps)), 2)
    for name in names:
        row = runs[name]
        key = "pose" if name == "default" else f"pose_{name}"
        fps = float(np.median(row["fps"]))
        report[f"{key}_fps"] = round(fps, 2)
        report[f"{key}_fps_runs"] = [round(f, 2) for f in row["fps"]]
        reference = report["model_alone_1thread_ms"] if name.startswith("one_thread") else report["model_alone_ms"]
        report[f"{key}_vs_model_alone"] = round(fps * reference / 1e3, 3)
        # CPU time per frame, all threads: cores * 1000 / it is the most any scheduling could reach.
        report[f"{key}_cpu_ms_per_frame"] = round(float(np.median(row["cpu"])), 2)
        report[f"{key}_found"] = round(float(np.median(row["found"])), 4)
        if peer_fps:
            report[f"{key}_vs_peer"] = round(fps / report["peer_mediapipe_fps"], 3)
            agree_key = "agreement_torso_normalized" + ("" if name == "default" else f"_{name}")
            report[agree_key] = round(float(np.median(row["agree"])), 4)
    report["configs"] = {"default": "", **{k: " ".join(v) or "(clip decoded first)" for k, v in CONFIGS.items()}}
    report.update(decoder_costs())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
