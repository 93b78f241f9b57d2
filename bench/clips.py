"""Clips benchmark: every labelled clip in ../shared/videos through the whole pipeline (pose model
with feedback, filter, recognize, reps), counted with the true exercise and with ``exercise=auto``.

Folders and what their labels are good for (``--folder NAME``, repeatable; default all four):

- ``top``: ``videos/*.mp4`` + ``videos/labels.yaml``, counted by eye: exact references.
- ``clips``: ``videos/clips/`` + its ``labels.yaml``, counted by eye: exact references.
- ``workouttracker``: the source's rep-start markers (``rep_start_frames``): good to one rep. A clip
  without markers (``reps: 0``) has no known count (the person moves in them): recognition only.
- ``fitcenter``: deadlifts, ``reps: null``: recognition only.
- ``multi/`` (several people) is another issue's and is not run.

Per folder and pooled: exact / OBO (within one rep) / MAE (mean of |counted - true| / true) over the
clips with a known count, with the true exercise and with ``auto``, and ``recognized``: the share of
clips whose recognized exercise (the session's main one) is the true one. With ``auto`` a clip's
count is the reps credited to the true exercise: a wrong name counts nothing for the person.
Per clip: frames, share of frames with a person, both counts, what was recognized and when, and
the most common reason frames did not count, and with ``auto`` the recognizer's state at the clip's
end (the reps each candidate's background counter counted, the leading confidences and the true
exercise's: why a clip was misnamed or not named); ``?`` after a true count (``last_may_not_finish``):
its last rep marker starts under half the markers' median spacing before the clip ends, so that
rep may not finish in the clip. One JSON object is the last line.

Cost: the pose model's output does not depend on the exercise, so each clip goes through the pose
stages once (``graphs/pose_pipeline.yaml``, exactly as ``graphs/reps.yaml`` runs them) and its
keypoints are recorded; both counts then come from the recording through ``graphs/replay.yaml``,
which gives the same counts as ``dataflow run graphs/reps.yaml --set input=CLIP`` on the file
(``--verify`` checks that on the top-level clips; tests/test_clips_bench.py on squat-3).

The keypoint cache, also meant as real people's poses for fitting the recognizer:

- ``out/clips-cache/STEM-DIGEST.msgpack`` (``--cache DIR`` elsewhere), one file per clip, and
  ``STEM-DIGEST.json`` beside it: the clip's path, size and mtime, the settings it was recorded
  with, frames, frames with a person, seconds the pose stages took. DIGEST hashes the clip's
  resolved path, size and mtime with the pose settings (the pose graph's nodes and params, the
  model and detector files' checksums, the pose, video and recording code, the inference and
  decoding libraries' versions), so a changed clip, model or setting records afresh; the older
  file of the same clip is removed then.
- Each ``.msgpack`` is the msgpack sink's format (``nodes.recording.recording``: one map per frame
  with ``t``, ``seq``, ``schema``, ``names``, ``presence``, ``size`` and float32 ``xy`` /
  ``confidence`` / ``aux`` bytes) plus ``z``: the model's per-joint depth (float32 bytes, pixels at
  the frame's scale), which the plain sink leaves out and turned training views need. It replays
  with ``graphs/replay.yaml`` as any recording does.
- From Python: ``clip_keypoints(path)`` returns a clip's ``[(timestamp, Keypoints)]`` with depth
  (recording it first when it is not cached); ``clip_poses(path)`` the same as a float32 (T, 33, 3)
  array of x, y (pixels) and depth, all-zero where no person was found, with the frame times.
  ``labelled_clips()`` lists every clip with its folder, workout and count.

Run: DATAFLOW_MODELS=../shared/models python bench/clips.py [--folder clips] [--no-cache]
[--jobs 1] [--verify] [--cache DIR] (DATAFLOW_MODELS defaults to ../shared/models when present).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
VIDEOS = SHARED / "videos"
CACHE = ROOT / "out" / "clips-cache"
if (SHARED / "models").is_dir():
    # The zoo's files are there on machines without internet; an explicit setting still wins.
    os.environ.setdefault("DATAFLOW_MODELS", str(SHARED / "models"))

from dataflow import UserError, load_graph  # noqa: E402
from dataflow.cli import main as dataflow_main  # noqa: E402
from dataflow.graph import GraphError  # noqa: E402
from dataflow.node import CPUS_ENV  # noqa: E402
from dataflow.runtime import Runtime  # noqa: E402
from nodes.counting import spec  # noqa: E402
from nodes.pose import zoo  # noqa: E402
from nodes.pose.keypoints import Keypoints  # noqa: E402
from nodes.pose.schemas import BLAZEPOSE_33  # noqa: E402
from nodes.recording import recording  # noqa: E402

# Label exercise names -> the project's workout names (graphs/workouts/*.yaml), in one place. The
# labels mostly use the workout names already; these are the other spellings their sources use.
LABEL_TO_WORKOUT = {
    "dips": "tricep-dips",
    "tricep-dip": "tricep-dips",
    "pushup": "push-up",
    "push-ups": "push-up",
    "pull-ups": "pull-up",
    "pullup": "pull-up",
    "squats": "squat",
    "deadlifts": "deadlift",
    "rdl": "romanian-deadlift",
    "jumping-jacks": "jumping-jack",
    "jumpingjack": "jumping-jack",
    "lunges": "lunge",
    "walking-lunge": "lunge",
    "arnold-press": "shoulder-press",
}


@dataclass(frozen=True)
class Folder:
    name: str  # as --folder names it
    subdir: str  # under ../shared/videos ("" for the top level)
    kind: str  # exact: counted by eye; within-one: the source's rep markers; recognition: no count


FOLDERS = (
    Folder("top", "", "exact"),
    Folder("clips", "clips", "exact"),
    Folder("workouttracker", "workouttracker", "within-one"),
    Folder("fitcenter", "fitcenter", "recognition"),
)


@dataclass(frozen=True)
class Clip:
    folder: str
    name: str
    path: Path
    label: str  # the exercise as the label spells it
    workout: str
    true: int | None  # None: no known count (recognition only)
    # Rep markers only (workouttracker): the last marked rep starts this close to the clip's end,
    # under half the median spacing of its markers, so it may not finish (the README warns of it).
    last_may_not_finish: bool | None = None


# Bumped when what the recorder writes changes, so older caches are not read as the new format.
RECORD_FORMAT = 1
# The pose stages as graphs/reps.yaml runs them, with the depth-keeping recorder instead of the
# workout stages. Written into the cache folder; the include is absolute so it can live there.
RECORD_GRAPH = """\
# Written by bench/clips.py: graphs/pose_pipeline.yaml's keypoints recorded with their depth.
include: {pipeline}
params:
  out: out/keypoints.msgpack
