"""Recognition benchmark: every sequence of a labelled pose set through graphs/replay.yaml with
``exercise=auto``; is the recognized exercise the true one, how soon, and what it costs the count.

Per sequence: the session's main exercise (top-1), the first frame with a named exercise (the
decision) and how many repetitions had ended by then (the true exercise's reps as counted; for a
sequence recognized as something else, its true count spread evenly over the clip), the count.
The same sequences are counted with the true exercise (bench/counting.py) for comparison.
Cost: the recognizer alone over the sequences' frames, all workouts as candidates.
Prints per-class accuracy, the confusion matrix and one JSON object as the last line.

Run: python bench/recognition.py [--dataset DIR] [--workers 2] [--among squat,push-up,...]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from counting import count_one, scores, workout_for  # noqa: E402

from dataflow import load_graph  # noqa: E402
from dataflow.runtime import Runtime  # noqa: E402
from nodes.counting import spec  # noqa: E402
from nodes.recognition import pose_classifier  # noqa: E402
from nodes.recognition.recognition import Recognizer  # noqa: E402
from nodes.recording import pose_arrays  # noqa: E402


def recognize_one(job: tuple) -> dict:
    cls, name, true, workout, path, fps, among = job
    frames = len(pose_arrays.load(path))
    row = {"class": cls, "name": name, "true": true, "workout": workout, "frames": frames}
    if frames == 0:
        return {**row, "recognized": None}
    with tempfile.TemporaryDirectory() as tmp:
        sets = [f"recording={path}", "exercise=auto", f"out={tmp}/reps.jsonl", f"source.fps={fps}"]
        sets.append("session.print=false")
        if among:
            sets.append(f"recognize.among={among}")
        runtime = Runtime(load_graph(ROOT / "graphs" / "replay.yaml", sets))
        runtime.setup()
        result = runtime.run(handle_signals=False)
        if result.exit_code != 0:
            raise RuntimeError(f"{name}: {result.failure}")
        first, rep_ends = None, []
        with open(f"{tmp}/reps.jsonl") as f:
            for line in f:
                rec = json.loads(line)
                if "event" not in rec and rec.get("exercise") and first is None:
                    first = (rec["seq"], rec["timestamp"], rec["exercise"])
                elif rec.get("event") == "rep" and rec["exercise"] == workout:
                    rep_ends.append(rec["end"])
    summary = result.summary
    if first is None:
        before = None
    elif rep_ends:  # the true exercise's reps as counted (recounted from the bout's start)
        before = sum(1 for e in rep_ends if e <= first[1])
    else:  # recognized as something else: reps assumed evenly spread over the clip
        before = int(first[1] / (frames / fps / true))
    return {
        **row,
        "recognized": summary["exercise"],
        "counted": int(summary["reps"]),
        "first_decision": first[2] if first else None,
        "decision_s": first[1] if first else None,
        "reps_before_decision": before,
        "exercises": {k: v["reps"] for k, v in summary["exercises"].items()},
    }


def cost_us(paths: list[str], fps: float, frames_max: int = 6000) -> float:
    """Mean microseconds a frame of the recognizer alone, every workout a candidate."""
    classifier = pose_classifier.load()
    total_frames, total_s = 0, 0.0
    for path in paths:
        recognizer = Recognizer(spec.available(), classifier)
        seq = list(pose_arrays.frames(pose_arrays.load(path), fps, 640, 480))
        t0 = time.perf_counter()
        for t, kp in seq:
            recognizer(kp, t)
        total_s += time.perf_counter() - t0
        total_frames += len(seq)
        if total_frames >= frames_max:
            break
    return 1e6 * total_s / max(1, total_frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(ROOT.parent / "shared" / "poses" / "countix-fitness"))
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--fps", type=float, default=30.0, help="frame rate of the sequences")
    ap.add_argument("--among", default="", help="candidate workouts (default: every workout)")
    ap.add_argument("--classes", default="", help="comma-separated classes (default: all)")
    args = ap.parse_args()

    root = Path(args.dataset)
    labels = root / "test.csv"
    if not labels.is_file():
        raise SystemExit(f"{labels}: no such file (--dataset names a folder with test.csv and test_poses/)")
    wanted = set(filter(None, args.classes.split(",")))
    jobs, count_jobs = [], []
    with labels.open(newline="") as f:
        for rec in csv.DictReader(f):
            if wanted and rec["type"] not in wanted:
                continue
            path = str(root / "test_poses" / (Path(rec["name"]).stem + ".npy"))
            workout = workout_for(rec["type"])
            jobs.append((rec["type"], rec["name"], int(rec["count"]), workout, path, args.fps, args.among))
            count_jobs.append((rec["type"], rec["name"], int(rec["count"]), workout, path, args.fps))

    t0 = time.perf_counter()
    with ProcessPoolExecutor(max(1, args.workers)) as pool:
        rows = list(pool.map(recognize_one, jobs, chunksize=1))
        truth_rows = {r["name"]: r for r in pool.map(count_one, count_jobs, chunksize=1)}
    seconds = time.perf_counter() - t0
    cost = cost_us([j[4] for j in jobs], args.fps)

    rows = [r for r in rows if r["recognized"] is not None or r["frames"]]
    empty = [r["name"] for r in rows if r["frames"] == 0]
    rows = [r for r in rows if r["frames"]]
    classes = sorted({r["workout"] for r in rows})
    labels_seen = classes + sorted({str(r["recognized"]) for r in rows} - set(classes))
    confusion = {c: Counter(str(r["recognized"]) for r in rows if r["workout"] == c) for c in classes}
    per_class = {}
    for c in classes:
        rs = [r for r in rows if r["workout"] == c]
        per_class[c] = {"sequences": len(rs), "top1": round(sum(r["recognized"] == c for r in rs) / len(rs), 4)}
    top1 = sum(r["recognized"] == r["workout"] for r in rows) / len(rows)
    first_ok = sum(r["first_decision"] == r["workout"] for r in rows) / len(rows)
    decided = [r for r in rows if r["decision_s"] is not None]
    delay = statistics.median(r["decision_s"] for r in decided) if decided else None
    within_two = sum(1 for r in decided if r["reps_before_decision"] <= 2) / len(rows)
    reps_before = statistics.median(r["reps_before_decision"] for r in decided) if decided else None
    auto_counting = scores([r for r in rows])
    truth_counting = scores([truth_rows[r["name"]] for r in rows])
    by_class_count: dict[str, list] = defaultdict(list)
    for r in rows:
        by_class_count[r["workout"]].append(r)

    width = max(len(c) for c in labels_seen)
    print("confusion (rows: true, columns: recognized)")
    print(" " * width, " ".join(f"{c[:6]:>6s}" for c in labels_seen))
    for c in classes:
        print(f"{c:{width}s}", " ".join(f"{confusion[c][k]:6d}" for k in labels_seen))
    print(f"{'class':18s} {'n':>4s} {'top-1':>6s} {'MAE auto':>9s} {'MAE true':>9s}")
    for c in classes:
        a = scores(by_class_count[c])
        t = scores([truth_rows[r["name"]] for r in by_class_count[c]])
        print(f"{c:18s} {per_class[c]['sequences']:4d} {per_class[c]['top1']:6.2f} {a['mae']:9.3f} {t['mae']:9.3f}")
    print(f"top-1 {top1:.3f} (first decision {first_ok:.3f}); decided in {len(decided)}/{len(rows)}, median "
          f"{delay} s after the first frame, median {reps_before} true reps done by then, "
          f"{within_two:.2f} within the first two reps")  # fmt: skip
    print(f"counting MAE/OBO with auto {auto_counting['mae']:.3f}/{auto_counting['obo']:.2f}, "
          f"with the true exercise {truth_counting['mae']:.3f}/{truth_counting['obo']:.2f}")  # fmt: skip
    print(f"recognizer cost {cost:.0f} us a frame ({len(spec.available())} candidate workouts); "
          f"{len(rows)} sequences in {seconds:.0f} s")  # fmt: skip
    if empty:
        print(f"{len(empty)} sequences have no pose data and are left out: {', '.join(empty)}")
    print(
        json.dumps(
            {
                "bench": "recognition",
                "dataset": str(root),
                "candidates": args.among or "all",
                "top1": round(top1, 4),
                "top1_first_decision": round(first_ok, 4),
                "per_class": per_class,
                "confusion": {c: dict(v) for c, v in confusion.items()},
                "decided": len(decided),
                "median_decision_s": delay,
                "median_true_reps_before_decision": reps_before,
                "share_decided_within_two_reps": round(within_two, 4),
                "counting_auto": auto_counting,
                "counting_true_exercise": truth_counting,
                "recognizer_us_per_frame": round(cost, 1),
                "sequences": len(rows),
                "empty_sequences": empty,
                "misrecognized": {
                    r["name"]: {"true": r["workout"], "exercises": r["exercises"]}
                    for r in rows
                    if r["recognized"] != r["workout"]
                },
                "seconds": round(seconds, 1),
                "workers": args.workers,
            }
        )
    )


if __name__ == "__main__":
    main()
