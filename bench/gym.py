"""Gym floor benchmark: graphs/gym.yaml on composites of the shared clips with 1, 2 and 4 people
(pushup-4 alone; squat-3 beside pushup-4; those two over the swapped pair), fps and CPU
milliseconds per frame, detector runs per frame, landmark-model runs per person and frame, and
each person's count against the clips' truth.

Prints one JSON object as its last line; the floors (2 people at >= 0.55x the fps of 1, 4 at
>= 0.28x, on 2 cores) are checked there (``floors_met``), never in the test suite.
Run: python bench/gym.py [--frames N] [--videos ../shared/videos]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from gym_helpers import clip, grid, places, write_video  # noqa: E402

from dataflow import load_graph  # noqa: E402
from dataflow.runtime import Runtime  # noqa: E402

FLOORS = {2: 0.55, 4: 0.28}
TRUTH = {"squat-3.mp4": ("squat", 3), "pushup-4.mp4": ("push-up", 4)}
LAYOUTS = {
    1: ["pushup-4.mp4"],
    2: ["squat-3.mp4", "pushup-4.mp4"],
    4: ["squat-3.mp4", "pushup-4.mp4", "pushup-4.mp4", "squat-3.mp4"],
}


def composite(videos: Path, names: list[str], path: Path, frames: int) -> None:
    def limited(name: str):
        for i, frame in enumerate(clip(videos / name)):
            if frames and i >= frames:
                return
            yield frame

    write_video(path, grid(*(limited(n) for n in names), columns=2))


def run(video: Path, people: int, records: Path) -> dict:
    graph = load_graph(ROOT / "graphs" / "gym.yaml", [f"input={video}", f"people={people}", f"out={records}",
                                                      "session.print=false"])  # fmt: skip
    runtime = Runtime(graph)
    runtime.setup()
    result = runtime.run(handle_signals=False)
    if result.exit_code != 0:
        raise SystemExit(f"gym.yaml with {people} people failed: {result.failure and result.failure.line()}")
    s = result.summary
    frames = s["frames"]
    out = {
        "frames": frames,
        "fps": s["fps"],
        "cpu_ms_per_frame": round((result.process_cpu_s or 0.0) / frames * 1e3, 2),
    }
    if people > 1:
        roi = runtime.workers["roi"].nodes()[0]
        model = runtime.workers["pose"].nodes()[0]
        out["detector_runs_per_frame"] = round(roi.detections / frames, 3)
        out["model_runs_per_frame"] = round(model.runs / frames, 3)
        out["model_runs_per_person_frame"] = round(model.runs / frames / people, 3)
        where = places(records)
        everyone = s.get("people", [])
        out["people"] = [
            {"id": p["id"], "x": round(where.get(p["id"], 0.0)), "exercise": p["exercise"], "reps": p["reps"]}
            for p in sorted(everyone, key=lambda p: p["id"])
        ]
    else:
        out["model_runs_per_frame"] = 1.0
        out["people"] = [{"exercise": s["exercise"], "reps": s["reps"]}]
    return out


def exact(layout: list[str], people: list[dict]) -> bool:
    """Every tile's person counted right: the counts of those who counted anything are the tiles'
    truths (as a multiset: the 2x2 grid repeats each clip, so places are not needed)."""
    if len(layout) == 1:
        return [(p["exercise"], p["reps"]) for p in people] == [TRUTH[layout[0]]]
    counted = sorted((p["exercise"], p["reps"]) for p in people if p["reps"])
    return counted == sorted(TRUTH[n] for n in layout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--frames", type=int, default=0, help="frames of each clip (0: all)")
    ap.add_argument("--people", type=int, nargs="*", default=[1, 2, 4])
    args = ap.parse_args()
    if not (args.videos / "squat-3.mp4").exists():
        raise SystemExit(f"bench/gym.py: no clips in {args.videos}")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.people:
            video = Path(tmp) / f"{n}.mp4"
            composite(args.videos, LAYOUTS[n], video, args.frames)
            r = run(video, n, Path(tmp) / f"{n}.jsonl")
            r["exact"] = exact(LAYOUTS[n], r["people"]) if not args.frames else None
            results[str(n)] = r
            print(f"{n} people: {json.dumps(r)}", file=sys.stderr)
    doc: dict = {"people": results}
    if "1" in results:
        base = results["1"]["fps"]
        doc["fps_vs_1"] = {k: round(v["fps"] / base, 3) for k, v in results.items() if k != "1"}
        doc["floors"] = {str(k): v for k, v in FLOORS.items()}
        doc["floors_met"] = all(doc["fps_vs_1"].get(str(k), 1.0) >= v for k, v in FLOORS.items())
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