nodes:
  recorder:
    type: bench.clips:DepthRecorder
    inputs: {{keypoints: decode.keypoints}}
    params: {{path: "${{out}}"}}
"""


class DepthRecorder(recording.MsgpackSink):
    """The msgpack sink plus each joint's depth (``z``), which the recognizer's turned views need;
    ``graphs/replay.yaml`` reads the files as it reads any recording (it ignores ``z``)."""

    def process(self, keypoints: Keypoints) -> None:
        msg = recording.pack(keypoints, self.stream, self.seq, float(self.timestamp))
        msg["z"] = None if keypoints.z is None else np.asarray(keypoints.z, "<f4").tobytes()
        assert self.file is not None  # a cache is a file, never a TCP consumer
        self.file.write(self.packer.pack(msg))


def fail(message: str) -> None:
    """Bad input: one line on stderr, exit 2, no traceback."""
    print(f"bench/clips.py: {message}", file=sys.stderr)
    raise SystemExit(2)


# ---------------------------------------------------------------------------------------- labels


def workout_for(label: str, where: str) -> str:
    name = LABEL_TO_WORKOUT.get(label, label)
    if name not in spec.available():
        fail(f"{where}: exercise '{label}' is no workout in graphs/workouts (add it to LABEL_TO_WORKOUT)")
    return name


def labelled_clips(folders: Iterable[str] | None = None, videos: Path = VIDEOS) -> list[Clip]:
    """Every labelled clip of the named folders (all four by default), in label order."""
    by_name = {f.name: f for f in FOLDERS}
    wanted = list(folders) if folders else list(by_name)
    clips: list[Clip] = []
    for name in wanted:
        if name not in by_name:
            fail(f"--folder {name}: no such folder (choose from {', '.join(by_name)})")
        folder = by_name[name]
        labels = videos / folder.subdir / "labels.yaml"
        if not labels.is_file():
            fail(f"{labels}: no such file (the labelled clips are in ../shared/videos)")
        for file, label in (yaml.safe_load(labels.read_text()) or {}).items():
            path = labels.parent / file
            if not path.is_file():
                fail(f"{labels}: labelled clip {file} is not there")
            true: int | None
            if folder.kind == "recognition" or label.get("reps") is None:
                true = None
            elif folder.kind == "within-one" and not label.get("rep_start_frames"):
                true = None  # no marker at all, though the person moves: the count is unknown
            else:
                true = int(label["reps"])
            workout = workout_for(str(label["exercise"]), f"{labels}: {file}")
            starts = label.get("rep_start_frames") or []
            tail = None
            if len(starts) >= 2 and label.get("frames"):
                spacing = statistics.median(b - a for a, b in itertools.pairwise(starts))
                tail = int(label["frames"]) - starts[-1] < spacing / 2
            clips.append(Clip(folder.name, file, path, str(label["exercise"]), workout, true, tail))
    return clips


# ----------------------------------------------------------------------------- keypoint cache


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sha256_files(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.relative_to(ROOT).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _model_identity(name: str) -> Any:
    """What identifies a model param's weights: the zoo entry's files (each verified against its
    checksum when used) and which of them are present, since the backend picks a format by what is
    there; for a file path, its checksum."""
    if not name or name == "none":
        return name
    path = Path(name)
    if path.suffix and path.is_file():
        return {"file": str(path.resolve()), "sha256": zoo.sha256(path)}
    try:
        s = zoo.spec(name)
    except UserError:
        return name
    return [[f.name, f.sha256, zoo.locate(f) is not None] for f in s.files]


def record_graph(cache_dir: Path) -> Path:
    """The recording graph file (written into the cache folder when missing or changed)."""
    path = cache_dir / "record-depth.yaml"
    text = RECORD_GRAPH.format(pipeline=json.dumps(str(ROOT / "graphs" / "pose_pipeline.yaml")))
    if not path.is_file() or path.read_text() != text:
        cache_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


def settings(cache_dir: Path = CACHE, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Everything besides the clip that decides its keypoints (see the module docstring)."""
    try:
        graph = load_graph(record_graph(cache_dir), [f"input={ROOT / 'README.md'}", *overrides])
    except GraphError as exc:
        fail(str(exc))
    nodes = {}
    for name, node in graph.nodes.items():
        if name == "recorder":
            continue
        params = {k: v for k, v in node.params.items() if not (name == "source" and k == "input")}
        nodes[name] = {"type": node.type_name, "params": params}
    models = {
        f"{n}.{k}": _model_identity(str(v))
        for n, node in graph.nodes.items()
        for k, v in node.params.items()
        if k in ("model", "detector")
    }
    edges = sorted(
        [e.src, e.src_port, e.dst, e.dst_port, str(e.feedback), e.lag, e.batch]
        for e in graph.edges
        if e.dst != "recorder"
    )
    code = [
        *(ROOT / "nodes" / "pose").glob("*.py"),
        ROOT / "nodes" / "video.py",
        ROOT / "nodes" / "recording" / "recording.py",
    ]
    # Inference threads follow DATAFLOW_CPUS when pose.threads is 0; keyed only when set, so the
    # usual run's key does not change.
    cpus = os.environ.get(CPUS_ENV)
    libs = ("openvino", "onnxruntime", "opencv-python-headless", "opencv-python", "numpy", "numba")
    return {
        "format": RECORD_FORMAT,
        "graph": _sha256_text((ROOT / "graphs" / "pose_pipeline.yaml").read_text()),
        "params": {k: p.value for k, p in graph.params.items() if k not in ("input", "out")},
        "nodes": nodes,
        "edges": edges,
        "models": models,
        "code": _sha256_files(code),
        "libraries": {d: _version(d) for d in libs},
        **({"cpus": cpus} if cpus else {}),
    }


