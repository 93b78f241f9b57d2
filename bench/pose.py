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
from collections import deque
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


def stages_alone(clip: Path, out: Path, extra: list[str]) -> dict[str, float]:
    """CPU milliseconds per frame of each stage of graphs/pose.yaml run alone, one after another on
    one thread, in the setting the graph chose (the model: one synchronous inference on one of its
    streams; the video source: its decoder threads). The process's CPU clock around each call counts
    library thread pools too. The graph's CPU per frame over this sum is what running the stages as
    a pipelined graph costs on top of the work itself."""
    graph = load_graph(ROOT / "graphs" / "pose.yaml", [f"input={clip}", f"out={out}", *extra])
    Runtime(graph).setup()
    nodes = {name: graph.nodes[name].instance for name in graph.order}
    source, roi, crop, model, decode, sink = (nodes[n] for n in ("source", "roi", "crop", "pose", "decode", "sink"))
    lag = next(e.lag for e in graph.edges if e.dst == "roi" and e.feedback) or 1
    cpu = dict.fromkeys(("source", "roi", "crop", "pose", "decode", "sink"), 0.0)
    history: deque = deque(maxlen=lag)  # keypoints, newest last, as far back as the feedback reaches
    frames = 0
    samples = iter(source.generate())
    while True:
        c0 = cpu_seconds()
        sample = next(samples, None)
        c1 = cpu_seconds()
        cpu["source"] += c1 - c0
        if sample is None:
            break
        frame = sample.values["frame"]
        previous = history[0] if len(history) == lag else None
        region = roi.process(frame=frame, keypoints=previous)["roi"]
        c2 = cpu_seconds()
        cropped = crop.process(frame=frame, roi=region)
        c3 = cpu_seconds()
        tensors = model.runner.infer(cropped["tensor"])
        c4 = cpu_seconds()
        keypoints = decode.process(tensors=tensors, crop=cropped["crop"]).get("keypoints")
        c5 = cpu_seconds()
        sink.process(value=keypoints)
        c6 = cpu_seconds()
        spent = {"roi": c2 - c1, "crop": c3 - c2, "pose": c4 - c3, "decode": c5 - c4, "sink": c6 - c5}
        for name, seconds in spent.items():
            cpu[name] += seconds
        history.append(keypoints)
        frames += 1
    for node in nodes.values():
        node.close()
    return {name: spent / frames * 1e3 for name, spent in cpu.items()}


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
    s, path = zoo.resolve("blazepose-full", ("tflite", "onnx"))
    # The outputs the graph's model node computes (those its decoder reads), so this is its ceiling.
    keep = tuple(s.outputs.values()) if s is not None else None
    backend = open_backend("openvino", path, "CPU", "f32", threads, keep=keep)
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


# Configurations of graphs/pose.yaml measured next to the default (exact feedback, 2 frames in flight).
CONFIGS: dict[str, list[str]] = {
    "in_flight1": ["in_flight=1"],  # exact lag-1 feedback, one frame at a time (the default before)
    "in_flight3": ["in_flight=3"],  # exact, three frames in flight
    "live": ["feedback=latest", "in_flight=3"],  # newest keypoints (none older than 3 frames), as for a camera
    "bf16": ["pose.precision=bf16"],  # the default at bfloat16, where the CPU has it
    "decoded": [],  # the default with the clip decoded into memory first (diagnostic)
    "main_job": [],  # graphs/reps.yaml (recognition, counting, energy, records) on the same clip
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
    stages: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        decoded = decoded_graph(Path(tmp))
        for r in range(args.rounds):
            ms, cpu = model_alone()
            alone.append(ms)
            alone_cpu.append(cpu)
            alone_1.append(model_alone(threads=1)[0])
            stages.append(stages_alone(clip, Path(tmp) / "stages.jsonl", []))
            theirs = peer(python, clip, Path(tmp) / f"peer{r}.json") if python is not None else None
            if theirs is not None:
                peer_fps.append(theirs["fps"])
            for name in names:
                out = Path(tmp) / f"{name}{r}.jsonl"
                if name == "decoded":
                    summary = ours(clip, out, [], decoded)
                elif name == "main_job":
                    records = Path(tmp) / f"reps{r}.jsonl"
                    summary = ours(clip, records, [], ROOT / "graphs" / "reps.yaml")
                else:
                    summary = ours(clip, out, CONFIGS.get(name, []))
                row = runs[name]
                row["fps"].append(summary["fps"])
                row["cpu"].append(summary["cpu_ms_per_frame"])
                if name == "main_job":
                    continue  # its records are not keypoints
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
        report[f"{key}_vs_model_alone"] = round(fps * report["model_alone_ms"] / 1e3, 3)
        # CPU time per frame, all threads: cores * 1000 / it is the most any scheduling could reach.
        report[f"{key}_cpu_ms_per_frame"] = round(float(np.median(row["cpu"])), 2)
        if name == "main_job":
            report["main_job_vs_pose"] = round(fps / report["pose_fps"], 3)
            continue
        report[f"{key}_found"] = round(float(np.median(row["found"])), 4)
        if peer_fps:
            report[f"{key}_vs_peer"] = round(fps / report["peer_mediapipe_fps"], 3)
            agree_key = "agreement_torso_normalized" + ("" if name == "default" else f"_{name}")
            report[agree_key] = round(float(np.median(row["agree"])), 4)
    # Each stage alone, in the default's setting (median per stage over the rounds), and what the
    # pipelined graph spends on top of that sum.
    per_stage = {k: round(float(np.median([st[k] for st in stages])), 3) for k in stages[0]}
    report["stages_alone_cpu_ms_per_frame"] = per_stage
    report["stages_alone_cpu_ms_sum"] = round(sum(per_stage.values()), 2)
    report["pose_cpu_vs_stages_alone"] = round(report["pose_cpu_ms_per_frame"] / report["stages_alone_cpu_ms_sum"], 3)
    # The most the model's single-thread streams could reach on every core with every other stage free.
    report["model_ceiling_fps"] = round(report["cores"] * 1e3 / per_stage["pose"], 1)
    if peer_fps:
        report["model_ceiling_vs_peer"] = round(report["model_ceiling_fps"] / report["peer_mediapipe_fps"], 3)
    report["configs"] = {"default": "", **{k: " ".join(v) or "(clip decoded first)" for k, v in CONFIGS.items()}}
    report.update(decoder_costs())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
