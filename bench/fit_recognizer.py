"""Fit the shipped exercise recognizer on every development set at once, and measure it fitted
without each set in turn (leave-one-set-out).

The sets: every pose set under ../shared/poses (its salient poses and its sequences' two ends, see
``nodes.recognition.fit_recognizer``) and the labelled video clips under ../shared/videos (their
keypoints recorded with depth by bench/clips.py's cache; a clip's two ends as a sequence's). One
recognizer is fitted on all of them and written to nodes/recognition/recognizer.json (``--out``
elsewhere). Every fit also has the synthetic athlete rendered doing each shipped workout and read by
the pose stages (``rendered_set``, recorded once into out/rendered-cache): our own data, no
development set, never held out or measured on.

``--loso``: for each set, a recognizer fitted on the others only, measured on the held-out set by
the bench that measures it (bench/recognition.py for a pose set, bench/clips.py for the clips),
next to the recognizer fitted on everything measured the same way. One JSON object last.

Run: python bench/fit_recognizer.py [--loso] [--out PATH] [--seed 0] [--per-class N] [--synthetic-share S]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import clips  # noqa: E402
from dataflow import load_graph  # noqa: E402
from dataflow.runtime import Runtime  # noqa: E402
from nodes.athlete.motion import EXERCISES  # noqa: E402
from nodes.counting import spec  # noqa: E402
from nodes.recognition import fit_recognizer  # noqa: E402
from nodes.recognition.fit_recognizer import LIMBS, PoseSet  # noqa: E402
from nodes.recognition.pose_classifier import MODEL_PATH  # noqa: E402

POSES = ROOT.parent / "shared" / "poses"
VIDEOS_SET = "videos"
RENDERED_SET = "rendered"
RENDERED_CACHE = ROOT / "out" / "rendered-cache"
RENDERED_REPS = 5


def clip_set() -> PoseSet:
    """The two ends of every labelled clip's movement, from the clips' recorded keypoints."""
    poses: list = []
    labels: list = []
    groups: list = []
    for clip in clips.labelled_clips():
        seq, _ = clips.clip_poses(clip.path)
        added = fit_recognizer.add_sequence(poses, labels, clip.workout, seq[:, LIMBS])
        groups += [f"{clip.folder}/{clip.name}"] * added
    return PoseSet(VIDEOS_SET, np.array(poses).reshape(-1, 12, 3), labels, True, groups)


def rendered_set(cache_dir: Path = RENDERED_CACHE) -> PoseSet:
    """The two ends of the synthetic athlete's movement in each shipped workout, rendered and read by
    the pose stages as they read a clip (with depth). The athlete's own joint positions are drawn
    too (``fit_recognizer.synthetic_poses``), but the pose model reads a rendered figure otherwise
    than a person: a model fitted on people alone took the main job's rendered push-ups for lunges.
    Recorded once per workout and pose settings into ``cache_dir``."""
    key = {"pose": clips.settings(), "athlete": clips._sha256_files(sorted((ROOT / "nodes" / "athlete").glob("*.py")))}
    digest = clips._sha256_text(json.dumps(key, sort_keys=True))[:12]
    poses: list = []
    labels: list = []
    groups: list = []
    for workout in sorted(w for w in spec.available() if w in EXERCISES):
        path = cache_dir / f"{workout}-{digest}.msgpack"
        if not path.is_file():
            cache_dir.mkdir(parents=True, exist_ok=True)
            sets = [f"input=synthetic:{workout}*{RENDERED_REPS}", f"out={path}"]
            runtime = Runtime(load_graph(clips.record_graph(cache_dir), sets))
            runtime.setup()
            if runtime.run(handle_signals=False).exit_code != 0:
                raise SystemExit(f"rendering {workout} through the pose stages failed")
        seq = clips.pose_array(clips.read_keypoints(path))
        added = fit_recognizer.add_sequence(poses, labels, workout, seq[:, LIMBS])
        groups += [f"{RENDERED_SET}/{workout}"] * added
    return PoseSet(RENDERED_SET, np.array(poses).reshape(-1, 12, 3), labels, True, groups, generated=True)


def development_sets() -> dict[str, list[PoseSet]]:
    """Every development set's labelled poses, by set (a pose set folder's name, or ``videos``)."""
    sets = {folder.name: fit_recognizer.pose_sets(folder) for folder in sorted(POSES.glob("*")) if folder.is_dir()}
    sets[VIDEOS_SET] = [clip_set()]
    return {name: found for name, found in sets.items() if found}


def measure(held_out: str, model: Path) -> dict:
    """The held-out set's bench with ``model`` as the recognizer: its JSON summary."""
    if held_out == VIDEOS_SET:
        cmd = [sys.executable, str(ROOT / "bench" / "clips.py"), "--set", f"recognize.model={model}"]
    else:
        cmd = [sys.executable, str(ROOT / "bench" / "recognition.py"), "--dataset", str(POSES / held_out)]
        cmd += ["--set", f"recognize.model={model}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def headline(held_out: str, summary: dict) -> dict:
    """The figures that matter from a bench's summary: top-1 per class (pose sets), or the share
    recognized and counted exactly with ``auto`` per folder (clips)."""
    if held_out == VIDEOS_SET:
        return {
            name: {"recognized": f["recognized_share"], "auto_exact": f["auto"]["exact_share"]}
            for name, f in summary["folders"].items()
        }
    per_set = summary["datasets"][held_out]
    return {
        "top1": per_set["top1"],
        "per_class": {c: v["top1"] for c, v in per_set["per_class"].items()},
        "counting_auto": per_set["counting_auto"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=MODEL_PATH, help="where the recognizer fitted on everything goes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loso", action="store_true", help="also fit without each set and measure on it")
    ap.add_argument("--per-class", type=int, default=fit_recognizer.POSES_PER_CLASS,
                    help="poses drawn for each workout's each extreme (0: all there are, unbalanced)")  # fmt: skip
    ap.add_argument("--synthetic-share", type=float, default=fit_recognizer.SYNTHETIC_SHARE,
                    help="share of those drawn from the synthetic athlete's poses")  # fmt: skip
    args = ap.parse_args()
    if not 0.0 <= args.synthetic_share <= 1.0:
        ap.error(f"--synthetic-share must be between 0 and 1, not {args.synthetic_share}")
    if missing := fit_recognizer.missing_fit_extra():
        raise SystemExit(f"fit_recognizer: {missing}")
    t0 = time.perf_counter()
    sets = development_sets()
    for name, found in sets.items():
        print(f"{name}: " + ", ".join(f"{s.name} {len(s.labels)} poses" for s in found), file=sys.stderr)
    # Our own rendered athlete is no development set: every fit has it, none is measured on it.
    generated = [rendered_set()]
    print(f"{RENDERED_SET}: {len(generated[0].labels)} poses", file=sys.stderr)
    everything = [s for found in sets.values() for s in found] + generated
    fit_recognizer.write(
        fit_recognizer.fit(everything, args.seed, per_class=args.per_class, synthetic_share=args.synthetic_share),
        args.out,
    )
    result: dict = {"bench": "fit_recognizer", "out": str(args.out), "sets": list(sets)}
    if args.loso:
        result["leave_one_set_out"] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for held_out in sets:
                model = Path(tmp) / f"without-{held_out}.json"
                others = [s for name, found in sets.items() if name != held_out for s in found] + generated
                fit_recognizer.write(
                    fit_recognizer.fit(
                        others, args.seed, per_class=args.per_class, synthetic_share=args.synthetic_share
                    ),
                    model,
                )
                result["leave_one_set_out"][held_out] = {
                    "fitted_without": headline(held_out, measure(held_out, model)),
                    "fitted_on_all": headline(held_out, measure(held_out, args.out)),
                }
                print(f"{held_out}: {json.dumps(result['leave_one_set_out'][held_out])}", file=sys.stderr)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
