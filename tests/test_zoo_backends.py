"""Model zoo (search path, cache, checksum, download) and the two inference backends."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from dataflow import UserError
from nodes.pose import zoo
from nodes.pose.backends import open_backend


def tiny_onnx(path: Path) -> Path:
    """y = relu(conv3x3(x)) + 0.5 on NHWC input, built with onnx.helper."""
    rng = np.random.default_rng(0)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], rng.normal(0, 0.5, 108).astype(np.float32))
    half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])
    nodes = [
        helper.make_node("Transpose", ["x"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("Add", ["relu", "half"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 16, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])],
        [weight, half],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_backends_agree_at_f32(tmp_path: Path) -> None:
    path = tiny_onnx(tmp_path / "tiny.onnx")
    x = np.random.default_rng(1).random((1, 16, 16, 3), dtype=np.float32)
    a = open_backend("openvino", path, "CPU", "f32", 1).infer(x)
    b = open_backend("onnxruntime", path, "CPU", "f32", 1).infer(x)
    assert list(a) == list(b) == ["y"]
    np.testing.assert_allclose(a["y"], b["y"], atol=1e-3)
    assert a["y"].min() >= 0.5


def two_outputs_onnx(path: Path) -> Path:
    """x -> y = relu(x) and z = a matmul chain (the kind of branch a pruned model does not compute)."""
    rng = np.random.default_rng(0)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [3, 3], rng.normal(0, 1, 9).astype(np.float32))
    nodes = [
        helper.make_node("Relu", ["x"], ["y"]),
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Sigmoid", ["m"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes,
        "two",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 3])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 3]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4, 4, 3]),
        ],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
@pytest.mark.parametrize(
    ("keep", "names"), [(None, ["y", "z"]), (("z",), ["z"]), ((0,), ["y"]), ((-1, "y"), ["y", "z"])]
)
def test_backends_compute_only_the_outputs_kept(tmp_path: Path, backend: str, keep, names: list[str]) -> None:
    path = two_outputs_onnx(tmp_path / "two.onnx")
    x = np.random.default_rng(2).normal(size=(1, 4, 4, 3)).astype(np.float32)
    every = open_backend(backend, path, "CPU", "f32", 1).infer(x)
    kept = open_backend(backend, path, "CPU", "f32", 1, keep=keep).infer(x)
    assert sorted(kept) == names
    for name in names:
        np.testing.assert_array_equal(kept[name], every[name])


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
@pytest.mark.parametrize("keep", [("nope",), (2,)])
def test_keeping_an_output_the_model_lacks_is_one_clear_line(tmp_path: Path, backend: str, keep) -> None:
    path = two_outputs_onnx(tmp_path / "two.onnx")
    with pytest.raises(UserError) as err:
        open_backend(backend, path, "CPU", "f32", 1, keep=keep)
    assert f"model two.onnx has no output {keep[0]!r} (its outputs: " in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("backend", "device", "message"),
    [
        ("openvino", "MYRIAD", "the compute stick needs OpenVINO 2022.3 or older; available devices: CPU"),
        ("openvino", "GPU", "OpenVINO device 'GPU' is not available; available devices: CPU"),
        ("openvino", "AUTO:NPU,CPU", "OpenVINO device 'NPU' is not available"),
        ("onnxruntime", "TensorrtExecutionProvider", "execution provider 'TensorrtExecutionProvider' is not available"),
    ],
)
def test_unavailable_device_is_one_clear_line(tmp_path: Path, backend: str, device: str, message: str) -> None:
    path = tiny_onnx(tmp_path / "tiny.onnx")
    with pytest.raises(UserError) as err:
        open_backend(backend, path, device, "f32", 0)
    assert message in str(err.value) and "\n" not in str(err.value)


def write_manifest(tmp_path: Path, monkeypatch, name: str, sha: str, url: str | None = None) -> None:
    lines = [
        "models:",
        "  toy:",
        "    decoder: heatmap",
        "    schema: mpii16",
        "    input: {width: 16, height: 16, norm: unit}",
        "    files:",
        f"      - name: {name}",
        f'        sha256: "{sha}"',
    ]
    if url:
        lines.append(f"        url: {url}")
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("DATAFLOW_MANIFEST", str(manifest))
    monkeypatch.setenv("DATAFLOW_CACHE", str(tmp_path / "cache"))


def test_search_path_finds_and_verifies(tmp_path: Path, monkeypatch) -> None:
    models = tmp_path / "models" / "sub"
    models.mkdir(parents=True)
    path = tiny_onnx(models / "toy.onnx")
    write_manifest(tmp_path, monkeypatch, "toy.onnx", hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.setenv("DATAFLOW_MODELS", str(tmp_path / "models"))
    spec, found = zoo.resolve("toy", ("onnx",))
    assert spec is not None and spec.name == "toy" and found == path


def test_checksum_mismatch_names_file_and_both_hashes(tmp_path: Path, monkeypatch) -> None:
    models = tmp_path / "models"
    models.mkdir()
    path = tiny_onnx(models / "toy.onnx")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    write_manifest(tmp_path, monkeypatch, "toy.onnx", "0" * 64)
    monkeypatch.setenv("DATAFLOW_MODELS", str(models))
    with pytest.raises(UserError) as err:
        zoo.resolve("toy", ("onnx",))
    text = str(err.value)
    assert str(path) in text and "0" * 64 in text and actual in text and "not used" in text


def test_download_from_local_http_server(tmp_path: Path, monkeypatch) -> None:
    served = tmp_path / "served"
    served.mkdir()
    path = tiny_onnx(served / "toy.onnx")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/toy.onnx"
        write_manifest(tmp_path, monkeypatch, "toy.onnx", sha, url)
        monkeypatch.setenv("DATAFLOW_MODELS", "")
        _spec, got = zoo.resolve("toy", ("onnx",))
        assert got == tmp_path / "cache" / "models" / "toy" / "toy.onnx"
        assert hashlib.sha256(got.read_bytes()).hexdigest() == sha
        got.unlink()
        # a server that serves other bytes: refused, nothing cached
        path.write_bytes(b"not a model")
        with pytest.raises(UserError, match="checksum mismatch"):
            zoo.resolve("toy", ("onnx",))
        assert not got.exists()
    finally:
        server.shutdown()


def test_unknown_model_suggests_a_name() -> None:
    with pytest.raises(UserError, match="did you mean 'blazepose-full'"):
        zoo.spec("blazepose-ful")


def test_manifest_is_complete() -> None:
    zoo_ = zoo.load_manifest()
    for name in ("blazepose-full", "blazepose-lite", "blazepose-heavy", "blazepose-detector", "efficientpose-rt"):
        assert name in zoo_
        for f in zoo_[name].files:
            assert len(f.sha256) == 64
    full = zoo_["blazepose-full"].files[0]
    assert full.pip == "mediapipe==0.10.14" and full.member.endswith("pose_landmark_full.tflite")


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_asynchronous_requests_give_the_same_outputs(tmp_path: Path, backend: str) -> None:
    path = tiny_onnx(tmp_path / "tiny.onnx")
    sync = open_backend(backend, path, "CPU", "f32", 1)
    runner = open_backend(backend, path, "CPU", "f32", 1, requests=3)
    xs = [np.random.default_rng(i).random((1, 16, 16, 3), dtype=np.float32) for i in range(6)]
    futures = [runner.submit(x, lambda out: out) for x in xs]
    for x, f in zip(xs, futures, strict=True):
        np.testing.assert_allclose(f.result(timeout=10)["y"], sync.infer(x)["y"], atol=1e-4)


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_a_closed_model_node_lets_its_backend_go(tmp_path: Path, backend: str) -> None:
    # OpenVINO's queue holds its callback (a bound method of the backend): a cycle through the
    # library that the collector cannot see, so each run's model would stay in memory.
    from nodes.pose.model import ModelNode

    params = {"model": str(tiny_onnx(tmp_path / "tiny.onnx")), "backend": backend, "device": "CPU"}
    node = ModelNode("model", {**params, "precision": "f32", "threads": 0, "requests": 2})
    node.setup()
    future = node.runner.submit(np.zeros((1, 16, 16, 3), np.float32), lambda out: out)
    assert future.result(timeout=10)["y"].shape == (1, 4, 16, 16)
    node.close()
    if backend == "openvino":
        assert node.runner.compiled is None and node.runner.queue is None
    else:
        assert node.runner.pool is None and node.runner.session is None


SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
needs_models = pytest.mark.skipif(not SHARED_MODELS.exists(), reason="../shared/models is absent")


@needs_models
def test_zoo_download_path_serves_a_real_model(tmp_path: Path, monkeypatch) -> None:
    """efficientpose-rt-lite fetched by URL (from a local server) and verified by the manifest's sha256."""
    served = SHARED_MODELS / "efficientpose"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        real = zoo.load_manifest()["efficientpose-rt-lite"].files[0]
        manifest = tmp_path / "m.yaml"
        url = f"http://127.0.0.1:{server.server_address[1]}/{real.name}"
        text = zoo.manifest_path().read_text().replace(real.url, url)
        manifest.write_text(text)
        monkeypatch.setenv("DATAFLOW_MANIFEST", str(manifest))
        monkeypatch.setenv("DATAFLOW_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("DATAFLOW_MODELS", "")
        paths = zoo.pull("efficientpose-rt-lite")
        assert paths == [tmp_path / "cache" / "models" / "efficientpose-rt-lite" / real.name]
        assert zoo.sha256(paths[0]) == real.sha256
    finally:
        server.shutdown()


@needs_models
def test_models_list_and_convert_to_ir(tmp_path: Path, monkeypatch, capsys) -> None:
    from dataflow.cli import main

    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED_MODELS))
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "efficientpose-rt-lite" in listing and "blazepose-full" in listing
    assert main(["models", "convert", "efficientpose-rt-lite", "--to", "ir", "--fp16", "--out", str(tmp_path)]) == 0
    xml = Path(capsys.readouterr().out.strip())
    assert xml.name == "EfficientPoseRT_LITE-fp16.xml" and xml.with_suffix(".bin").exists()
    backend = open_backend("openvino", xml, "CPU", "f32", 1)
    assert backend.input_shape == (1, 224, 224, 3)


