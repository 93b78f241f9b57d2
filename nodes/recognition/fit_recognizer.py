"""Fit the pose classifier that exercise recognition ranks workouts with; writes recognizer.json.

    python -m nodes.recognition.fit_recognizer [--data ../shared/poses/countix-fitness] [--out PATH]

Training data: labelled single poses of real people (``salient_train.csv`` of a set laid out like
Countix-Fitness: the two extreme poses of each repetition, from training videos, never the test
sequences the benchmark measures on), mirrored, and each also seen from other cameras (its depth,
rescaled so bone proportions hold, turned about the vertical axis and projected); and, for shipped
workouts that set has no class for, the synthetic athlete's rest and peak poses (``motion.py``)
under small rotations, mirrored.
Each frame's label is (workout, extreme): 0 = one end of the repetition, 1 = the other.
The classifier is an ensemble of small MLPs (scikit-learn, the `fit` extra); the product runs
them with numpy from the JSON this writes (``pose_classifier.py``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from nodes.athlete.motion import EXERCISES, Take, project
from nodes.counting import spec
from nodes.pose.schemas import BLAZEPOSE_33

from . import movement
from .pose_classifier import MODEL_PATH

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "poses" / "countix-fitness"
# Dataset classes -> our workouts.
CLASS_TO_WORKOUT = {
    "bench_pressing": "bench-press",
    "front_raise": "front-raise",
    "lunge": "lunge",
    "pull_ups": "pull-up",
    "push_up": "push-up",
    "rope_pushdown": "tricep-pushdown",
    "sit_up": "sit-up",
    "squat": "squat",
}
LIMBS = np.array([BLAZEPOSE_33.index(j) for j in movement.JOINTS])
# Bones as pairs of indices into movement.JOINTS (upper arms, forearms, thighs, shins, shoulders,
# hips, flanks).
_J = {n: i for i, n in enumerate(movement.JOINTS)}
BONES = np.array([
    (_J[f"{s}_{a}"], _J[f"{s}_{b}"])
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"), ("shoulder", "hip"))
    for s in ("left", "right")
] + [(_J["left_shoulder"], _J["right_shoulder"]), (_J["left_hip"], _J["right_hip"])])  # fmt: skip
VIEWS = 2  # turned copies of each real pose
# How far the cameras of those copies turn (uniform, either way) and tilt (normal): angled views
# of every exercise. A quarter turn (side <-> front) gave the same top-1 on Countix-Fitness but made
# the synthetic athlete's side-view push-ups look like other workouts: the box features of a body
# seen end-on say little.
MAX_YAW_DEG = 45.0
PITCH_SD_DEG = 10.0
ENSEMBLE = 5
HIDDEN = (64, 32)


def real_poses(data: Path) -> tuple[np.ndarray, list[tuple[str, int]], list[str]]:
    """(N, 12, 3) limb joints (x, y, depth), (workout, extreme) labels and the video of each pose,
    from salient_train.csv."""
    poses, labels, videos = [], [], []
    with (data / "salient_train.csv").open() as f:
        rows = csv.reader(f)
        next(rows)
        for row in rows:
            parts = row[0].split("/")
            workout = CLASS_TO_WORKOUT.get(row[1])
            if workout is None:
                continue
            xyz = np.array(row[2:101], float).reshape(33, 3)
            poses.append(xyz[LIMBS])
            labels.append((workout, int(parts[2] == "salient2")))
            videos.append(f"{parts[1]}/{parts[3]}")
    return np.array(poses), labels, videos


def depth_scale(poses: np.ndarray) -> float:
    """The factor that puts the pose estimator's depth on the scale of x and y.

    The depth the dataset's estimator gives spans about twice the body's width and height. A body's
    proportions do not change with the view, so the right factor is the one under which each pose's
    bone lengths, as shares of their sum, vary least across all the poses."""
    best, best_spread = 1.0, np.inf
    for scale in np.arange(0.05, 1.01, 0.05):
        xyz = poses * np.array([1.0, 1.0, scale])
        length = np.linalg.norm(xyz[:, BONES[:, 0]] - xyz[:, BONES[:, 1]], axis=2)
        share = length / length.sum(axis=1, keepdims=True)
        spread = float(np.mean(share.std(axis=0) / share.mean(axis=0)))
        if spread < best_spread:
            best, best_spread = float(scale), spread
    return best


def turned(poses: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """(N, 12, 2): (N, 12, 3) poses (x right, y down, depth) seen by a camera turned ``yaw`` radians
    about the vertical axis and tilted ``pitch`` radians, projected orthographically about each
    pose's centre."""
    x, y, z = np.moveaxis(poses - poses.mean(axis=1, keepdims=True), 2, 0)
    cy, sy = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x, z = x * cy + z * sy, z * cy - x * sy
    cp, sp = np.cos(pitch)[:, None], np.sin(pitch)[:, None]
    return np.stack([x, y * cp - z * sp], axis=2)


