"""View-robustness benchmark of the recognizer's pose classifier: is a pose still its workout when
the camera stands somewhere else than in the training videos?

Labelled real poses (``salient_train.csv``, which has each joint's depth) are split by video into
folds. For each fold, the classifier is fitted on the other folds' videos (as
``python -m nodes.recognition.fit_recognizer`` does, one MLP instead of an ensemble, to keep it short)
with and without the turned training views, then scores the held-out videos' poses seen from cameras
turned 0, 30, 60 and 90 degrees about the vertical axis (each pose's depth rescaled so bone
proportions hold, as in fitting). Reported: per-pose top-1 of the workout (its two extreme poses
summed) among every shipped workout, per turn, with and without the turned views.
Prints a table and one JSON object as the last line. Needs the `fit` extra (scikit-learn).

Run: python bench/recognition_views.py [--dataset DIR] [--folds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nodes.recognition import fit_recognizer, movement  # noqa: E402
from nodes.recognition.pose_classifier import PoseClassifier  # noqa: E402

TURNS_DEG = (0, 30, 60, 90)


def top1(clf: PoseClassifier, poses: np.ndarray, labels: list[tuple[str, int]]) -> float:
    f = movement.frame_features(poses, np.ones(poses.shape[:2], bool))
    best = clf.probabilities(f).sum(axis=2).argmax(axis=1)
    truth = np.array([clf.workouts.index(w) for w, _ in labels])
    return float(np.mean(best == truth))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "poses" / "countix-fitness")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    if not (args.dataset / "salient_train.csv").is_file():
        raise SystemExit(f"{args.dataset}: no salient_train.csv")
    if missing := fit_recognizer.missing_fit_extra():
        raise SystemExit(f"recognition_views: {missing}")
    t0 = time.perf_counter()
    poses = fit_recognizer.oriented(fit_recognizer.salient_poses(args.dataset))
    xyz, labels = poses.xyz, poses.labels
    scale = fit_recognizer.depth_scale(xyz)
    names = sorted(set(poses.groups))
    fold_of = dict(zip(names, np.random.default_rng(0).permutation(len(names)) % args.folds, strict=True))
    fold = np.array([fold_of[v] for v in poses.groups])
    hits: dict[str, dict[int, list[float]]] = {"without": {}, "with": {}}
    for k in range(args.folds):
        train, test = fold != k, fold == k
        test_labels = [lab for lab, keep in zip(labels, test, strict=True) if keep]
        held_out = xyz[test] * np.array([1.0, 1.0, scale])
        for variant, views in (("without", 0), ("with", fit_recognizer.VIEWS)):
            clf = PoseClassifier(fit_recognizer.fit([poses.subset(train)], seed=k, views=views, ensemble=1))
            for deg in TURNS_DEG:
                n = len(test_labels)
                seen = fit_recognizer.turned(held_out, np.full(n, np.radians(deg)), np.zeros(n))
                hits[variant].setdefault(deg, []).append(top1(clf, seen, test_labels) * n)
        print(f"fold {k + 1}/{args.folds} done, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    total = len(labels)
    result = {v: {str(d): round(sum(h) / total, 4) for d, h in per.items()} for v, per in hits.items()}
    print(f"held-out videos' poses, top-1 workout among all shipped ones ({args.folds} folds by video)")
    print("camera turn (deg)   " + "".join(f"{d:>8}" for d in TURNS_DEG))
    for variant in ("without", "with"):
        print(f"{variant + ' turned views':20s}" + "".join(f"{result[variant][str(d)]:8.3f}" for d in TURNS_DEG))
    summary = {
        "bench": "recognition_views",
        "dataset": str(args.dataset),
        "folds": args.folds,
        "poses": total,
        "depth_scale": round(scale, 2),
        "top1_by_turn_deg": result,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
