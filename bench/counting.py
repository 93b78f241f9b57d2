"""Counting benchmark: every sequence of one or more labelled pose sets through graphs/replay.yaml
with its true exercise, in-process (one engine run per sequence, several worker processes).

A set is laid out like ../shared/poses/countix-fitness: ``test.csv`` with columns
``type,name,count`` (then optionally ``L1, L2, ...``: each repetition's start and end frame) and
``test_poses/NAME.npy`` pose arrays. ``--dataset`` may be given several times; by default every
pose set under ../shared/poses is measured. Prints, per set and pooled over the sets, per-class and
overall MAE (mean of |counted - true| / true) and OBO (share with |counted - true| <= 1), the worst
sequences and published figures for reference; one JSON object as the last line.

Run: python bench/counting.py [--dataset DIR ...] [--workers 2] [--fps 30]
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
from dataflow.runtime import RunResult, Runtime  # noqa: E402
from nodes.counting import spec  # noqa: E402
from nodes.recording import pose_arrays  # noqa: E402

POSES = ROOT.parent / "shared" / "poses"

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
    """The workout a dataset class is counted with."""
    name = CLASS_TO_WORKOUT.get(cls, cls.replace("_", "-"))
    if name not in spec.available():
        raise SystemExit(f"class '{cls}': no workout '{name}' in graphs/workouts")
    return name


def default_datasets() -> list[Path]:
    """Every pose set under ../shared/poses (a folder with test.csv)."""
    return sorted(p.parent for p in POSES.glob("*/test.csv"))


def read_labels(root: Path, label_file: str = "test.csv", wanted: set[str] | None = None) -> list[dict]:
    """One row per labelled sequence of a set: class, name, true count, workout, pose file and the
    annotated repetition boundaries (frame pairs; empty where the set has none)."""
    labels = root / label_file
    if not labels.is_file():
        raise SystemExit(f"{labels}: no such file (--dataset names a folder with {label_file} and test_poses/)")
    rows = []
    with labels.open(newline="") as f:
        for rec in csv.DictReader(f):
            if wanted and rec["type"] not in wanted:
                continue
            bounds = [int(float(v)) for k, v in rec.items() if k and k[:1] == "L" and k[1:].isdigit() and v]
            path = root / "test_poses" / (Path(rec["name"]).stem + ".npy")
            rows.append({
                "dataset": root.name, "class": rec["type"], "name": rec["name"], "true": int(rec["count"]),
                "workout": workout_for(rec["type"]), "path": str(path), "bounds": bounds,
            })  # fmt: skip
    return rows


def replay(sets: list[str], what: str) -> RunResult:
    """Run graphs/replay.yaml with ``sets`` (its params as --set takes them); a failed run raises,
    naming ``what`` was being counted."""
    runtime = Runtime(load_graph(ROOT / "graphs" / "replay.yaml", sets))
    runtime.setup()
    result = runtime.run(handle_signals=False)
    if result.exit_code != 0:
        raise RuntimeError(f"{what}: {result.failure}")
    return result


def count_one(job: tuple) -> dict:
    """Count one sequence through graphs/replay.yaml: its row with ``counted`` (None: no poses) and
    the counted reps' (start, end) frames. ``job``: (class, name, true count, workout, path, fps),
    then optionally the annotated boundaries, for why each annotated rep that was missed was missed."""
    cls, name, true, workout, path, fps = job[:6]
    bounds = job[6] if len(job) > 6 else []
    frames = len(pose_arrays.load(path))
    row = {"class": cls, "name": name, "true": true, "workout": workout, "frames": frames}
    if frames == 0:
        return {**row, "counted": None, "reps": []}
    with tempfile.TemporaryDirectory() as tmp:
        sets = [f"recording={path}", f"exercise={workout}", f"out={tmp}/reps.jsonl", f"source.fps={fps}"]
        sets.append("session.print=false")
        result = replay(sets, name)
        reps, records = [], []
        with open(f"{tmp}/reps.jsonl") as f:
            for line in f:
                if '"event"' in line:
                    rec = json.loads(line)
                    if rec.get("event") == "rep":
                        reps.append((round(rec["start"] * fps), round(rec["end"] * fps)))
                elif bounds:
                    rec = json.loads(line)
                    rec.pop("keypoints", None)
                    records.append(rec)
    out = {**row, "counted": int(result.summary["reps"]), "reps": reps, "bounds": bounds}
    if bounds:
        records.sort(key=lambda r: r["seq"])  # one per frame: list index = frame index
        out["missed"] = miss_causes(out, records, spec.load(workout))
    return out


def miss_causes(row: dict, records: list[dict], workout: spec.Workout) -> dict[str, int]:
    """Why each annotated rep that no counted rep ended in was missed, read from the per-frame
    records over its frames: gated (out of position half the time or more), a workout without a
    level, the level crossing both thresholds yet no rep (merged with a neighbour, a state's
    min_time), or, by the level's sources: the rep moved less than 0.65 of a ``min_range`` that
    held the range (clamped), less than 0.65 of a calibrated range widened by other movement in the
    window (range holds other movement), or enough but away from the thresholds (drift)."""
    level = next((m for m in workout.metrics.values() if m.kind == "level"), None)
    plot = next((r["plot"] for r in records if r.get("plot")), None)
    thresholds = [t["value"] for t in plot["thresholds"]] if plot else [0.35, 0.65]
    lo_th, hi_th = min(thresholds), max(thresholds)
    causes: dict[str, int] = defaultdict(int)
    for (start, end), found in zip(spans_of(row["bounds"]), matched_reps(row)["hits"], strict=True):
        seg = records[start : end + 1]
        if found or not seg:
            continue
        if sum("gate" in r for r in seg) * 2 >= len(seg):
            causes["gated"] += 1
            continue
        if level is None:
            causes["no level: fixed thresholds not crossed"] += 1
            continue
        lv = [r["metrics"].get(level.name) for r in seg if r["metrics"].get(level.name) is not None]
        if not lv:
            causes["level unknown (joints not seen)"] += 1
            continue
        if max(lv) > hi_th and min(lv) < lo_th:
            causes["level crossed both thresholds (merged, min_time)"] += 1
            continue
        votes: dict[str, int] = defaultdict(int)
        for (source, sign), min_range in zip(level.sources, level.min_range, strict=True):
            vals = [sign * r["metrics"][source] for r in seg if r["metrics"].get(source) is not None]
            low, high = seg[len(seg) // 2]["calibration"][level.name][source]
            if not vals or low is None:
                continue
            amp, span = max(vals) - min(vals), high - low
            if amp < 0.65 * min_range and span < min_range:
                votes["rep under min_range (clamped)"] += 1
            elif amp < 0.65 * max(span, min_range):
                votes["range holds other movement"] += 1
            else:
                votes["rep spans its range, away from the thresholds (drift)"] += 1
        causes[max(votes, key=votes.__getitem__) if votes else "level unknown (joints not seen)"] += 1
    return dict(causes)


def scores(rows: list[dict]) -> dict:
    """MAE and OBO of counted rows (``counted`` and ``true``)."""
    errors = [abs(r["counted"] - r["true"]) / r["true"] for r in rows]
    within = [abs(r["counted"] - r["true"]) <= 1 for r in rows]
    n = len(rows)
    return {
        "sequences": n,
        "mae": round(sum(errors) / n, 4) if n else None,
        "obo": round(sum(within) / n, 4) if n else None,
    }


def spans_of(bounds: list[int]) -> list[tuple[int, int]]:
    """Annotated boundaries (start, end, start, end, ...) as (start, end) frame pairs."""
    return list(zip(bounds[0::2], bounds[1::2], strict=False))


def matched_reps(row: dict) -> dict | None:
    """Against annotated boundaries: how many true reps hold the end of a counted rep (found; and
    which: ``hits``), how many counted reps end in no true rep (extra). None for a set without
    boundaries."""
    b = row.get("bounds") or []
    if len(b) < 2 or row["counted"] is None:
        return None
    spans = spans_of(b)
    hit = [False] * len(spans)
    extra = 0
    for _, end in row["reps"]:
        # A rep is recognized when its top or bottom state is re-entered: its end may trail the
        # annotated end by a little, so it belongs to the last span that started before it.
        k = max((i for i, (s, _) in enumerate(spans) if s <= end), default=None)
        if k is None or end > spans[k][1] + (spans[k][1] - spans[k][0]) or hit[k]:
            extra += 1
        else:
            hit[k] = True
    return {"true_reps": len(spans), "found": sum(hit), "extra": extra, "hits": hit}


def summarize(rows: list[dict], worst_n: int) -> dict:
    """Per-class and overall figures of one set's (or the pooled sets') rows."""
    counted = [r for r in rows if r["counted"] is not None]
    empty = [r for r in rows if r["counted"] is None]
    by_class: dict[str, list[dict]] = defaultdict(list)
    for r in counted:
        by_class[r["class"]].append(r)
    per_class = {cls: {"workout": rs[0]["workout"], **scores(rs)} for cls, rs in sorted(by_class.items())}
    worst = sorted(counted, key=lambda r: abs(r["counted"] - r["true"]) / r["true"], reverse=True)[:worst_n]
    matched = [m for m in (matched_reps(r) for r in counted) if m is not None]
    out = {
        "overall": scores(counted),
        "per_class": per_class,
        "undercounted": sum(r["counted"] < r["true"] for r in counted),
        "overcounted": sum(r["counted"] > r["true"] for r in counted),
        "empty_sequences": [r["name"] for r in empty],
        # Empty arrays (no pose at all) cannot be counted; shown apart, and what they would cost as 0.
        "overall_counting_empty_as_zero": scores(counted + [{**r, "counted": 0} for r in empty]),
        "worst": [{k: r[k] for k in ("class", "name", "true", "counted")} for r in worst],
        "frames": sum(r["frames"] for r in rows),
    }
    if matched:
        out["annotated_reps"] = {k: sum(m[k] for m in matched) for k in ("true_reps", "found", "extra")}
        missed: dict[str, int] = defaultdict(int)
        for r in counted:
            for cause, n in (r.get("missed") or {}).items():
                missed[cause] += n
        out["annotated_reps"]["missed_because"] = dict(sorted(missed.items(), key=lambda kv: -kv[1]))
    return out


def print_table(title: str, s: dict) -> None:
    print(f"== {title}")
    print(f"{'class':16s} {'workout':16s} {'n':>4s} {'MAE':>7s} {'OBO':>6s}")
    for cls, c in s["per_class"].items():
        print(f"{cls:16s} {c['workout']:16s} {c['sequences']:4d} {c['mae']:7.3f} {c['obo']:6.2f}")
    o = s["overall"]
    print(f"{'all':16s} {'':16s} {o['sequences']:4d} {o['mae']:7.3f} {o['obo']:6.2f}"
          f"   ({s['undercounted']} under, {s['overcounted']} over)")  # fmt: skip
    if "annotated_reps" in s:
        a = s["annotated_reps"]
        print(f"annotated reps: {a['found']} of {a['true_reps']} found, {a['extra']} counted outside any")
        for cause, n in a["missed_because"].items():
            print(f"  missed, {cause}: {n}")
    if s["empty_sequences"]:
        e = s["overall_counting_empty_as_zero"]
        print(f"{len(s['empty_sequences'])} sequences have no pose data (empty arrays) and are left out; "
              f"counting them as 0 reps: MAE {e['mae']:.3f} OBO {e['obo']:.2f}")  # fmt: skip
    print("worst:", ", ".join(f"{r['name']} {r['counted']}/{r['true']}" for r in s["worst"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", default=None,
                    help="a pose set folder; repeat for several (default: every set in ../shared/poses)")  # fmt: skip
    ap.add_argument("--csv", default="test.csv", help="label file inside each dataset folder")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--fps", type=float, default=30.0, help="frame rate of the sequences")
    ap.add_argument("--classes", default="", help="comma-separated classes (default: all)")
    ap.add_argument("--worst", type=int, default=10, help="how many of the worst sequences to list")
    ap.add_argument("--rows", default="", help="write every sequence's row (and its reps' frames) to this JSON")
    args = ap.parse_args()

    roots = [Path(d) for d in args.dataset] if args.dataset else default_datasets()
    if not roots:
        raise SystemExit(f"no pose sets under {POSES} (give --dataset DIR)")
    wanted = set(filter(None, args.classes.split(",")))
    labelled = [r for root in roots for r in read_labels(root, args.csv, wanted)]
    jobs = [(r["class"], r["name"], r["true"], r["workout"], r["path"], args.fps, r["bounds"]) for r in labelled]

    t0 = time.perf_counter()
    with ProcessPoolExecutor(max(1, args.workers)) as pool:
        rows = [{**lab, **res} for lab, res in zip(labelled, pool.map(count_one, jobs, chunksize=1), strict=True)]
    seconds = time.perf_counter() - t0

    per_set = {}
    for root in roots:
        mine = [r for r in rows if r["dataset"] == root.name]
        per_set[root.name] = {"path": str(root), **summarize(mine, args.worst)}
        print_table(root.name, per_set[root.name])
    pooled = summarize(rows, args.worst)
    if len(roots) > 1:
        print_table("pooled over " + ", ".join(per_set), pooled)
    print("published:", ", ".join(f"{k} MAE {v['mae']} OBO {v['obo']}" for k, v in PUBLISHED.items() if k != "note"))
    frames = pooled["frames"]
    print(f"{len(rows)} sequences, {frames} frames in {seconds:.1f} s "
          f"({frames / seconds:.0f} frames/s, {args.workers} workers)")  # fmt: skip
    if args.rows:
        Path(args.rows).write_text(json.dumps([{k: v for k, v in r.items() if k != "path"} for r in rows]))
    print(
        json.dumps(
            {
                "bench": "counting",
                "datasets": per_set,
                "fps": args.fps,
                "pooled": pooled,
                "published": PUBLISHED,
                "frames": frames,
                "seconds": round(seconds, 2),
                "workers": args.workers,
            }
        )
    )


if __name__ == "__main__":
    main()