@needs_models
def test_backends_agree_on_blazepose_full_at_f32() -> None:
    from nodes.athlete.athlete import frames
    from nodes.pose.preprocess import to_tensor
    from nodes.pose.roi import Roi, warp

    path = SHARED_MODELS / "blazepose" / "pose_landmark_full.onnx"
    frame = next(s for i, s in enumerate(frames("squat", 1)) if i == 40).values["frame"]
    image, _ = warp(frame, Roi(320, 240, 400, 400), 256, 256)  # a person, as the model expects
    x = to_tensor(image, "unit")
    a = open_backend("openvino", path, "CPU", "f32", 0).infer(x)
    b = open_backend("onnxruntime", path, "CPU", "f32", 0).infer(x)
    np.testing.assert_allclose(a["Identity"], b["Identity"], atol=1e-3)  # landmarks, input pixels
    np.testing.assert_allclose(a["Identity_1"], b["Identity_1"], atol=1e-3)  # pose presence
    np.testing.assert_allclose(a["Identity_3"], b["Identity_3"], atol=1e-3)  # heatmap logits


@needs_models
def test_convert_to_onnx_without_tf2onnx_says_what_to_install(monkeypatch, capsys, tmp_path: Path) -> None:
    import importlib.util

    from dataflow.cli import main

    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED_MODELS))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    assert main(["models", "convert", "blazepose-full", "--to", "onnx", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tf2onnx" in err and "[onnx]" in err
    assert not list(tmp_path.iterdir())


@needs_models
@pytest.mark.skipif(
    __import__("importlib").util.find_spec("tf2onnx") is None, reason="tf2onnx and TensorFlow (the [onnx] extra)"
)
def test_convert_to_onnx_matches_the_tflite_model(monkeypatch, capsys, tmp_path: Path) -> None:
    from dataflow.cli import main

    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED_MODELS))
    assert main(["models", "convert", "blazepose-full", "--to", "onnx", "--out", str(tmp_path)]) == 0
    onnx_path = Path(capsys.readouterr().out.strip())
    _, tflite = zoo.resolve("blazepose-full", ("tflite",))
    x = np.random.default_rng(1).random((1, 256, 256, 3), dtype=np.float32)
    a = open_backend("openvino", tflite, "CPU", "f32", 0).infer(x)
    b = open_backend("onnxruntime", onnx_path, "CPU", "f32", 0).infer(x)
    np.testing.assert_allclose(a["Identity"], b["Identity"], atol=2e-3)  # landmarks, input pixels
    np.testing.assert_allclose(a["Identity_3"], b["Identity_3"], atol=2e-3)  # heatmap logits


