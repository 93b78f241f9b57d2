"""Calibration frames for post-training quantization: model inputs cropped as the pose stages crop
them, from the synthetic athlete (any number, any exercise) and from a user's own clips.

Each source runs through ``pose_pipeline.yaml`` with the f32 model, exact lag-1 feedback and the
person detector, so the crops are the ones the quantized model will be given: tracked, rotated and
scaled around a person, plus the detector's crops where tracking starts or is lost. A tap node
beside the model keeps every crop; an even spread of them is the calibration set.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dataflow import TENSOR, In, Node, Param, UserError

# The rendered athlete's share of the frames: every kind of movement the workouts have (standing,
# floor, arms overhead, lying, hinging), each exercise's own range. The frames are the same on
# every machine (the athlete's seed is fixed), so the zoo's INT8 model is reproducible.
SYNTHETIC_SESSIONS = (
    "synthetic:squat*3,push-up*3",
    "synthetic:lunge*2,jumping-jack*3,shoulder-press*2",
    "synthetic:sit-up*2,deadlift*2,bicep-curl*2",
    "synthetic:leg-raise*2,lateral-raise*2,romanian-deadlift*2,plank*1",
)
DEFAULT_FRAMES = 300


class TensorTap(Node):
    """Keep every model input it is given, in order (for the calibration set)."""

    inputs = [In("tensor", TENSOR, "model input, NHWC float32")]
    params = [Param("key", str, "", "the collection the tensors go to")]
    stateful = True
    collected: ClassVar[dict[str, list[np.ndarray]]] = {}

    def process(self, tensor: np.ndarray) -> None:
        self.collected.setdefault(self.key, []).append(np.array(tensor, dtype=np.float32, copy=True))


def crops_of(source: str, model: str = "blazepose-full", max_frames: int = 0) -> list[np.ndarray]:
    """Every model input the pose stages crop from ``source`` (a clip, or a ``synthetic:`` session)."""
    from dataflow_graphs import builtin_dir

    from dataflow import load_graph
    from dataflow.runtime import Runtime

    pipeline = builtin_dir() / "pose_pipeline.yaml"
    key = uuid.uuid4().hex  # this call's tensors, whatever else runs a tap
    with tempfile.TemporaryDirectory(prefix="dataflow-calibrate-") as tmp:
        graph_path = Path(tmp) / "calibrate.yaml"
        graph_path.write_text(
            f"include: {pipeline}\n"
            "nodes:\n"
            "  tap:\n"
            "    type: 'nodes.pose.calibration:TensorTap'\n"
            "    inputs: {tensor: crop.tensor}\n"
            f"    params: {{key: {key!r}}}\n"
        )
        # One frame in flight: each crop follows the keypoints of the frame just before it.
        sets = [f"input={source}", f"model={model}", "in_flight=1", "pose.precision=f32"]
        if max_frames and not source.startswith("synthetic"):
            sets.append(f"source.max_frames={max_frames}")
        graph = load_graph(graph_path, sets)
        TensorTap.collected.pop(key, None)
        runtime = Runtime(graph)
        runtime.setup()
        result = runtime.run(handle_signals=False)
        if result.exit_code != 0:
            why = getattr(result.failure, "error", result.failure)
            raise UserError(f"calibration input {source}: {why}")
    return TensorTap.collected.pop(key, [])


def spread(items: Sequence[Any], count: int) -> list[Any]:
    """``count`` items evenly spaced over ``items`` (all of them when there are fewer)."""
    if count >= len(items):
        return list(items)
    picks = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in picks]


def calibration_tensors(
    frames: int = DEFAULT_FRAMES, clips: Sequence[str] = (), model: str = "blazepose-full", synthetic: bool = True
) -> list[np.ndarray]:
    """``frames`` model inputs spread over the synthetic sessions and ``clips``, an equal share each."""
    if frames < 1:
        raise UserError(f"calibration needs at least one frame (got {frames})")
    for clip in clips:
        if not Path(clip).exists():
            raise UserError(f"calibration clip not found: {clip}")
    sources = [*(SYNTHETIC_SESSIONS if synthetic else ()), *clips]
    if not sources:
        raise UserError("no calibration input: give clips or keep the synthetic athlete")
    share = -(-frames // len(sources))  # ceiling: every source gives its share
    out: list[np.ndarray] = []
    for source in sources:
        crops = crops_of(source, model)
        if not crops:
            raise UserError(f"calibration input {source} gave no frames")
        out += spread(crops, share)
    return spread(out, frames)