def other_views(poses: np.ndarray, copies: int, rng: np.random.Generator) -> np.ndarray:
    """(N * copies, 12, 2): each pose seen from ``copies`` random cameras, turned up to
    ``MAX_YAW_DEG`` either way and tilted a little. Real training poses come from few camera angles
    per exercise; people film from anywhere."""
    n, yaw = len(poses), np.radians(MAX_YAW_DEG)
    return np.concatenate([
        turned(poses, rng.uniform(-yaw, yaw, n), np.radians(rng.normal(0.0, PITCH_SD_DEG, n)))
        for _ in range(copies)
    ])  # fmt: skip


def synthetic_poses(workouts: list[str], per_end: int, rng: np.random.Generator) -> tuple[list, list]:
    """Rest and peak poses of the synthetic athlete, each tilted a little (camera roll)."""
    names = tuple(movement.JOINTS)
    poses, labels = [], []
    for workout in workouts:
        take = Take(workout, 1, torso_px=100.0, size=(640, 480))
        for end, (lo, hi) in enumerate(((0.0, 0.15), (0.85, 1.0))):
            for _ in range(per_end):
                xy, _ = project(take, rng.uniform(lo, hi), names)
                angle = np.radians(rng.normal(0, 6))
                rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
                xy = (xy - xy.mean(0)) @ rot.T + rng.normal(0, 3.0, xy.shape)
                poses.append(xy)
                labels.append((workout, end))
    return poses, labels


def features(poses: list[np.ndarray]) -> np.ndarray:
    f = movement.frame_features(np.array(poses), np.ones((len(poses), 12), bool))
    return np.concatenate([f, movement.mirrored(f)])


def missing_fit_extra() -> str | None:
    """What to install when scikit-learn (the `fit` extra) is missing, or None."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return "scikit-learn is not installed (pip install -e '.[fit]')"
    return None


def fit(data: Path, seed: int = 0) -> dict:
    xyz, labels, _ = real_poses(data)
    return fit_poses(xyz, labels, seed)


def fit_poses(
    xyz: np.ndarray, labels: list[tuple[str, int]], seed: int = 0, views: int = VIEWS, ensemble: int = ENSEMBLE
) -> dict:
    """The classifier's parameters fitted on real poses ``xyz`` (N, 12, 3) with their labels, each
    also seen from ``views`` turned cameras, and the synthetic athlete's poses of the other
    shipped workouts."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(seed)
    if not np.any(xyz[..., 2]):
        views = 0  # a pose set without depth: no other views to see it from
    scale = depth_scale(xyz)
    seen = [xyz[..., :2]] + ([other_views(xyz * np.array([1.0, 1.0, scale]), views, rng)] if views else [])
    real = sorted({w for w, _ in labels})
    others = [w for w in spec.available() if w not in real and w in EXERCISES]
    syn_poses, syn_labels = synthetic_poses(others, 60, rng)
    x = np.concatenate([features(list(poses)) for poses in seen] + [features(syn_poses)])
    # features() appends the mirrored copies
    pairs = 2 * labels + 2 * views * labels + syn_labels + syn_labels
    workouts = real + others
    y = np.array([2 * workouts.index(w) + end for w, end in pairs])
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / std
    members = []
    for k in range(ensemble):
        noise = np.random.default_rng(seed + k).normal(0, 0.05, z.shape)
        clf = MLPClassifier(HIDDEN, alpha=1e-2, max_iter=800, random_state=seed + k).fit(z + noise, y)
        members.append({
            "weights": [np.round(w, 4).tolist() for w in clf.coefs_],
            "biases": [np.round(b, 4).tolist() for b in clf.intercepts_],
        })  # fmt: skip
    return {
        "about": "pose classifier for exercise recognition; generated by python -m nodes.recognition.fit_recognizer",
        "features": movement.FEATURES,
        "workouts": workouts,
        "real_data": real,
        "mean": np.round(mean, 5).tolist(),
        "std": np.round(std, 5).tolist(),
        "members": members,
        "trained_on": {
            "real_poses": len(xyz),
            "turned_views_per_real_pose": views,
            "max_yaw_deg": MAX_YAW_DEG,
            "pitch_sd_deg": PITCH_SD_DEG,
            "depth_scale": round(scale, 2),
            "synthetic_poses": len(syn_poses),
            "mirrored": True,
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="folder with salient_train.csv")
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not (args.data / "salient_train.csv").exists():
        print(f"fit_recognizer: no salient_train.csv in {args.data}", file=sys.stderr)
        return 2
    if missing := missing_fit_extra():
        print(f"fit_recognizer: {missing}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    model = fit(args.data, args.seed)
    args.out.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    print(
        f"{args.out}: {len(model['workouts'])} workouts ({len(model['real_data'])} from real poses), "
        f"{model['trained_on']['real_poses']} real + {model['trained_on']['synthetic_poses']} synthetic poses, "
        f"{time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
