"""Inference backends behind one interface: OpenVINO (any device string) and ONNX Runtime."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dataflow import UserError

PRECISIONS = ("f32", "f16", "bf16")
CLOSE_WAIT = 30.0  # seconds a closing backend waits for its requests' callbacks
CALLBACK_EXIT = 0.01

# Which outputs to compute: names, or indices into the model's own output order (the zoo's
# ``outputs`` values). None computes every output the file declares.
Keep = Sequence[str | int] | None


class Backend(Protocol):
    input_shape: tuple[int, ...]
    output_names: list[str]

    def infer(self, tensor: np.ndarray) -> dict[str, np.ndarray]: ...

    def submit(self, tensor: np.ndarray, wrap: Callable[[dict[str, np.ndarray]], Any]) -> Future: ...

    def close(self) -> None: ...


def formats_for(backend: str) -> tuple[str, ...]:
    """Model file formats a backend reads, in order of preference."""
    return ("xml", "tflite", "onnx") if backend == "openvino" else ("onnx",)


class OpenVINOBackend:
    """OpenVINO on any device it accepts (CPU, GPU, NPU, MYRIAD, AUTO:..., HETERO:...)."""

    def __init__(
        self, path: Path, device: str, precision: str, threads: int, requests: int = 1, keep: Keep = None
    ) -> None:
        import openvino as ov

        core = ov.Core()
        _check_openvino_device(core, device, ov.__version__.split("-")[0])
        config: dict[str, str] = {"PERFORMANCE_HINT": "LATENCY"}
        if requests > 1:
            # Several frames in flight: let the device split itself into parallel streams.
            config = {"PERFORMANCE_HINT": "THROUGHPUT", "PERFORMANCE_HINT_NUM_REQUESTS": str(requests)}
        base = device.split(":")[0]
        if base in ("CPU", "GPU") or (base in ("AUTO", "HETERO", "MULTI") and "CPU" in device):
            # CPUs with AMX/AVX512-BF16 silently run bf16 otherwise, moving landmarks by pixels.
            config["INFERENCE_PRECISION_HINT"] = precision
        if threads > 0 and base == "CPU":
            config["INFERENCE_NUM_THREADS"] = str(threads)
        try:
            model = prune_openvino(core.read_model(str(path)), keep, path.name)
            self.compiled = core.compile_model(model, device, config)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"OpenVINO cannot load {path.name} on {device}: {first}") from None
        self.request = self.compiled.create_infer_request()
        self.input_shape = tuple(self.compiled.inputs[0].get_shape())
        self.output_names = [o.get_any_name() for o in self.compiled.outputs]
        self.queue = ov.AsyncInferQueue(self.compiled, requests) if requests > 1 else None
        if self.queue is not None:
            self.queue.set_callback(self._done)
        # Callbacks not yet returned: the queue's destructor waits for them holding the interpreter
        # lock, so it must not run while one of them still needs that lock.
        self.running = 0
        self.returned = threading.Condition()

    def _outputs(self, request: Any) -> dict[str, np.ndarray]:
        # Copies: the next inference reuses the request's buffers while downstream still reads.
        return {n: request.get_output_tensor(i).data.copy() for i, n in enumerate(self.output_names)}

    def infer(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        self.request.infer({0: tensor})
        return self._outputs(self.request)

    def submit(self, tensor: np.ndarray, wrap: Callable[[dict[str, np.ndarray]], Any]) -> Future:
        """Start an inference on a free request of the AsyncInferQueue; the future resolves to
        ``wrap(outputs)``."""
        future: Future = Future()
        assert self.queue is not None
        with self.returned:
            self.running += 1
        self.queue.start_async({0: tensor}, (future, wrap))
        return future

    def close(self) -> None:
        """Let the compiled model go: the queue's callback is a bound method the library holds, a
        cycle Python's collector cannot see, so without this every run's model stays in memory."""
        # Not wait_all(), nor dropping the queue at once: either holds the interpreter lock while it
        # waits for the requests, and a callback that has delivered its result may still need the
        # lock to return (a run hung here under load). Waiting on a condition releases the lock.
        if self.queue is not None:
            with self.returned:
                self.returned.wait_for(lambda: self.running == 0, timeout=CLOSE_WAIT)
            time.sleep(CALLBACK_EXIT)  # the last callback's few steps after it said it returned
        self.queue = self.request = self.compiled = None

    def _done(self, request: Any, userdata: tuple[Future, Callable]) -> None:
        future, wrap = userdata
        try:
            future.set_result(wrap(self._outputs(request)))
        except Exception as exc:  # delivered to the engine through the future
            future.set_exception(exc)
        finally:
            with self.returned:
                self.running -= 1
                self.returned.notify_all()


def prune_openvino(model: Any, keep: Keep, label: str) -> Any:
    """``model`` (an ``ov.Model``) with only the ``keep`` outputs. Compiling drops every layer
    that then feeds no output: BlazePose's segmentation mask (256x256) and world landmarks, which
    no decoder reads, are a third of its inference time."""
    if keep is None:
        return model
    results = list(model.get_results())
    wanted = {
        _pick(keep_one, [r.output(0).get_names() | r.input_value(0).get_names() for r in results], label)
        for keep_one in keep
    }
    for i, result in enumerate(results):
        if i not in wanted:
            model.remove_result(result)
    return model


def _pick(want: str | int, names: list[set[str]], label: str) -> int:
    """The index of output ``want`` (a name or an index) among outputs known by ``names``."""
    if isinstance(want, int):
        if -len(names) <= want < len(names):
            return want % len(names)
    else:
        for i, known in enumerate(names):
            if want in known:
                return i
    have = ", ".join(sorted(n for known in names for n in known)) or "none"
    raise UserError(f"model {label} has no output {want!r} (its outputs: {have})")


def _prune_onnx(path: Path, keep: Keep) -> str | bytes:
    """The ONNX file (its path, or the serialized model with only the ``keep`` outputs): ONNX
    Runtime's graph optimizer then removes the nodes nothing reads, as OpenVINO's compiler does."""
    if keep is None:
        return str(path)
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # a damaged file: ONNX Runtime would say the same
        raise UserError(f"onnxruntime cannot load {path.name}: {str(exc).splitlines()[0]}") from None
    outputs = list(model.graph.output)
    wanted = {_pick(k, [{o.name} for o in outputs], path.name) for k in keep}
    del model.graph.output[:]
    model.graph.output.extend(o for i, o in enumerate(outputs) if i in wanted)
    return model.SerializeToString()


def _check_openvino_device(core, device: str, version: str) -> None:
    available = core.available_devices
    _, _, rest = device.partition(":")
    wanted = [d.split(".")[0] for d in (rest.split(",") if rest else [device])]
    plain = {d.split(".")[0] for d in available}
    virtual = {"AUTO", "HETERO", "MULTI", "BATCH"}
    for d in wanted:
        if d in virtual or d in plain:
            continue
        if d == "MYRIAD":
            raise UserError(
                f"device MYRIAD (Neural Compute Stick) is not available in OpenVINO {version}: the compute stick "
                f"needs OpenVINO 2022.3 or older; available devices: {', '.join(available)}"
            )
        raise UserError(f"OpenVINO device '{d}' is not available; available devices: {', '.join(available)}")


class OnnxRuntimeBackend:
    """ONNX Runtime with a list of execution providers (``device``: comma-separated)."""

    def __init__(
        self, path: Path, device: str, precision: str, threads: int, requests: int = 1, keep: Keep = None
    ) -> None:
        import onnxruntime as ort

        if precision != "f32":
            raise UserError("onnxruntime runs the ONNX file's own precision; use precision f32 (or backend openvino)")
        available = ort.get_available_providers()
        providers = [_provider_name(p) for p in device.split(",") if p.strip()]
        for p in providers:
            if p not in available:
                raise UserError(
                    f"onnxruntime execution provider '{p}' is not available; available: {', '.join(available)}"
                )
        opts = ort.SessionOptions()
        if threads <= 0 and requests > 1:
            # Runs at once share the cores (as OpenVINO's streams do) instead of each taking them all.
            threads = max(1, (os.cpu_count() or 1) // requests)
        if threads > 0:
            opts.intra_op_num_threads = threads
        model = _prune_onnx(path, keep)
        try:
            self.session = ort.InferenceSession(model, sess_options=opts, providers=providers)
        except Exception as exc:
            raise UserError(f"onnxruntime cannot load {path.name}: {str(exc).splitlines()[0]}") from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape = tuple(d if isinstance(d, int) else 1 for d in inp.shape)
        self.output_names = [o.name for o in self.session.get_outputs()]
        # Session.run is thread-safe; several runs at once give frames in flight.
        self.pool = ThreadPoolExecutor(requests, thread_name_prefix="ort") if requests > 1 else None

    def infer(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        outs = self.session.run(None, {self.input_name: tensor})
        return dict(zip(self.output_names, outs, strict=True))

    def submit(self, tensor: np.ndarray, wrap: Callable[[dict[str, np.ndarray]], Any]) -> Future:
        assert self.pool is not None
        return self.pool.submit(lambda: wrap(self.infer(tensor)))

    def close(self) -> None:
        """Stop the pool's threads and let the session go."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.pool = self.session = None


def _provider_name(name: str) -> str:
    name = name.strip()
    short = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "openvino": "OpenVINOExecutionProvider"}
    return short.get(name.lower(), name)


def open_backend(
    backend: str, path: Path, device: str, precision: str, threads: int, requests: int = 1, keep: Keep = None
) -> Backend:
    """An inference backend, warmed up; ``requests`` > 1 enables ``submit`` with that many in flight;
    ``keep`` names the outputs to compute (None: all of the file's)."""
    if backend == "openvino":
        runner: Backend = OpenVINOBackend(path, device, precision, threads, requests, keep)
    elif backend == "onnxruntime":
        if device.upper() in ("CPU", "AUTO"):
            device = "CPUExecutionProvider"
        runner = OnnxRuntimeBackend(path, device, precision, threads, requests, keep)
    else:
        raise UserError(f"unknown backend '{backend}' (openvino or onnxruntime)")
    # The first inference allocates and tunes; do it here, before any frame is timed.
    runner.infer(np.zeros(runner.input_shape, dtype=np.float32))
    return runner
