"""Embedding benchmark: frames/s pushing a clip's frames from Python (``dataflow.open``) against the
same graph run on the file, and the latency from a push to its keypoints' result.

Throughput: each round runs the graph on the file (its video source decodes on one thread) and then
pushes the same frames from this thread (decoded here, also on one thread, as an app's camera loop
would), reading results between pushes; setup (loading the model) is outside both. Rounds alternate
so that other load on the machine falls on both alike; the ratio is of the medians.
Latency: frames pushed at the clip's frame rate (a camera's pace), a reader thread noting when each
push's result comes back; p50 and p99 over the clip.

Prints one JSON object as its last line.
Run: DATAFLOW_MODELS=../shared/models python bench/embed.py [--clip PATH] [--rounds N] [--graphs reps,pose]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dataflow  # noqa: E402
from dataflow import load_graph  # noqa: E402
from dataflow.runtime import Runtime  # noqa: E402

# What each graph's results carry: the keypoints (the latency is to them) and, for reps, the rest.
READS = {"pose": {"keypoints": "decode.keypoints"}, "reps": None}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def frames_of(clip: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(clip), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, 1])  # as the video source
    if not cap.isOpened():
        sys.exit(f"bench/embed.py: cannot read {clip}")
    return cap


def run_file(graph: str, clip: Path, out: Path) -> dict:
    """``dataflow run GRAPH --set input=CLIP``, in-process; fps over the run (setup excluded)."""
    g = load_graph(graph, [f"input={clip}", f"out={out}"])
    rt = Runtime(g)
    rt.setup()
    c0 = cpu_seconds()
    result = rt.run(handle_signals=False)
    assert result.exit_code == 0, result.failure
    frames = result.summary["frames"]
    return {"fps": frames / result.wall_s, "frames": frames, "cpu_ms": (cpu_seconds() - c0) / frames * 1e3}


def push_frames(graph: str, clip: Path, out: Path) -> dict:
    """The same frames pushed from this thread; fps from the first push to the session's close."""
    session = dataflow.open(graph, read=READS[graph], out=str(out))
    cap = frames_of(clip)
    results = 0
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    with session:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            session.push(frame, timestamp=cap.get(cv2.CAP_PROP_POS_MSEC) / 1e3)
            results += len(session.results())
    wall = time.perf_counter() - t0
    results += len(session.results())
    frames = session.summary["frames"]
    assert results == frames == session.pushed, (results, frames, session.pushed)
    return {"fps": frames / wall, "frames": frames, "cpu_ms": (cpu_seconds() - c0) / frames * 1e3}


def latency(graph: str, clip: Path, out: Path, pace: float, extra: dict) -> dict:
    """Milliseconds from each push to its result, pushing at ``pace`` times the clip's rate (0: as
    fast as it goes, where the queues fill and the latency is theirs)."""
    cap = frames_of(clip)
    fps = (cap.get(cv2.CAP_PROP_FPS) or 30.0) * pace
    paced = pace > 0
    pushed_at: dict[int, float] = {}
    came_at: dict[int, float] = {}
    with dataflow.open(graph, read=READS[graph], out=str(out), **extra) as session:

        def reader() -> None:
            for result in session:
                came_at[result.index] = time.perf_counter()

        thread = threading.Thread(target=reader, name="bench-reader")
        thread.start()
        t0 = time.perf_counter()
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if paced:
                delay = t0 + i / fps - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            pushed_at[i] = time.perf_counter()
            session.push(frame, timestamp=cap.get(cv2.CAP_PROP_POS_MSEC) / 1e3)
            i += 1
    thread.join()
    ms = np.array([(came_at[k] - pushed_at[k]) * 1e3 for k in pushed_at])
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
        "pushed_at_fps": round(fps, 1) if paced else "as fast as it goes",
        "frames": len(ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=ROOT.parent / "shared" / "videos" / "squat-3.mp4")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--graphs", default="reps,pose", help="comma-separated: reps, pose")
    args = parser.parse_args()
    if not args.clip.exists():
        sys.exit(f"bench/embed.py: {args.clip}: no such file (--clip PATH)")
    graphs = [g.strip() for g in args.graphs.split(",") if g.strip()]
    unknown = [g for g in graphs if g not in READS]
    if unknown:
        sys.exit(f"bench/embed.py: --graphs: unknown {', '.join(unknown)} (reps, pose)")
    report: dict = {"clip": args.clip.name, "rounds": args.rounds, "cores": os.cpu_count(), "throughput": {}}
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        for graph in graphs:
            run_file(graph, args.clip, out)  # warm: caches, first-touch allocations
            runs, pushes = [], []
            for r in range(args.rounds):
                runs.append(run_file(graph, args.clip, out))
                pushes.append(push_frames(graph, args.clip, out))
                print(
                    f"{graph} round {r + 1}: run {runs[-1]['fps']:.1f} fps, push {pushes[-1]['fps']:.1f} fps",
                    file=sys.stderr,
                )
            run_fps = statistics.median(x["fps"] for x in runs)
            push_fps = statistics.median(x["fps"] for x in pushes)
            report["throughput"][graph] = {
                "run_fps": [round(x["fps"], 1) for x in runs],
                "push_fps": [round(x["fps"], 1) for x in pushes],
                "push_over_run": round(push_fps / run_fps, 3),
                "run_cpu_ms_per_frame": round(statistics.median(x["cpu_ms"] for x in runs), 2),
                "push_cpu_ms_per_frame": round(statistics.median(x["cpu_ms"] for x in pushes), 2),
            }
        report["latency"] = {
            # The pose graph's keypoints at a camera's pace: what a camera app waits for. On a loaded
            # machine that cannot keep up with the clip's rate, queueing dominates; at half the rate
            # there is headroom and the figure is the pipeline's own.
            "pose_clip_rate": latency("pose", args.clip, out, 1.0, {}),
            "pose_half_rate": latency("pose", args.clip, out, 0.5, {}),
            # The main job as the live view runs it (the workout stages take each frame at once).
            "reps_batch1_half_rate": latency("reps", args.clip, out, 0.5, {"batch": 1}),
            "pose_full_speed": latency("pose", args.clip, out, 0.0, {}),
        }
    report["load_average_1min"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