def _clip_id(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"clip": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def cache_files(path: Path, cache_dir: Path, key: dict[str, Any]) -> tuple[Path, Path]:
    """The recording and its sidecar for a clip under these settings."""
    digest = _sha256_text(json.dumps({**_clip_id(path), "settings": key}, sort_keys=True, default=str))[:16]
    stem = cache_dir / f"{path.stem}-{digest}"
    return stem.with_suffix(".msgpack"), stem.with_suffix(".json")


def record(
    path: Path,
    cache_dir: Path = CACHE,
    use_cache: bool = True,
    overrides: Sequence[str] = (),
    key: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the pose stages over a clip once and record its keypoints (or find them cached).
    Returns the sidecar: recording path, frames, frames with a person, seconds, cached or not."""
    path = Path(path)
    key = settings(cache_dir, overrides) if key is None else key
    out, side = cache_files(path, cache_dir, key)
    if use_cache and out.is_file() and side.is_file():
        return {**json.loads(side.read_text()), "recording": str(out), "cached": True}
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")  # an interrupted run leaves no file that looks complete
    t0 = time.perf_counter()
    graph = load_graph(record_graph(cache_dir), [f"input={path}", f"out={partial}", *overrides])
    runtime = Runtime(graph)
    runtime.setup()
    result = runtime.run(handle_signals=False)
    seconds = time.perf_counter() - t0
    if result.exit_code != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"{path}: the pose stages failed: {result.failure}")
    try:
        presence = [float(m["presence"]) for m in recording.read(partial)]
    except (TypeError, KeyError, ValueError) as exc:  # kept for a look: it should never happen
        raise RuntimeError(f"{path}: the recording {partial} does not read back: {exc!r}") from None
    os.replace(partial, out)
    meta = {
        **_clip_id(path),
        "settings": key,
        "frames": len(presence),
        "found": sum(p >= 0.5 for p in presence),  # the counter's own "no person" threshold
        "pose_seconds": round(seconds, 3),
    }
    side.write_text(json.dumps(meta, indent=1, default=str))
    # The same clip recorded under older settings (or an older copy of it) is stale now.
    for old in cache_dir.glob(f"{path.stem}-*.json"):
        if old != side:
            try:
                stale = json.loads(old.read_text()).get("clip") == meta["clip"]
            except (OSError, ValueError):
                stale = False
            if stale:
                old.unlink(missing_ok=True)
                old.with_suffix(".msgpack").unlink(missing_ok=True)
    return {**meta, "recording": str(out), "cached": False}


def read_keypoints(recording_path: str | Path) -> list[tuple[float, Keypoints]]:
    """``[(timestamp, Keypoints)]`` of a recording, with depth where the recorder kept it."""
    frames = []
    for msg in recording.read(recording_path):
        kp = recording.unpack(msg)
        if msg.get("z") is not None:
            kp.z = np.frombuffer(msg["z"], "<f4").copy()
        frames.append((float(msg["t"]), kp))
    return frames


def clip_keypoints(
    path: str | Path, cache_dir: Path = CACHE, overrides: Sequence[str] = ()
) -> list[tuple[float, Keypoints]]:
    """A clip's keypoints per frame, ``[(timestamp, Keypoints)]`` (x, y in pixels, ``z`` the
    model's depth), from the cache; the pose stages run first when it is not there."""
    return read_keypoints(record(Path(path), cache_dir, overrides=overrides)["recording"])


def clip_poses(
    path: str | Path, cache_dir: Path = CACHE, overrides: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """A clip's poses as float32 (T, 33, 3) in BlazePose order (x, y in pixels, depth), all zero
    where no person was found (presence < 0.5), and the (T,) frame times in seconds."""
    frames = clip_keypoints(path, cache_dir, overrides)
    return pose_array(frames), np.array([t for t, _ in frames], np.float64)


def pose_array(frames: Sequence[tuple[float, Keypoints]]) -> np.ndarray:
    """float32 (T, 33, 3) in BlazePose order (x, y in pixels, depth) of recorded keypoint frames, all
    zero where no person was found (presence < 0.5)."""
    poses = np.zeros((len(frames), len(BLAZEPOSE_33), 3), np.float32)
    for i, (_, kp) in enumerate(frames):
        if kp.presence < 0.5 or kp.names != BLAZEPOSE_33:
            continue
        poses[i, :, :2] = kp.xy
        if kp.z is not None:
            poses[i, :, 2] = kp.z
    return poses


# ----------------------------------------------------------------------------------- counting


def count(recording_path: str | Path, exercise: str, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Count a recording through graphs/replay.yaml with ``exercise`` (a workout or ``auto``):
    the summary's exercise, reps and reps per exercise, the first decision, why frames did not count."""
    with tempfile.TemporaryDirectory() as tmp:
        sets = [f"recording={recording_path}", f"exercise={exercise}", f"out={tmp}/reps.jsonl", "session.print=false"]
        sets += overrides
        runtime = Runtime(load_graph(ROOT / "graphs" / "replay.yaml", sets))
        runtime.setup()
        result = runtime.run(handle_signals=False)
        if result.exit_code != 0:
            raise RuntimeError(f"{recording_path}: counting failed: {result.failure}")
        first: list | None = None
        frames = blocked = 0
        gates: Counter[str] = Counter()
        with open(f"{tmp}/reps.jsonl") as f:
            for line in f:
                rec = json.loads(line)
                if "event" in rec:
                    continue
                frames += 1
                if first is None and rec.get("exercise"):
                    first = [rec["timestamp"], rec["exercise"]]
                if not rec.get("in_position"):
                    blocked += 1
                    gates[rec.get("gate") or "no exercise named"] += 1
    s = result.summary
    return {
        "evidence": _evidence(runtime) if exercise == "auto" else None,
        "exercise": s.get("exercise"),
        "reps": int(s.get("reps") or 0),
        "exercises": {k: v["reps"] for k, v in (s.get("exercises") or {}).items()},
        "first": first,
        "not_in_position": round(blocked / frames, 3) if frames else None,
        "gate": gates.most_common(1)[0][0] if gates else None,
    }


def _evidence(runtime: Runtime) -> dict[str, Any] | None:
    """What the recognizer held at the clip's end (its last bout): the reps each candidate's own
    counter counted in the background, and each candidate's confidence. Read from the finished
    run's recognize node, so why a clip was misnamed or not named shows without a second pass;
    None when the graph has no such node or its internals have moved."""
    try:
        recognizer = runtime.workers["recognize"].nodes()[0].recognizer
        scores = recognizer.scores()
        reps = dict(recognizer.bout.reps) if recognizer.bout is not None else {}
    except (AttributeError, KeyError, IndexError):
        return None
    return {"reps": reps, "scores": {k: round(v, 3) for k, v in sorted(scores.items(), key=lambda kv: -kv[1])}}


def count_clip(job: tuple[Clip, str, Sequence[str]]) -> dict[str, Any]:
    """Both counts of one recorded clip: with its true exercise and with ``auto``."""
    clip, rec_path, overrides = job
    truth = count(rec_path, clip.workout, overrides)
    auto = count(rec_path, "auto", overrides)
    return {
        "true_exercise": {"counted": truth["reps"], "not_in_position": truth["not_in_position"], "gate": truth["gate"]},
        "auto": {
            "recognized": auto["exercise"],
            # A wrong name counts nothing for the person: only the true exercise's reps are theirs.
            "counted": auto["exercises"].get(clip.workout, 0),
            "exercises": auto["exercises"],
            "first_decision": auto["first"],
            **_evidence_row(auto["evidence"], clip.workout),
        },
    }


def _evidence_row(evidence: dict[str, Any] | None, workout: str) -> dict[str, Any]:
    """The recognizer's end state, short: background reps, the three leading confidences and the
    true exercise's."""
    if evidence is None:
        return {}
    scores = evidence["scores"]
    return {
        "background_reps": evidence["reps"],
        "leading": dict(list(scores.items())[:3]),
        "true_confidence": scores.get(workout),
    }


def record_clip(job: tuple[Clip, Path, bool, dict]) -> dict[str, Any]:
    clip, cache_dir, use_cache, key = job
    return record(clip.path, cache_dir, use_cache, key=key)


def scores(rows: list[dict], mode: str) -> dict[str, Any]:
    """exact / OBO / MAE of ``mode`` (true_exercise or auto) over the rows with a known count."""
    counted = [r for r in rows if r["true"] is not None]
    n = len(counted)
    if not n:
        return {"clips": 0, "exact": None, "exact_share": None, "obo": None, "mae": None}
    diffs = [abs(r[mode]["counted"] - r["true"]) for r in counted]
    with_reps = [(d, r["true"]) for d, r in zip(diffs, counted, strict=True) if r["true"] > 0]
    return {
        "clips": n,
        "exact": sum(d == 0 for d in diffs),
        "exact_share": round(sum(d == 0 for d in diffs) / n, 4),
        "obo": round(sum(d <= 1 for d in diffs) / n, 4),
        "mae": round(sum(d / t for d, t in with_reps) / len(with_reps), 4) if with_reps else None,
    }


def summarize(rows: list[dict]) -> dict[str, Any]:
    n = len(rows)
    hits = sum(r["auto"]["recognized"] == r["workout"] for r in rows)
    return {
        "clips": n,
        "true_exercise": scores(rows, "true_exercise"),
        "auto": scores(rows, "auto"),
        "recognized": hits,
        "recognized_share": round(hits / n, 4) if n else None,
    }


# ------------------------------------------------------------------------------------- verify


VERIFIED_KEYS = ("exercise", "reps", "exercises", "rep_events")


def verify(clip: Clip, rec_path: str, tmp: Path, modes: Sequence[str] = ("true_exercise", "auto")) -> dict[str, Any]:
    """Counting from the recording against ``dataflow run graphs/reps.yaml`` on the file itself,
    with the true exercise and/or with auto: the same exercise, reps, reps per exercise and rep
    events (VERIFIED_KEYS of the summaries) or not."""
    out: dict[str, Any] = {}
    for mode in modes:
        exercise = "auto" if mode == "auto" else clip.workout
        live, replayed = tmp / "live.json", tmp / "replay.json"
        runs = (("reps.yaml", f"input={clip.path}", live), ("replay.yaml", f"recording={rec_path}", replayed))
        for graph, source, summary in runs:
            args = ["run", str(ROOT / "graphs" / graph), "-q", "--summary-json", str(summary)]
            for s in (source, f"exercise={exercise}", f"out={tmp / 'r.jsonl'}", "session.print=false"):
                args += ["--set", s]
            if dataflow_main(args) != 0:
                raise RuntimeError(f"{clip.name}: dataflow run {graph} failed")
        a, b = (json.loads(p.read_text()) for p in (live, replayed))
        same = all(a.get(k) == b.get(k) for k in VERIFIED_KEYS)
        out[mode] = {
            "same": same,
            "file": a["reps"],
            "recording": b["reps"],
        }
    return out


# --------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", action="append", help="top, clips, workouttracker or fitcenter (repeatable)")
    ap.add_argument("--videos", type=Path, default=VIDEOS, help="the labelled clips (default ../shared/videos)")
    ap.add_argument("--cache", type=Path, default=CACHE, help="keypoint cache folder (default out/clips-cache)")
    ap.add_argument("--no-cache", action="store_true", help="run the pose stages on every clip afresh")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (the pose stages already take 2 cores)")
    ap.add_argument(
        "--verify", action="store_true", help="also run reps.yaml on the top-level clips' files and compare"
    )
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a graph param as dataflow run --set does (recognize.model=FILE)")  # fmt: skip
    args = ap.parse_args(argv)
    if not args.videos.is_dir():
        fail(f"{args.videos}: no such folder (the labelled clips are in ../shared/videos)")
    clips = labelled_clips(args.folder, args.videos)
    if not clips:
        fail("no labelled clips in the chosen folders")
    jobs = max(1, args.jobs)

    t0 = time.perf_counter()
    key = settings(args.cache)
    try:
        with ProcessPoolExecutor(jobs) as pool:
            recs = list(pool.map(record_clip, [(c, args.cache, not args.no_cache, key) for c in clips], chunksize=1))
            t_pose = time.perf_counter() - t0
            count_jobs = [(c, r["recording"], args.set) for c, r in zip(clips, recs, strict=True)]
            counts = list(pool.map(count_clip, count_jobs, chunksize=1))
    except UserError as exc:
        fail(str(exc))
    t_count = time.perf_counter() - t0 - t_pose

    rows = []
    for clip, rec, cnt in zip(clips, recs, counts, strict=True):
        rows.append({
            "folder": clip.folder,
            "clip": clip.name,
            "exercise": clip.label,
            "workout": clip.workout,
            "true": clip.true,
            "last_may_not_finish": clip.last_may_not_finish,
            "frames": rec["frames"],
            "found": round(rec["found"] / rec["frames"], 3) if rec["frames"] else 0.0,
            "pose_seconds": rec["pose_seconds"],
            "cached": rec["cached"],
            **cnt,
        })  # fmt: skip

    verified = {}
    if args.verify:
        with tempfile.TemporaryDirectory() as tmp:
            for clip, rec in zip(clips, recs, strict=True):
                if clip.folder == "top":
                    verified[clip.name] = verify(clip, rec["recording"], Path(tmp))
    seconds = time.perf_counter() - t0

    folders = [f.name for f in FOLDERS if any(r["folder"] == f.name for r in rows)]
    per_folder = {f: summarize([r for r in rows if r["folder"] == f]) for f in folders}
    pooled = summarize(rows)
    kinds = {f.name: f.kind for f in FOLDERS}

    def fmt(c: int | None) -> str:
        return "-" if c is None else str(c)

    print(f"{'folder':15s} {'clip':48s} {'workout':18s} {'true':>4s} {'cnt':>4s} {'auto':>4s} "
          f"{'found':>5s}  recognized (first decision)      gate (true exercise)")  # fmt: skip
    for r in rows:
        a = r["auto"]
        first = f"{a['first_decision'][1]} at {a['first_decision'][0]:.1f}s" if a["first_decision"] else "never"
        mark = "" if a["recognized"] == r["workout"] else " x"
        t = r["true_exercise"]
        gate = f"{t['not_in_position']:.2f} {t['gate']}" if t["gate"] else ""
        true = fmt(r["true"]) + ("?" if r["last_may_not_finish"] else "")
        print(f"{r['folder']:15s} {r['clip'][:48]:48s} {r['workout']:18s} {true:>4s} "
              f"{t['counted']:4d} {a['counted']:4d} {r['found']:5.2f}  "
              f"{(str(a['recognized']) + mark + ' (' + first + ')')[:32]:32s} {gate[:40]}")  # fmt: skip
    print()
    print(f"{'folder':15s} {'kind':12s} {'clips':>5s} {'counted':>7s} {'exact':>6s} {'OBO':>5s} {'MAE':>6s} "
          f"{'exact':>6s} {'OBO':>5s} {'MAE':>6s} {'recognized':>10s}   (true exercise | auto)")  # fmt: skip

    def line(name: str, kind: str, s: dict) -> None:
        t, a = s["true_exercise"], s["auto"]

        def num(x: float | None, w: int, p: int) -> str:
            return f"{'-':>{w}s}" if x is None else f"{x:{w}.{p}f}"

        exact_t = f"{t['exact']}/{t['clips']}" if t["clips"] else "-"
        exact_a = f"{a['exact']}/{a['clips']}" if a["clips"] else "-"
        print(f"{name:15s} {kind:12s} {s['clips']:5d} {t['clips']:7d} {exact_t:>6s} {num(t['obo'], 5, 2)} "
              f"{num(t['mae'], 6, 3)} {exact_a:>6s} {num(a['obo'], 5, 2)} {num(a['mae'], 6, 3)} "
              f"{s['recognized']:>4d}/{s['clips']:<5d}")  # fmt: skip

    for f in folders:
        line(f, kinds[f], per_folder[f])
    line("pooled", "", pooled)
    misses = [r for r in rows if r["auto"]["recognized"] != r["workout"]]
    if misses and "leading" in misses[0]["auto"]:
        print("\nnot recognized, the recognizer at the clip's end (confidence; reps its background counters counted):")
        for r in misses:
            a = r["auto"]
            lead = ", ".join(f"{k} {v:.2f}" for k, v in a["leading"].items())
            reps = ", ".join(f"{k} {v}" for k, v in sorted(a["background_reps"].items(), key=lambda kv: -kv[1])[:4])
            print(f"  {r['clip'][:40]:40s} {r['workout']:17s} -> {a['recognized']!s:12s} "
                  f"true {a['true_confidence']:.2f}; {lead}; reps: {reps or 'none'}")  # fmt: skip
    for name, v in verified.items():
        said = [
            f"{m} file {x['file']} recording {x['recording']} {'same' if x['same'] else 'DIFFERENT'}"
            for m, x in v.items()
        ]
        print(f"verify {name}: " + ", ".join(said))
    cached = sum(r["cached"] for r in rows)
    frames = sum(r["frames"] for r in rows)
    print(f"{len(rows)} clips, {frames} frames: pose stages {t_pose:.1f} s ({cached} clips cached), "
          f"counting {t_count:.1f} s, all {seconds:.1f} s wall, {jobs} job(s)")  # fmt: skip

    floors = {}
    for f in folders:
        s = per_folder[f]
        if s["recognized_share"] is not None:
            floors[f"{f}: >= 90% recognized"] = s["recognized_share"] >= 0.9
        if kinds[f] == "exact" and s["true_exercise"]["clips"]:
            t = s["true_exercise"]
            floors[f"{f}: every clip exact with the true exercise"] = t["exact"] == t["clips"]
        if kinds[f] == "within-one" and s["true_exercise"]["clips"]:
            floors[f"{f}: >= 90% within one rep"] = s["true_exercise"]["obo"] >= 0.9
    print(json.dumps({
        "bench": "clips",
        "videos": str(args.videos),
        "folders": {f: {"kind": kinds[f], **per_folder[f]} for f in folders},
        "pooled": pooled,
        "floors": floors,
        "clips": rows,
        "verify": verified,
        "frames": frames,
        "cached_clips": cached,
        "pose_seconds": round(t_pose, 1),
        "counting_seconds": round(t_count, 1),
        "seconds": round(seconds, 1),
        "jobs": jobs,
        "cache": str(args.cache),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
