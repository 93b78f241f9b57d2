"""Frame sources: a video file, a camera, or a folder/glob of images."""

from __future__ import annotations

import glob
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2

from dataflow import FRAME, Node, Out, Param, Sample, UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


class VideoSource(Node):
    """Frames (BGR, uint8) from a video file, a camera (index or device path) or images (folder or glob)."""

    outputs = [Out("frame", FRAME, "BGR image")]
    params = [
        Param("input", (int, str), doc="video file, camera index or device path, image folder or glob"),
        Param("realtime", bool, False, "pace a file at its frame rate, as a camera would deliver it"),
        Param("max_frames", int, 0, "stop after this many frames; 0 = all", min=0),
        Param("progress", bool, True, "progress bar on stderr when it is a terminal and the length is known"),
        Param(
            "threads",
            int,
            1,
            "decoder threads for a file; 0 = FFmpeg's choice. One keeps decoding, which runs ahead in its own "
            "node, off the cores the model needs",
            min=0,
        ),
    ]

    def setup(self) -> None:
        self._images: list[Path] | None = None
        self._cap: cv2.VideoCapture | None = None
        source = self.input
        if isinstance(source, str) and source.isdigit():
            source = int(source)
        if isinstance(source, int) or (isinstance(source, str) and source.startswith("/dev/video")):
            self._cap = cv2.VideoCapture(source)
            if not self._cap.isOpened():
                raise UserError(f"node '{self.name}': camera {source} cannot be opened")
            self._camera = True
            return
        self._camera = False
        path = Path(source)
        if any(ch in source for ch in "*?[") or path.is_dir():
            pattern = str(path / "*") if path.is_dir() else source
            self._images = sorted(Path(p) for p in glob.glob(pattern) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                raise UserError(f"node '{self.name}': no images match {source}")
            return
        if not path.exists():
            raise UserError(f"node '{self.name}': input {source}: no such file")
        open_params = [cv2.CAP_PROP_N_THREADS, self.threads] if self.threads else []
        self._cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, open_params)
        ok = self._cap.isOpened() and self._cap.get(cv2.CAP_PROP_FRAME_COUNT) > 0
        if not ok:
            raise UserError(f"node '{self.name}': input {source} is not a video file OpenCV can read")

    def generate(self) -> Iterator[Sample]:
        if self._images is not None:
            yield from self._generate_images()
            return
        cap = self._cap
        assert cap is not None
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if not self._camera else 0
        if self.max_frames:
            total = min(total, self.max_frames) if total else self.max_frames
        bar = _Progress(total) if self.progress and total and sys.stderr.isatty() else None
        t0 = time.monotonic()
        n = 0
        while not self.max_frames or n < self.max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if self._camera:
                ts = time.time()
            else:
                ts = cap.get(cv2.CAP_PROP_POS_MSEC) / 1e3
                if self.realtime:
                    delay = t0 + n / fps - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            yield Sample({"frame": frame}, timestamp=ts)
            n += 1
            if bar:
                bar.update(n)
        if n == 0:
            raise UserError(f"node '{self.name}': input {self.input} has no readable frames")
        if bar:
            bar.close()

    def _generate_images(self) -> Iterator[Sample]:
        for i, path in enumerate(self._images or []):
            if self.max_frames and i >= self.max_frames:
                return
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                raise UserError(f"node '{self.name}': {path} is not an image OpenCV can read")
            yield Sample({"frame": frame}, timestamp=float(i))

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class _Progress:
    """frames done / total, fps and ETA on one stderr line."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.t0 = time.monotonic()
        self.last = 0.0

    def update(self, n: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and n < self.total:
            return
        self.last = now
        fps = n / max(now - self.t0, 1e-9)
        eta = (self.total - n) / fps if fps > 0 else 0
        sys.stderr.write(f"\r{n}/{self.total} frames  {fps:6.1f} fps  ETA {eta:5.1f} s ")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
