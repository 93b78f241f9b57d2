"""Keypoint streams as msgpack: a sink (file or TCP), a reader, and a replay source (which also
replays pose-sequence arrays, ``.npy``: see ``pose_arrays``).

Each message is a map: type "keypoints", stream, seq, t (capture time), schema, names, presence,
size, and xy/confidence/aux as little-endian float32 bytes, so a replay feeds the exact values
the live run saw. Read a file with ``read(path)`` or ``python -m nodes.recording.recording FILE``.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import msgpack
import numpy as np

from dataflow import KEYPOINTS, In, Node, Out, Param, Sample, UserError
from nodes.pose.keypoints import Keypoints

from . import pose_arrays


def pack(kp: Keypoints, stream: str, seq: int, t: float) -> dict[str, Any]:
    return {
        "type": "keypoints",
        "stream": stream,
        "seq": seq,
        "t": t,
        "schema": kp.schema,
        "names": list(kp.names),
        "presence": float(kp.presence),
        "size": list(kp.image_size),
        "xy": kp.xy.astype("<f4").tobytes(),
        "confidence": kp.confidence.astype("<f4").tobytes(),
        "aux": None if kp.aux is None else kp.aux.astype("<f4").tobytes(),
    }


def unpack(msg: dict[str, Any]) -> Keypoints:
    aux = None if msg.get("aux") is None else np.frombuffer(msg["aux"], "<f4").reshape(-1, 2).copy()
    return Keypoints(
        schema=msg["schema"],
        names=tuple(msg["names"]),
        xy=np.frombuffer(msg["xy"], "<f4").reshape(-1, 2).copy(),
        confidence=np.frombuffer(msg["confidence"], "<f4").copy(),
        presence=float(msg["presence"]),
        image_size=tuple(msg["size"]),
        aux=aux,
    )


def read(source: str | Path | IO[bytes]) -> Iterator[dict[str, Any]]:
    """Yield the messages of a recording (a path or a binary stream)."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as f:
            yield from msgpack.Unpacker(f, raw=False)
    else:
        yield from msgpack.Unpacker(source, raw=False)


class MsgpackSink(Node):
    """Write keypoints with timestamps as msgpack to a file, or stream them to tcp://host:port."""

    inputs = [In("keypoints", KEYPOINTS)]
    params = [Param("path", str, "out/keypoints.msgpack", "file path, or tcp://host:port of a consumer")]

    def setup(self) -> None:
        self.packer = msgpack.Packer()
        self.sock: socket.socket | None = None
        self.file: IO[bytes] | None = None
        url = urlparse(self.path)
        if url.scheme == "tcp":
            try:
                self.sock = socket.create_connection((url.hostname, url.port), timeout=5)
            except OSError as exc:
                raise UserError(f"node '{self.name}': cannot connect to {self.path}: {exc.strerror or exc}") from None
            return
        target = Path(self.path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.file = target.open("wb")
        except OSError as exc:
            raise UserError(f"node '{self.name}': cannot write {self.path}: {exc.strerror}") from None

    def process(self, keypoints: Keypoints) -> None:
        data = self.packer.pack(pack(keypoints, self.stream, self.seq, float(self.timestamp)))
        if self.sock is not None:
            self.sock.sendall(data)
        else:
            assert self.file is not None
            self.file.write(data)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.sock is not None:
            self.sock.close()


class KeypointsReplay(Node):
    """Replay a msgpack keypoint recording with its timestamps, or a pose-sequence array (.npy)
    at ``fps`` (at full speed by default)."""

    outputs = [Out("keypoints", KEYPOINTS)]
    params = [
        Param("path", str, doc="recording written by the msgpack sink, or a .npy pose sequence"),
        Param("realtime", bool, False, "pace messages at their recorded times"),
        Param("fps", float, 30.0, ".npy only: frame rate of the sequence", min=1e-3),
        Param("width", int, 1000, ".npy only: image width that normalized coordinates are fractions of", min=1),
        Param("height", int, 1000, ".npy only: image height that normalized coordinates are fractions of", min=1),
    ]

    def setup(self) -> None:
        if not Path(self.path).is_file():
            raise UserError(f"node '{self.name}': recording {self.path}: no such file")
        self.poses: np.ndarray | None = None
        if Path(self.path).suffix.lower() == ".npy":
            try:
                self.poses = pose_arrays.load(self.path)
            except pose_arrays.PoseArrayError as exc:
                raise UserError(f"node '{self.name}': {self.path}: {exc}") from None

    def generate(self) -> Iterator[Sample]:
        samples = self._array() if self.poses is not None else self._messages()
        start_wall = time.monotonic()
        first_t: float | None = None
        for t, sample in samples:
            first_t = t if first_t is None else first_t
            if self.realtime:
                delay = start_wall + (t - first_t) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield sample

    def _array(self) -> Iterator[tuple[float, Sample]]:
        assert self.poses is not None
        for t, kp in pose_arrays.frames(self.poses, self.fps, self.width, self.height):
            yield t, Sample({"keypoints": kp}, timestamp=t)

    def _messages(self) -> Iterator[tuple[float, Sample]]:
        try:
            for msg in read(self.path):
                if not isinstance(msg, dict) or msg.get("type") != "keypoints":
                    continue
                t = float(msg["t"])
                yield t, Sample({"keypoints": unpack(msg)}, timestamp=t, stream=msg.get("stream"))
        except (ValueError, KeyError, msgpack.UnpackException) as exc:
            raise UserError(f"node '{self.name}': {self.path} is not a keypoint recording ({exc})") from None


def main() -> None:
    """Print a recording as JSON lines."""
    for msg in read(sys.argv[1]):
        kp = unpack(msg)
        print(json.dumps({"stream": msg["stream"], "seq": msg["seq"], "t": msg["t"], "keypoints": kp.to_dict()}))


if __name__ == "__main__":
    main()
