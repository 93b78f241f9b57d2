"""INT8 pose model against the f32 one: speed, landmarks, found frames and counts on the shared clips.

The issue's bar for making ``blazepose-full-int8`` the default on a CPU where it is faster: on the
shared clips landmarks within 0.03 torso lengths of the f32 model (0.05 of MediaPipe), the person
found on as many frames, every clip counting the same; and graphs/pose.yaml >= 3.0x MediaPipe Pose
in the same run. This prints what each of those measures; ``meets_bar`` says whether all hold.

- ``ms_f32`` / ``ms_int8``: one synchronous inference of each model (the outputs the graph
  computes), alternating, the fastest of ``--rounds`` rounds of 200.
- Per clip: each model through graphs/reps.yaml with the clip's true exercise, the decoded (raw)
  keypoints recorded beside: landmark error per frame where both found the person (mean joint
  distance over the f32 torso length; mean, p95 and max), frames with a person, reps counted,
  and with the peer, each model's agreement with MediaPipe (bench/pose.py's measure).
- ``pose_fps_*``: graphs/pose.yaml on the first clip with each model, alternating with the peer.

Prints one JSON object as its last line. Needs the INT8 model made first:
  dataflow models convert blazepose-full --to ir --int8
Run: DATAFLOW_MODELS=../shared/models python bench/int8.py [--folder top|clips] [--rounds N] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pose import agreement, ensure_peer, ours, peer  # noqa: E402
from dataflow import UserError  # noqa: E402
from nodes.pose import zoo  # noqa: E402
from nodes.pose.backends import open_backend  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "videos"
MODELS = {"f32": "blazepose-full", "int8": "blazepose-full-int8"}
FLOOR = {"vs_f32": 0.03, "vs_peer": 0.05, "pose_vs_peer": 3.0}


def shared_clips(folder: str) -> list[tuple[Path, str, int]]:
    """(clip, exercise, reps) of the labelled clips of a folder of shared/videos."""
    base = VIDEOS if folder == "top" else VIDEOS / folder
    labels = yaml.safe_load((base / "labels.yaml").read_text())
    return [(base / name, v["exercise"], int(v["reps"])) for name, v in labels.items() if v.get("reps") is not None]


def model_ms(rounds: int, n: int = 200) -> dict[str, float]:
    """Fastest ms per synchronous inference of each model, the two alternating."""
    runners = {}
    for key, name in MODELS.items():
        s, path = zoo.resolve(name, ("xml", "tflite"), pull=False)
        runners[key] = open_backend("openvino", path, "CPU", "f32", 0, keep=tuple(s.outputs.values()))
    x = np.random.default_rng(0).random(runners["f32"].input_shape, dtype=np.float32)
    best = dict.fromkeys(runners, float("inf"))
    for r in range(rounds):
        for key in list(runners)[:: 1 if r % 2 == 0 else -1]:
            for _ in range(10):
                runners[key].infer(x)
            t0 = time.perf_counter()
            for _ in range(n):
                runners[key].infer(x)
            best[key] = min(best[key], (time.perf_counter() - t0) / n * 1e3)
    for runner in runners.values():
        runner.close()
    return {k: round(v, 3) for k, v in best.items()}


def counted(clip: Path, exercise: str, model: str, folder: Path) -> tuple[int, list[dict]]:
    """Reps graphs/reps.yaml counts on ``clip`` with ``model``, and its decoded keypoints per frame."""
    from dataflow import load_graph
    from dataflow.runtime import Runtime

    raw = folder / f"{clip.stem}-{model}.jsonl"
    graph_path = folder / "reps_raw.yaml"
    graph_path.write_text(
        f"include: {ROOT / 'graphs' / 'reps.yaml'}\n"
        "nodes:\n"
        "  raw:\n"
        "    type: jsonl\n"
        "    inputs: {value: decode.keypoints}\n"
        f"    params: {{path: {str(raw)!r}, field: keypoints}}\n"
    )
    sets = [f"input={clip}", f"exercise={exercise}", f"model={model}", f"out={folder / 'records.jsonl'}"]
    runtime = Runtime(load_graph(graph_path, sets))
    runtime.setup()
    result = runtime.run(handle_signals=False)
    assert result.exit_code == 0, result.failure
    rows = [json.loads(line)["keypoints"] for line in raw.read_text().splitlines()]
    return int(result.summary["reps"]), rows


def landmark_error(ref: list[dict], other: list[dict]) -> list[float]:
    """Per frame where both found the person: mean joint distance over the reference's torso."""
    errors = []
    for a_row, b_row in zip(ref, other, strict=True):
        if a_row["presence"] < 0.5 or b_row["presence"] < 0.5:
            continue
        a = np.array([v[:2] for v in a_row["joints"].values()])
        b = np.array([v[:2] for v in b_row["joints"].values()])
        torso = np.linalg.norm((a[11] + a[12]) / 2 - (a[23] + a[24]) / 2)
        errors.append(float(np.linalg.norm(a - b, axis=1).mean() / torso))
    return errors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", action="append", choices=("top", "clips"), help="shared/videos folder (default top)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    if args.rounds < 1:
        print("bench/int8.py: --rounds must be at least 1", file=sys.stderr)
        sys.exit(2)
    try:
        zoo.resolve(MODELS["int8"], ("xml",), pull=False)
    except UserError as exc:
        print(f"bench/int8.py: {exc}", file=sys.stderr)
        sys.exit(2)
    import os

    report: dict = {"cores": os.cpu_count()}
    report.update({f"ms_{k}": v for k, v in model_ms(args.rounds).items()})
    report["int8_speedup"] = round(report["ms_f32"] / report["ms_int8"], 3)
    python = None if args.no_peer else ensure_peer()
    clips = [c for f in (args.folder or ["top"]) for c in shared_clips(f)]
    per_clip: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for clip, exercise, reps in clips:
            row: dict = {"true_reps": reps}
            kps = {}
            for key, model in MODELS.items():
                row[f"reps_{key}"], kps[key] = counted(clip, exercise, model, folder)
                row[f"found_{key}"] = sum(k["presence"] >= 0.5 for k in kps[key])
            errors = landmark_error(kps["f32"], kps["int8"])
            row["frames"] = len(kps["f32"])
            row["error_vs_f32"] = {
                "mean": round(float(np.mean(errors)), 4),
                "p95": round(float(np.percentile(errors, 95)), 4),
                "max": round(float(np.max(errors)), 4),
            }
            if python is not None:
                theirs = peer(python, clip, folder / "peer.json")["landmarks"]
                for key, model in MODELS.items():
                    path = folder / f"{clip.stem}-{model}.jsonl"
                    row[f"vs_peer_{key}"] = round(agreement(path, theirs), 4)
            per_clip[clip.name] = row
            print(json.dumps({clip.name: row}), file=sys.stderr, flush=True)
        report["clips"] = per_clip
        if python is not None:
            first = clips[0][0]
            fps: dict[str, list[float]] = {"f32": [], "int8": [], "peer": []}
            for r in range(args.rounds):
                fps["peer"].append(peer(python, first, folder / "peer.json")["fps"])
                for key in list(MODELS)[:: 1 if r % 2 == 0 else -1]:
                    summary = ours(first, folder / "pose.jsonl", [f"model={MODELS[key]}"])
                    fps[key].append(summary["fps"])
            for key in MODELS:
                ratios = [f / p for f, p in zip(fps[key], fps["peer"], strict=True)]
                report[f"pose_fps_{key}"] = [round(f, 2) for f in fps[key]]
                report[f"pose_vs_peer_{key}"] = round(float(np.median(ratios)), 3)
            report["peer_fps"] = [round(f, 2) for f in fps["peer"]]
    rows = per_clip.values()
    report["worst_mean_error_vs_f32"] = max(r["error_vs_f32"]["mean"] for r in rows)
    report["same_counts"] = all(r["reps_f32"] == r["reps_int8"] for r in rows)
    report["found_as_often"] = all(r["found_int8"] >= r["found_f32"] for r in rows)
    bar = report["worst_mean_error_vs_f32"] <= FLOOR["vs_f32"] and report["same_counts"] and report["found_as_often"]
    if python is not None:
        report["worst_vs_peer_int8"] = max(r["vs_peer_int8"] for r in rows)
        bar = bar and report["worst_vs_peer_int8"] <= FLOOR["vs_peer"]
        bar = bar and report["pose_vs_peer_int8"] >= FLOOR["pose_vs_peer"]
    report["meets_bar"] = bool(bar) and report["int8_speedup"] > 1.0
    report["floors"] = FLOOR
    print(json.dumps(report))


if __name__ == "__main__":
    main()
