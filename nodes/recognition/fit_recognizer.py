"""Fit the pose classifier that exercise recognition ranks workouts with; writes recognizer.json.

    python -m nodes.recognition.fit_recognizer [--data DIR ...] [--out PATH]

Training data: real people's poses at the two ends of each repetition, from every pose set given
(laid out like ``../shared/poses/*``): the labelled single poses of ``salient_train.csv`` where a set
has them (the two extreme poses of each repetition of its training videos), and the two ends of each
labelled sequence of ``test.csv`` (``sequence_extremes``: the frames furthest out along the
sequence's main axis of pose variation). ``bench/fit_recognizer.py`` adds the labelled video clips
and writes the shipped file. Every real pose is also mirrored, and a pose with depth is seen from
other cameras too (its depth rescaled so bone proportions hold, turned about the vertical axis and
projected). The synthetic athlete's rest and peak poses (``motion.py``) of every shipped workout,
under small rotations and mirrored, are added: a workout no real pose shows is learned from them.
Each frame's label is (workout, extreme): 0 = the rest end of the repetition, 1 = the far end, as
the synthetic athlete's rest and peak poses tell them apart.
The classifier is an ensemble of small MLPs (scikit-learn, the `fit` extra); the product runs
them with numpy from the JSON this writes (``pose_classifier.py``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from nodes.athlete.motion import EXERCISES, Take, project
from nodes.counting import spec
from nodes.pose.schemas import BLAZEPOSE_33
from nodes.recording import pose_arrays

from . import movement
from .pose_classifier import MODEL_PATH

POSES = Path(__file__).resolve().parents[2].parent / "shared" / "poses"
# Dataset classes not spelled as our workouts (others: underscores become hyphens).
CLASS_TO_WORKOUT = {
    "bench_pressing": "bench-press",
    "pull_ups": "pull-up",
    "rope_pushdown": "tricep-pushdown",
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
# A sequence's two ends: the tenth of its frames furthest out either way along its main axis of
# variation (a set lingers at its rest end, so a wider share reaches into the far end's way there
# and back), at most this many of each (a long set must not outweigh many short ones).
EXTREME_SHARE = 0.1
EXTREMES_PER_END = 12
POSES_PER_CLASS = 800  # training poses of each workout's each extreme, drawn from all it has
# Of those, the share drawn from the synthetic athlete's poses where real ones exist. Measured in
# sample (balanced draws): 0 gave Countix top-1 0.912, RepCount-A 0.821, but misnamed the athlete's
# shoulder press, deadlift, pull-up, RDL and dips; 0.1 gave 0.878 / 0.821 and 0.25 0.865 / 0.821
# with the athlete's sessions named. 0 until a fit holds the people's figures with the athlete's.
SYNTHETIC_SHARE = 0.0


@dataclass
class PoseSet:
    """Labelled real poses of one development set."""

    name: str
    xyz: np.ndarray  # (N, 12, 3) limb joints (movement.JOINTS): x, y and depth
    labels: list[tuple[str, int]]  # (workout, extreme) of each pose
    depth: bool  # the depth keeps the body's proportions once rescaled: the poses can be turned
    groups: list[str]  # the video or sequence each pose comes from (folds keep one together)
    curated: bool = False  # picked by hand as a repetition's extremes, not found in a sequence
    # The synthetic athlete rendered and seen by the pose model (our own data, not people): kept for
    # every workout and drawn as part of the synthetic share.
    generated: bool = False

    def subset(self, keep: np.ndarray) -> PoseSet:
        """The poses where ``keep`` (booleans) is true."""
        idx = np.flatnonzero(keep)
        pick = [self.labels[i] for i in idx], [self.groups[i] for i in idx]
        return PoseSet(self.name, self.xyz[idx], pick[0], self.depth, pick[1], self.curated, self.generated)


def workout_for_class(cls: str) -> str | None:
    """A dataset class's workout, or None when no shipped workout is that exercise."""
    name = CLASS_TO_WORKOUT.get(cls, cls.replace("_", "-"))
    return name if name in spec.available() else None


