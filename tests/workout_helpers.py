"""Drive workout nodes directly with synthetic keypoint sequences."""

from __future__ import annotations

from typing import Any

from dataflow import Packet
from nodes.athlete.motion import Take, keypoints_sequence
from nodes.counting.reps import RepCounter


def count(exercise: str, take: Take, schema: str = "blazepose33") -> tuple[int, list[Any], RepCounter]:
    node = RepCounter("reps", {"exercise": exercise})
    node.setup()
    events = []
    for seq, (t, kp) in enumerate(keypoints_sequence(take, schema)):
        node.packet = Packet("s", seq, t, kp)
        out = node.process(kp)
        if "rep" in out:
            events.append(out["rep"])
    return node.counter.machine.reps, events, node
