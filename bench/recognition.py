"""Recognition benchmark: every sequence of one or more labelled pose sets through graphs/replay.yaml
with ``exercise=auto``; is the recognized exercise the true one, how soon, and what it costs the count.

Per sequence: the session's main exercise (top-1), the first frame with a named exercise (the
decision) and how many repetitions had ended by then (the true exercise's reps as counted; for a
sequence recognized as something else, its true count spread evenly over the clip), the count.
The same sequences are counted with the true exercise (bench/counting.py) for comparison.
Cost: the recognizer alone over the sequences' frames, all workouts as candidates.
``--dataset`` may be given several times (default: every pose set under ../shared/poses).
Prints, per set and pooled over the sets, per-class accuracy and the confusion matrix; one JSON
object as the last line.

Run: python bench/recognition.py [--dataset DIR ...] [--workers 2] [--among squat,push-up,...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from counting import count_one, default_datasets, read_labels, replay, scores  # noqa: E402

from nodes.counting import spec  # noqa: E402
from nodes.recognition import pose_classifier  # noqa: E402
from nodes.recognition.recognition import Recognizer  # noqa: E402
from nodes.recording import pose_arrays  # noqa: E402


def recognize_one(job: tuple) -> dict:
    cls, name, true, workout, path, fps, overrides = job
    frames = len(pose_arrays.load(path))
    row = {"class": cls, "name": name, "true": true, "workout": workout, "frames": frames}
    if frames == 0:
        return {**row, "recognized": None}
    with tempfile.TemporaryDirectory() as tmp:
        sets = [f"recording={path}", "exercise=auto", f"out={tmp}/reps.jsonl", f"source.fps={fps}"]
        sets.append("session.print=false")
        sets += overrides
        result = replay(sets, name)
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


def summarize(rows: list[dict], truth_rows: dict[tuple[str, str], dict]) -> dict:
    """Top-1, confusion, decision time and counting (auto and true exercise) of a set's rows
    (or the pooled sets'); ``truth_rows``: the same sequences counted with the true exercise."""
    empty = [r["name"] for r in rows if r["frames"] == 0]
    rows = [r for r in rows if r["frames"]]
    truth = [truth_rows[(r["dataset"], r["name"])] for r in rows]
    classes = sorted({r["workout"] for r in rows})
    confusion = {c: Counter(str(r["recognized"]) for r in rows if r["workout"] == c) for c in classes}
    per_class = {}
    for c in classes:
        rs = [r for r in rows if r["workout"] == c]
        ts = [t for r, t in zip(rows, truth, strict=True) if r["workout"] == c]
        per_class[c] = {
            "sequences": len(rs),
            "top1": round(sum(r["recognized"] == c for r in rs) / len(rs), 4),
            "mae_auto": scores(rs)["mae"],
            "mae_true_exercise": scores(ts)["mae"],
        }
    decided = [r for r in rows if r["decision_s"] is not None]
    n = max(1, len(rows))
    return {
        "top1": round(sum(r["recognized"] == r["workout"] for r in rows) / n, 4),
        "top1_first_decision": round(sum(r["first_decision"] == r["workout"] for r in rows) / n, 4),
        "per_class": per_class,
        "confusion": {c: dict(v) for c, v in confusion.items()},
        "decided": len(decided),
        "median_decision_s": statistics.median(r["decision_s"] for r in decided) if decided else None,
        "median_true_reps_before_decision": (
            statistics.median(r["reps_before_decision"] for r in decided) if decided else None
        ),
        "share_decided_within_two_reps": round(sum(1 for r in decided if r["reps_before_decision"] <= 2) / n, 4),
        "counting_auto": scores(rows),
        "counting_true_exercise": scores(truth),
        "sequences": len(rows),
        "empty_sequences": empty,
        "misrecognized": {
            r["name"]: {"true": r["workout"], "exercises": r["exercises"]}
            for r in rows
            if r["recognized"] != r["workout"]
        },
    }


def print_summary(title: str, s: dict) -> None:
    print(f"== {title}")
    classes = list(s["per_class"])
    seen = classes + sorted({k for v in s["confusion"].values() for k in v} - set(classes))
    width = max(len(c) for c in seen)
    print("confusion (rows: true, columns: recognized)")
    print(" " * width, " ".join(f"{c[:6]:>6s}" for c in seen))
    for c in classes:
        print(f"{c:{width}s}", " ".join(f"{s['confusion'][c].get(k, 0):6d}" for k in seen))
    print(f"{'class':18s} {'n':>4s} {'top-1':>6s} {'MAE auto':>9s} {'MAE true':>9s}")
    for c, p in s["per_class"].items():
        print(f"{c:18s} {p['sequences']:4d} {p['top1']:6.2f} {p['mae_auto']:9.3f} {p['mae_true_exercise']:9.3f}")
    print(f"top-1 {s['top1']:.3f} (first decision {s['top1_first_decision']:.3f}); decided in "
          f"{s['decided']}/{s['sequences']}, median {s['median_decision_s']} s after the first frame, median "
          f"{s['median_true_reps_before_decision']} true reps done by then, "
          f"{s['share_decided_within_two_reps']:.2f} within the first two reps")  # fmt: skip
    a, t = s["counting_auto"], s["counting_true_exercise"]
    print(f"counting MAE/OBO with auto {a['mae']:.3f}/{a['obo']:.2f}, "
          f"with the true exercise {t['mae']:.3f}/{t['obo']:.2f}")  # fmt: skip
    if s["empty_sequences"]:
        print(f"{len(s['empty_sequences'])} sequences have no pose data and are left out")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", default=None,
                    help="a pose set folder; repeat for several (default: every set in ../shared/poses)")  # fmt: skip
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--fps", type=float, default=30.0, help="frame rate of the sequences")
    ap.add_argument("--among", default="", help="candidate workouts (default: every workout)")
    ap.add_argument("--classes", default="", help="comma-separated classes (default: all)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a graph param, as dataflow run --set does (e.g. recognize.model=FILE)")  # fmt: skip
    args = ap.parse_args()

    roots = [Path(d) for d in args.dataset] if args.dataset else default_datasets()
    if not roots:
        raise SystemExit("no pose sets under ../shared/poses (give --dataset DIR)")
    wanted = set(filter(None, args.classes.split(",")))
    labelled = [r for root in roots for r in read_labels(root, "test.csv", wanted)]
    overrides = [*args.set, *([f"recognize.among={args.among}"] if args.among else [])]
    jobs = [(r["class"], r["name"], r["true"], r["workout"], r["path"], args.fps, overrides) for r in labelled]

    t0 = time.perf_counter()
    with ProcessPoolExecutor(max(1, args.workers)) as pool:
        rows = [{**lab, **res} for lab, res in zip(labelled, pool.map(recognize_one, jobs, chunksize=1), strict=True)]
        truth = pool.map(count_one, [j[:6] for j in jobs], chunksize=1)
        truth_rows = {(lab["dataset"], lab["name"]): res for lab, res in zip(labelled, truth, strict=True)}
    seconds = time.perf_counter() - t0
    cost = cost_us([j[4] for j in jobs], args.fps)

    per_set = {}
    for root in roots:
        mine = [r for r in rows if r["dataset"] == root.name]
        per_set[root.name] = {"path": str(root), **summarize(mine, truth_rows)}
        print_summary(root.name, per_set[root.name])
    pooled = summarize(rows, truth_rows)
    if len(roots) > 1:
        print_summary("pooled over " + ", ".join(per_set), pooled)
    print(f"recognizer cost {cost:.0f} us a frame ({len(spec.available())} candidate workouts); "
          f"{len(rows)} sequences in {seconds:.0f} s")  # fmt: skip
    print(
        json.dumps(
            {
                "bench": "recognition",
                "candidates": args.among or "all",
                "datasets": per_set,
                "pooled": pooled,
                "recognizer_us_per_frame": round(cost, 1),
                "seconds": round(seconds, 1),
                "workers": args.workers,
            }
        )
    )


if __name__ == "__main__":
    main()