def person_tensor() -> np.ndarray:
    """The synthetic athlete mid-squat, cropped as the model expects."""
    from nodes.athlete.athlete import frames
    from nodes.pose.preprocess import to_tensor
    from nodes.pose.roi import Roi, warp

    frame = next(s for i, s in enumerate(frames("squat", 1)) if i == 40).values["frame"]
    image, _ = warp(frame, Roi(320, 240, 400, 400), 256, 256)
    return to_tensor(image, "unit")


@needs_models
@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_the_model_node_computes_only_what_blazepose_decodes(monkeypatch, backend: str) -> None:
    """The default model node leaves out the segmentation mask and world landmarks (a third of the
    inference time): the three outputs the decoder reads are the full model's, bit for bit."""
    from nodes.pose.model import ModelNode

    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED_MODELS))
    params = {"model": "blazepose-full", "backend": backend, "device": "CPU", "precision": "f32"}
    node = ModelNode("pose", {**params, "threads": 0, "requests": 1})
    node.setup()
    x = person_tensor()
    pruned = node.process(x)["tensors"]
    full = open_backend(backend, node.path, "CPU", "f32", 0).infer(x)
    node.close()
    assert sorted(full) == ["Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4"]
    assert sorted(pruned) == ["Identity", "Identity_1", "Identity_3"]
    assert full["Identity_1"].item() > 0.9  # a person: the landmarks compared are real ones
    for name in pruned:
        np.testing.assert_array_equal(pruned[name], full[name])


@needs_models
def test_convert_to_ir_keeps_the_decoded_outputs(tmp_path: Path, monkeypatch, capsys) -> None:
    from dataflow.cli import main

    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED_MODELS))
    assert main(["models", "convert", "blazepose-full", "--to", "ir", "--out", str(tmp_path)]) == 0
    xml = Path(capsys.readouterr().out.strip().splitlines()[-1])
    _, tflite = zoo.resolve("blazepose-full", ("tflite",))
    x = person_tensor()
    made = open_backend("openvino", xml, "CPU", "f32", 0).infer(x)
    source = open_backend("openvino", tflite, "CPU", "f32", 0).infer(x)
    assert sorted(made) == ["Identity", "Identity_1", "Identity_3"]
    for name in made:
        np.testing.assert_allclose(made[name], source[name], atol=1e-4)
