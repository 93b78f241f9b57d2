"""`dataflow models list | pull NAME | convert NAME --to ir|onnx [--fp16 | --int8 [--calibrate CLIP ...]]`."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from dataflow import UserError

from . import zoo


def register(sub: argparse._SubParsersAction) -> Callable[[argparse.Namespace], int]:
    p = sub.add_parser("models", help="the model zoo: list, pull, convert")
    verbs = p.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="names, variants, sizes, cached or not")
    pull = verbs.add_parser("pull", help="fetch and verify a model")
    pull.add_argument("name")
    conv = verbs.add_parser("convert", help="convert to OpenVINO IR or ONNX")
    conv.add_argument("name")
    conv.add_argument("--to", choices=("ir", "onnx"), required=True)
    conv.add_argument("--fp16", action="store_true", help="IR weights in FP16 (the compute stick's format)")
    conv.add_argument("--out", help="output folder (default: the cache)")
    conv.add_argument("--int8", action="store_true", help="IR quantized to INT8 (NNCF; heads f32), the [int8] extra")
    conv.add_argument(
        "--calibrate", nargs="+", default=[], metavar="CLIP", help="--int8: your clips beside the synthetic athlete"
    )
    conv.add_argument("--frames", type=int, default=0, help="--int8: calibration frames (default 300)")
    return run


def run(args: argparse.Namespace) -> int:
    if args.verb == "list":
        return _list()
    if args.verb == "pull":
        for path in zoo.pull(args.name):
            print(path)
        return 0
    return _convert(args)


def _list() -> int:
    rows = [("name", "variant", "decoder", "input", "size MB", "cached")]
    for s in zoo.load_manifest().values():
        size = sum(f.size or 0 for f in s.files if f.fmt != "onnx" and not f.made) / 1e6
        rows.append((s.name, s.variant, s.decoder, f"{s.width}x{s.height}", f"{size:.1f}", _cached(s)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _cached(s: zoo.ModelSpec) -> str:
    have = [f.fmt for f in s.files if zoo.locate(f) is not None]
    return ",".join(have) if have else "no"


def _convert(args: argparse.Namespace) -> int:
    if (args.int8 or args.calibrate or args.frames) and args.to != "ir":
        raise UserError("--int8, --calibrate and --frames make an OpenVINO IR: use --to ir")
    if args.frames < 0:
        raise UserError(f"--frames must be at least 1 (got {args.frames})")
    s, src = zoo.resolve(args.name, ("tflite", "onnx"))
    if args.to == "ir":
        from .int8 import make_ir

        folder = (s.name if s else src.stem) + ("-int8" if args.int8 else "")
        out_dir = Path(args.out) if args.out else zoo.cache_dir() / folder
        # The IR holds only the outputs the zoo's decoder reads, as the backends compute from the source.
        target = make_ir(s, src, out_dir, args.fp16, args.int8, args.frames, args.calibrate)
        print(target)
        return 0
    out_dir = Path(args.out) if args.out else zoo.cache_dir() / (s.name if s else src.stem)
    out_dir.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("tf2onnx") is None:
        raise UserError("--to onnx needs tf2onnx and TensorFlow: pip install -e '.[onnx]'")
    if src.suffix != ".tflite":
        raise UserError(f"{src.name} is already ONNX")
    target = out_dir / f"{src.stem}.onnx"
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(src), "--output", str(target), "--opset", "17"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"tf2onnx failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    print(target)
    return 0
