"""Post-training INT8 quantization of a pose model with NNCF, its output heads kept f32.

Quantizing every layer broke BlazePose (landmarks off by up to 389 px): the heads are regressions
to pixel coordinates and heatmap logits, where 8-bit steps are whole pixels. The heads are found
from the graph itself, not from layer names: a head layer is one that feeds some of the model's
kept outputs but not all of them (the shared trunk feeds every output). Those stay f32 through
NNCF's ignored scope; the trunk, most of the arithmetic, runs INT8.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dataflow import UserError

# Layer types whose weights NNCF quantizes; only these are worth naming in the ignored scope.
WEIGHTED = ("Convolution", "GroupConvolution", "MatMul", "ConvolutionBackpropData")


def reached_outputs(model: Any) -> dict[str, frozenset[str]]:
    """For each operation of ``model`` (an ``ov.Model``), the names of the outputs it feeds."""
    reach: dict[str, set[str]] = {}
    for op in reversed(model.get_ordered_ops()):
        mine = reach.setdefault(op.get_friendly_name(), set())
        if op.get_type_name() == "Result":
            mine.add(op.input_value(0).get_any_name())
        for out in op.outputs():
            for target in out.get_target_inputs():
                mine |= reach.get(target.get_node().get_friendly_name(), set())
    return {name: frozenset(r) for name, r in reach.items()}


def head_layers(model: Any, heads: Iterable[str] | None = None) -> list[str]:
    """The weighted layers that feed only some of the outputs, and among them (``heads``: output
    names; None: every output) those that feed one of ``heads``."""
    reach = reached_outputs(model)
    every = frozenset(r.input_value(0).get_any_name() for r in model.get_results())
    wanted = every if heads is None else frozenset(heads)
    unknown = wanted - every
    if unknown:
        raise UserError(f"no model output {', '.join(sorted(unknown))} (outputs: {', '.join(sorted(every))})")
    return [
        op.get_friendly_name()
        for op in model.get_ordered_ops()
        if op.get_type_name() in WEIGHTED
        and reach[op.get_friendly_name()] != every
        and reach[op.get_friendly_name()] & wanted
    ]


def quantize(model: Any, tensors: Sequence[np.ndarray], keep_f32: Sequence[str], fast_bias: bool = True) -> Any:
    """``model`` quantized to INT8 by NNCF on ``tensors`` (model inputs), ``keep_f32`` layers not."""
    try:
        import nncf
    except ImportError:
        raise UserError("--int8 needs NNCF: pip install -e '.[int8]'") from None
    if not tensors:
        raise UserError("quantization needs calibration frames")
    # NNCF logs every step at INFO; the command's own lines say what it does.
    nncf.set_log_level(logging.WARNING)
    dataset = nncf.Dataset(list(tensors))
    return nncf.quantize(
        model,
        dataset,
        preset=nncf.QuantizationPreset.PERFORMANCE,
        target_device=nncf.TargetDevice.CPU,
        subset_size=len(tensors),
        fast_bias_correction=fast_bias,
        # strict=False: a name that NNCF merged into a fused pattern is not an error.
        ignored_scope=nncf.IgnoredScope(names=list(keep_f32), validate=False),
    )
