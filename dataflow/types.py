"""Port types: what travels on an edge, checked when the graph is built.

The engine knows these only as names with a compatibility rule; what a frame or a
keypoint set *is* belongs to the nodes. ``Keypoints`` carries its joint schema so a
consumer can say which joints it needs and the check can name what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PortType:
    """A named port type. ``any`` is compatible with every other type in both directions."""

    name: str

    def __str__(self) -> str:
        return self.name

    def feeds(self, consumer: PortType) -> str | None:
        """Return None if a value of this type may go to ``consumer``, else why not."""
        if self.name == "any" or consumer.name == "any" or self.name == consumer.name:
            return None
        return f"type {self} cannot feed {consumer}"


@dataclass(frozen=True)
class KeypointsType(PortType):
    """Keypoints with a joint schema (``joints``, known once the producer's params are) and,
    on an input, the joints the consumer requires."""

    name: str = "keypoints"
    schema: str | None = None
    joints: tuple[str, ...] | None = None
    requires: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return f"keypoints[{self.schema}]" if self.schema else "keypoints"

    def feeds(self, consumer: PortType) -> str | None:
        base = PortType.feeds(self, consumer)
        if base is not None or not isinstance(consumer, KeypointsType):
            return base
        if self.joints is None or not consumer.requires:
            return None
        missing = [j for j in consumer.requires if j not in self.joints]
        if missing:
            return f"needs {', '.join(missing)}; {self.schema or 'the producer'} gives joints: " + ", ".join(
                self.joints
            )
        return None

    def with_schema(self, schema: str, joints: tuple[str, ...]) -> KeypointsType:
        return KeypointsType(schema=schema, joints=tuple(joints), requires=self.requires)

    def requiring(self, joints: tuple[str, ...]) -> KeypointsType:
        return KeypointsType(schema=self.schema, joints=self.joints, requires=tuple(joints))


ANY = PortType("any")
FRAME = PortType("frame")
TENSOR = PortType("tensor")
TENSORS = PortType("tensors")
KEYPOINTS = KeypointsType()
ROI = PortType("roi")
SCALAR = PortType("scalar")
EVENT = PortType("event")
RECORD = PortType("record")
