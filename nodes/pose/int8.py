"""Making OpenVINO IR files of a zoo model: f32 (only the outputs its decoder reads) or INT8.

``dataflow models convert NAME --to ir [--int8 [--calibrate CLIP ...]]``. Each file made is
recorded in ``made.yaml`` beside it (its sha256, its weights' sha256, the source file's, the tool
versions, the calibration), which is how the zoo verifies a file made here that the manifest's
hash does not describe (other tool versions, a user's own calibration clips).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dataflow import UserError

from . import zoo
from .backends import prune_openvino

MADE = zoo.MADE


def tool_versions(int8: bool) -> dict[str, str]:
    """The versions that decide a made file's bytes."""
    import openvino as ov

    versions = {"openvino": ov.__version__.split("-")[0]}
    if int8:
        import nncf

        versions["nncf"] = nncf.__version__
    return versions


def make_ir(
    spec: zoo.ModelSpec | None,
    src: Path,
    out_dir: Path,
    fp16: bool = False,
    int8: bool = False,
    frames: int = 0,
    clips: Sequence[str] = (),
) -> Path:
    """Convert ``src`` to IR in ``out_dir`` (INT8 with ``int8``) and record it; the .xml's path."""
    import openvino as ov

    from .calibration import DEFAULT_FRAMES

    if int8 and fp16:
        raise UserError("--int8 and --fp16 are two different models; choose one")
    if (frames or clips) and not int8:
        raise UserError("--calibrate and --frames are for --int8")
    for clip in clips:  # before anything slow is started
        if not Path(clip).is_file():
            raise UserError(f"calibration clip not found: {clip}")
    keep = tuple(spec.outputs.values()) if spec is not None else None
    model = prune_openvino(ov.convert_model(str(src)), keep, src.name)
    record: dict[str, Any] = {"source": src.name, "source_sha256": zoo.sha256(src)}
    suffix = "-fp16" if fp16 else ""
    if int8:
        from .calibration import calibration_tensors
        from .quantize import head_layers, quantize

        frames = frames or DEFAULT_FRAMES
        print(
            f"dataflow: calibrating on {frames} frames (the synthetic athlete{' and your clips' if clips else ''})",
            file=sys.stderr,
        )
        tensors = calibration_tensors(frames, clips, model=spec.name if spec is not None else str(src))
        heads = head_layers(model)
        model = quantize(model, tensors, heads)
        record["calibration"] = {
            "frames": len(tensors),
            "synthetic": True,
            "clips": [{"name": Path(c).name, "sha256": zoo.sha256(Path(c))} for c in clips],
        }
        record["f32_layers"] = len(heads)
        suffix = "-int8"
    record["made_with"] = tool_versions(int8)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{src.stem}{suffix}.xml"
    ov.save_model(model, str(target), compress_to_fp16=fp16)
    record["sha256"] = zoo.sha256(target)
    record["bin_sha256"] = zoo.sha256(target.with_suffix(".bin"))
    write_record(target, record)
    _compare_with_zoo(target, record)
    return target


def write_record(target: Path, record: dict[str, Any]) -> None:
    """Add (or replace) ``target``'s entry in its folder's made.yaml."""
    path = target.parent / MADE
    made = zoo.read_records(target.parent)
    made[target.name] = record
    path.write_text(yaml.safe_dump({"files": made}, sort_keys=True), encoding="utf-8")


def _compare_with_zoo(target: Path, record: dict[str, Any]) -> None:
    """Say whether the file made is the zoo's (same bytes as the manifest records)."""
    for s in zoo.load_manifest().values():
        for f in s.files:
            if f.name != target.name or not f.made:
                continue
            same = f.sha256 == record["sha256"] and f.bin_sha256 == record["bin_sha256"]
            if same:
                print(f"dataflow: {target.name} is the zoo's {s.name} (sha256 {f.sha256[:12]}...)", file=sys.stderr)
            else:
                clips = record.get("calibration", {}).get("clips") or "default"
                print(
                    f"dataflow: {target.name} differs from the zoo's {s.name} (made with {f.made_with or '?'}; "
                    f"here {record['made_with']}, calibration {clips}); recorded in made.yaml",
                    file=sys.stderr,
                )