def salient_poses(data: Path) -> PoseSet:
    """The labelled single poses of ``salient_train.csv`` (pixels, with the estimator's depth)."""
    poses, labels, groups = [], [], []
    with (data / "salient_train.csv").open() as f:
        rows = csv.reader(f)
        next(rows)
        for row in rows:
            workout = workout_for_class(row[1])
            if workout is None:
                continue
            parts = row[0].split("/")
            xyz = np.array(row[2:101], float).reshape(33, 3)
            poses.append(xyz[LIMBS])
            labels.append((workout, int(parts[2] == "salient2")))
            groups.append(f"{parts[1]}/{parts[3]}")
    return PoseSet(f"{data.name}/salient_train", np.array(poses).reshape(-1, 12, 3), labels, True, groups, curated=True)


def sequence_extremes(xy: np.ndarray, seen: np.ndarray, per_end: int = EXTREMES_PER_END) -> tuple[np.ndarray, ...]:
    """Frame indices of the two ends of a sequence's movement: the frames furthest out either way
    along its main axis of pose variation (the first principal component of the frames' joint angles),
    at most ``per_end`` of each, spread over the sequence. (T, 12, 2) limb joints, (T, 12) seen."""
    usable = np.flatnonzero(seen.sum(axis=1) >= 8)
    if len(usable) < 10:
        return np.array([], int), np.array([], int)
    # Joint angles, as the image shows them, rise and fall with a repetition; box coordinates (and
    # angles in the box, stretched per axis) need not: arms passing sideways widen the box.
    f = joint_angles(np.where(seen[usable, :, None], xy[usable], np.nan))
    f = np.where(np.isnan(f), np.nanmean(f, axis=0), f)
    f = np.nan_to_num(f - f.mean(axis=0))
    axis = np.linalg.svd(f, full_matrices=False)[2][0]
    along = f @ axis
    lo, hi = np.quantile(along, [EXTREME_SHARE, 1.0 - EXTREME_SHARE])
    ends = []
    for picked in (usable[along <= lo], usable[along >= hi]):
        step = max(1, len(picked) // per_end)
        ends.append(picked[::step][:per_end])
    return tuple(ends)


def joint_angles(xy: np.ndarray) -> np.ndarray:
    """(T, 8) the angles of ``movement.ANGLES`` in half turns, of (T, 12, 2) limb joints (NaN: unseen)."""
    a, b, c = (xy[:, [t[k] for t in movement.ANGLES]] for k in range(3))
    v1, v2 = a - b, c - b
    cos = np.sum(v1 * v2, axis=-1) / np.maximum(np.linalg.norm(v1, axis=-1) * np.linalg.norm(v2, axis=-1), 1e-9)
    return np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi


def sequence_poses(data: Path) -> PoseSet:
    """The two ends of each labelled sequence's repetitions (``test.csv``, ``test_poses/*.npy``),
    within the annotated repetitions where the set marks them. Poses normalized per axis on their
    own (as these sets store them) keep no depth to turn them by."""
    poses, labels, groups = [], [], []
    with (data / "test.csv").open(newline="") as f:
        for rec in csv.DictReader(f):
            workout = workout_for_class(rec["type"])
            path = data / "test_poses" / (Path(rec["name"]).stem + ".npy")
            if workout is None or not path.is_file():
                continue
            seq = pose_arrays.load(path)[:, LIMBS]
            bounds = [int(float(v)) for k, v in rec.items() if k and k[0] == "L" and k[1:].isdigit() and v]
            if bounds:
                seq = seq[min(bounds) : max(bounds) + 1]
            added = add_sequence(poses, labels, workout, seq)
            groups += [rec["name"]] * added
    return PoseSet(f"{data.name}/sequences", np.array(poses).reshape(-1, 12, 3), labels, False, groups)


def add_sequence(poses: list, labels: list, workout: str, seq: np.ndarray) -> int:
    """Append the two ends of one sequence of (T, 12, 3) limb joints (all zero: no person) to
    ``poses`` and ``labels``, each end labelled as the synthetic athlete's nearer extreme; how
    many poses were added."""
    seen = np.any(seq != 0, axis=2)
    ends = sequence_extremes(seq[..., :2], seen)
    if not all(len(e) for e in ends):
        return 0
    means = [np.nanmean(movement.frame_features(seq[e, :, :2], seen[e]), axis=0) for e in ends]
    rest, far = reference_extremes(workout)
    straight = np.nansum(np.abs(means[0] - rest)) + np.nansum(np.abs(means[1] - far))
    crossed = np.nansum(np.abs(means[0] - far)) + np.nansum(np.abs(means[1] - rest))
    for end, frames in enumerate(ends if straight <= crossed else ends[::-1]):
        poses.extend(seq[frames])
        labels.extend([(workout, end)] * len(frames))
    return sum(len(e) for e in ends)


@lru_cache(maxsize=64)
def reference_extremes(workout: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean features of the synthetic athlete's rest and peak poses of a workout: which end of a
    real repetition is which."""
    poses, labels = synthetic_poses([workout], 20, np.random.default_rng(0))
    f = movement.frame_features(np.array(poses), np.ones((len(poses), 12), bool))
    ends = np.array([end for _, end in labels])
    return f[ends == 0].mean(axis=0), f[ends == 1].mean(axis=0)


def oriented(poses: PoseSet) -> PoseSet:
    """Labelled extremes whose 0 and 1 follow the synthetic athlete's rest and peak, per workout
    (a set's own numbering of the two ends may be the other way round)."""
    labels = list(poses.labels)
    for workout in sorted({w for w, _ in labels}):
        idx = [np.array([i for i, lab in enumerate(labels) if lab == (workout, end)]) for end in (0, 1)]
        if not all(len(i) for i in idx):
            continue
        f = [movement.frame_features(poses.xyz[i, :, :2], np.ones((len(i), 12), bool)).mean(0) for i in idx]
        rest, far = reference_extremes(workout)
        if np.abs(f[0] - far).sum() + np.abs(f[1] - rest).sum() < np.abs(f[0] - rest).sum() + np.abs(f[1] - far).sum():
            for end, i in enumerate(idx):
                for k in i:
                    labels[k] = (workout, 1 - end)
    return PoseSet(poses.name, poses.xyz, labels, poses.depth, poses.groups, poses.curated, poses.generated)


def pose_sets(data: Path) -> list[PoseSet]:
    """Every labelled pose a development set folder holds: its salient poses and its sequences' ends."""
    sets = []
    if (data / "salient_train.csv").is_file():
        sets.append(oriented(salient_poses(data)))
    if (data / "test.csv").is_file():
        sets.append(sequence_poses(data))
    return sets


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


def fit(
    sets: list[PoseSet],
    seed: int = 0,
    views: int = VIEWS,
    ensemble: int = ENSEMBLE,
    per_class: int | None = POSES_PER_CLASS,
    synthetic_share: float = SYNTHETIC_SHARE,
) -> dict:
    """The classifier's parameters fitted on the real poses of ``sets``, each also seen from
    ``views`` turned cameras where its set has depth, and the synthetic athlete's poses. A workout
    some set has curated poses of learns from those alone: the ends found in sequences are for
    workouts nobody picked poses of (``generated`` sets are kept for every workout). With
    ``per_class``, every (workout, extreme) is drawn that many times, ``synthetic_share`` of them
    from the athlete's poses (all of them for a workout no real pose shows); without, the athlete's
    poses stand in only for those workouts."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(seed)
    curated = {w for poses in sets if poses.curated for w, _ in poses.labels}
    sets = [
        p if p.curated or p.generated else p.subset(np.array([w not in curated for w, _ in p.labels], bool))
        for p in sets
    ]
    seen, pairs, generated, trained_on = [], [], [], {}
    for poses in sets:
        if not poses.labels:
            continue
        copies = views if poses.depth and np.any(poses.xyz[..., 2]) else 0
        seen.append(poses.xyz[..., :2])
        pairs += 2 * poses.labels  # features() appends the mirrored copies
        generated += [poses.generated] * (2 * len(poses.labels))
        entry: dict = {"poses": len(poses.labels), "turned_views_per_pose": copies}
        if poses.generated:
            entry["generated"] = True
        if copies:
            scale = depth_scale(poses.xyz)
            seen.append(other_views(poses.xyz * np.array([1.0, 1.0, scale]), copies, rng))
            pairs += 2 * copies * poses.labels
            generated += [poses.generated] * (2 * copies * len(poses.labels))
            entry["depth_scale"] = round(scale, 2)
        trained_on[poses.name] = entry
    real = sorted({w for (w, _), gen in zip(pairs, generated, strict=True) if not gen})
    others = [w for w in spec.available() if w not in real and w in EXERCISES]
    drawn = [w for w in spec.available() if w in EXERCISES]
    syn_poses, syn_labels = synthetic_poses(drawn, 60, rng)
    x = np.concatenate([features(list(p)) for p in seen] + [features(syn_poses)])
    is_synthetic = np.concatenate([np.array(generated, bool), np.ones(2 * len(syn_labels), bool)])
    pairs += 2 * syn_labels
    workouts = real + others
    y = np.array([2 * workouts.index(w) + end for w, end in pairs])
    if not per_class:
        # Without balanced draws the athlete stands in only for the workouts no real pose shows.
        keep = ~is_synthetic | np.isin(y // 2, [workouts.index(w) for w in others])
        x, y = x[keep], y[keep]
    else:
        # Every (workout, extreme) equally often: a workout with many training poses must not be
        # the answer for poses only a little like it (front raises outnumbered jumping jacks 12 to 1).
        # A share of each comes from the synthetic athlete (all of it where no real pose shows the
        # workout): people film from anywhere, and the athlete's clean poses are one more person
        # and view, the one the synthetic sessions and the main job show.
        picked = []
        for c in np.unique(y):
            syn, got = np.flatnonzero((y == c) & is_synthetic), np.flatnonzero((y == c) & ~is_synthetic)
            n_syn = per_class if not len(got) else (round(synthetic_share * per_class) if len(syn) else 0)
            picked.append(rng.choice(syn, n_syn))
            if len(got):
                picked.append(rng.choice(got, per_class - n_syn))
        picked = np.concatenate(picked)
        x, y = x[picked], y[picked]
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
        "about": "pose classifier for exercise recognition; generated by python bench/fit_recognizer.py",
        "features": movement.FEATURES,
        "workouts": workouts,
        "real_data": real,
        "mean": np.round(mean, 5).tolist(),
        "std": np.round(std, 5).tolist(),
        "members": members,
        "trained_on": {
            "real": trained_on,
            "max_yaw_deg": MAX_YAW_DEG,
            "pitch_sd_deg": PITCH_SD_DEG,
            "synthetic_poses": len(syn_poses),
            "mirrored": True,
            "poses_per_class": per_class,
            "synthetic_share": synthetic_share,
        },
    }


def write(model: dict, out: Path) -> None:
    out.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    real = sum(v["poses"] for v in model["trained_on"]["real"].values() if not v.get("generated"))
    print(
        f"{out}: {len(model['workouts'])} workouts ({len(model['real_data'])} from real poses), "
        f"{real} real + {model['trained_on']['synthetic_poses']} synthetic poses",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, action="append", default=None,
                    help="a pose set folder (salient_train.csv and/or test.csv + test_poses/); repeat for several; "
                         "default: every set in ../shared/poses")  # fmt: skip
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    folders = args.data or sorted(p for p in POSES.glob("*") if p.is_dir())
    sets = [s for folder in folders for s in pose_sets(folder)]
    if not sets:
        where = ", ".join(map(str, folders)) or POSES
        print(f"fit_recognizer: no salient_train.csv or test.csv in {where}", file=sys.stderr)
        return 2
    if missing := missing_fit_extra():
        print(f"fit_recognizer: {missing}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    write(fit(sets, args.seed), args.out)
    print(f"fit_recognizer: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
