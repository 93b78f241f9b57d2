"""Counting benchmark: every sequence of a labelled pose set through graphs/replay.yaml with its
true exercise, in-process (one engine run per sequence, several worker processes).

The set is laid out like ../shared/poses/countix-fitness: ``test.csv`` with columns
``type,name,count`` and ``test_poses/NAME.npy`` pose arrays. Prints per-class and overall MAE
(mean of |counted - true| / true) and OBO (share with |counted - true| <= 1), the worst sequences
and published figures for reference; one JSON object as the last line.

Run: python bench/counting.py [--dataset DIR] [--workers 2] [--fps 30]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataflow import load_graph  # noqa: E402
from dataflow.runtime import Runtime  # noqa: E402
from nodes.counting import spec  # noqa: E402
from nodes.recording import pose_arrays  # noqa: E402

# Dataset class names that are not spelled as our workouts.
CLASS_TO_WORKOUT = {
    "bench_pressing": "bench-press",
    "pull_ups": "pull-up",
    "rope_pushdown": "tricep-pushdown",
}

PUBLISHED = {
    "note": "RepCount-A (sister set, same pose extraction), except Hsu et al. on MM-Fit",
    "PoseRAC": {"mae": 0.236, "obo": 0.56},
    "PoseRAC joint angles": {"mae": 0.211, "obo": 0.599},
    "TransRAC": {"mae": 0.443, "obo": 0.291},
    "RepNet": {"mae": 0.995, "obo": 0.013},
    "Hsu et al. 2021 (MM-Fit)": {"mae": 0.06, "obo": 0.94},
}


def workout_for(cls: str) -> str:
    name = CLASS_TO_WORKOUT.get(cls, cls.replace("_", "-"))
    if name not in spec.available():
        raise SystemExit(f"class '{cls}': no workout '{name}' in graphs/workouts")
    return name


def count_one(job: tuple[str, str, int, str, str, float]) -> dict:
    cls, name, true, workout, path, fps = job
    frames = len(pose_arrays.load(path))
    row = {"class": cls, "name": name, "true": true, "workout": workout, "frames": frames}
    if frames == 0:
        return {**row, "counted": None}
    with tempfile.TemporaryDirectory() as tmp:
        sets = [f"recording={path}", f"exercise={workout}", f"out={tmp}/reps.jsonl", f"source.fps={fps}"]
        runtime = Runtime(load_graph(ROOT / "graphs" / "replay.yaml", sets))
        runtime.setup()
        result = runtime.run(handle_signals=False)
    if result.exit_code != 0:
        raise RuntimeError(f"{name}: {result.failure}")
    return {**row, "counted": int(result.summary["reps"])}


def scores(rows: list[dict]) -> dict:
    errors = [abs(r["counted"] - r["true"]) / r["true"] for r in rows]
    within = [abs(r["counted"] - r["true"]) <= 1 for r in rows]
    n = len(rows)
    return {
        "sequences": n,
        "mae": round(sum(errors) / n, 4) if n else None,
        "obo": round(sum(within) / n, 4) if n else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(ROOT.parent / "shared" / "poses" / "countix-fitness"))
    ap.add_argument("--csv", default="test.csv", help="label file inside the dataset folder")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--fps", type=float, default=30.0, help="frame rate of the sequences")
    ap.add_argument("--classes", default="", help="comma-separated classes (default: all)")
    ap.add_argument("--worst", type=int, default=10, help="how many of the worst sequences to list")
    args = ap.parse_args()

    root = Path(args.dataset)
    labels = root / args.csv
    if not labels.is_file():
        raise SystemExit(f"{labels}: no such file (--dataset names a folder with {args.csv} and test_poses/)")
    wanted = set(filter(None, args.classes.split(",")))
    jobs = []
    with labels.open(newline="") as f:
        for rec in csv.DictReader(f):
            if wanted and rec["type"] not in wanted:
                continue
            path = root / "test_poses" / (Path(rec["name"]).stem + ".npy")
            jobs.append((rec["type"], rec["name"], int(rec["count"]), workout_for(rec["type"]), str(path), args.fps))

    t0 = time.perf_counter()
    with ProcessPoolExecutor(max(1, args.workers)) as pool:
        rows = list(pool.map(count_one, jobs, chunksize=1))
    seconds = time.perf_counter() - t0

    counted = [r for r in rows if r["counted"] is not None]
    empty = [r for r in rows if r["counted"] is None]
    by_class: dict[str, list[dict]] = defaultdict(list)
    for r in counted:
        by_class[r["class"]].append(r)
    per_class = {cls: {"workout": rs[0]["workout"], **scores(rs)} for cls, rs in sorted(by_class.items())}
    overall = scores(counted)
    # Empty arrays (no pose at all) cannot be counted; shown apart, and what they would cost as 0.
    with_empty = scores(counted + [{**r, "counted": 0} for r in empty])
    worst = sorted(counted, key=lambda r: abs(r["counted"] - r["true"]) / r["true"], reverse=True)[: args.worst]
    frames = sum(r["frames"] for r in rows)

    print(f"{'class':16s} {'workout':16s} {'n':>4s} {'MAE':>7s} {'OBO':>6s}")
    for cls, s in per_class.items():
        print(f"{cls:16s} {s['workout']:16s} {s['sequences']:4d} {s['mae']:7.3f} {s['obo']:6.2f}")
    print(f"{'all':16s} {'':16s} {overall['sequences']:4d} {overall['mae']:7.3f} {overall['obo']:6.2f}")
    if empty:
        print(f"{len(empty)} sequences have no pose data (empty arrays) and are left out: "
              f"{', '.join(r['name'] for r in empty)}")  # fmt: skip
        print(f"  counting them as 0 reps: MAE {with_empty['mae']:.3f} OBO {with_empty['obo']:.2f}")
    print("worst:", ", ".join(f"{r['name']} {r['counted']}/{r['true']}" for r in worst))
    print("published:", ", ".join(f"{k} MAE {v['mae']} OBO {v['obo']}" for k, v in PUBLISHED.items() if k != "note"))
    print(
        f"{len(rows)} sequences, {frames} frames in {seconds:.1f} s "
        f"({frames / seconds:.0f} frames/s, {args.workers} workers)"
    )
    print(
        json.dumps(
            {
                "bench": "counting",
                "dataset": str(root),
                "fps": args.fps,
                "overall": overall,
                "per_class": per_class,
                "empty_sequences": [r["name"] for r in empty],
                "overall_counting_empty_as_zero": with_empty,
                "worst": [{k: r[k] for k in ("class", "name", "true", "counted")} for r in worst],
                "published": PUBLISHED,
                "frames": frames,
                "seconds": round(seconds, 2),
                "workers": args.workers,
            }
        )
    )


if __name__ == "__main__":
    main()
