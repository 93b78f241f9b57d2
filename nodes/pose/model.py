"""The model node: one node type for every backend and device, chosen by params."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dataflow import TENSOR, TENSORS, In, Node, Out, Param
from dataflow.node import CPUS_ENV

from . import zoo
from .backends import PRECISIONS, Backend, formats_for, open_backend


class ModelNode(Node):
    """Run a pose model (zoo name or .onnx/.xml/.tflite file) on OpenVINO or ONNX Runtime."""

    inputs = [In("tensor", TENSOR, "model input, NHWC float32")]
    outputs = [Out("tensors", TENSORS, "model outputs by name")]
    params = [
        Param("model", str, "blazepose-full", "zoo name or model file"),
        Param("backend", str, "openvino", "inference engine", choices=("openvino", "onnxruntime")),
        Param("device", str, "CPU", "OpenVINO device string (CPU, GPU, NPU, MYRIAD, AUTO:...) or ORT providers"),
        Param("precision", str, "f32", "inference precision", choices=PRECISIONS),
        Param("threads", int, 0, "inference threads; 0 = the backend's choice", min=0),
        Param("requests", int, 1, "frames in flight (AsyncInferQueue); an exact feedback loop lets `lag` fly", min=1),
    ]

    def setup(self) -> None:
        self.spec, self.path = zoo.resolve(self.model, formats_for(self.backend))
        # 0 = the backend's choice, unless the run was given a share of the cores (dataflow batch).
        threads = self.threads or int(os.environ.get(CPUS_ENV, "0") or 0)
        # Only the outputs the zoo's decoder reads: the others (BlazePose's segmentation mask and
        # world landmarks) cost a third of the inference and nothing downstream looks at them.
        keep = tuple(self.spec.outputs.values()) if self.spec is not None else None
        self.runner: Backend = open_backend(
            self.backend, self.path, self.device, self.precision, threads, self.requests, keep
        )

    def max_in_flight(self) -> int:
        return self.requests

    def process(self, tensor: np.ndarray) -> Any:
        if self.requests > 1:
            return self.runner.submit(tensor, _as_outputs)
        return {"tensors": self.runner.infer(tensor)}

    def close(self) -> None:
        self.runner.close()


def _as_outputs(tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    return {"tensors": tensors}
