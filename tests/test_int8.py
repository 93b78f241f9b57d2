"""The INT8 pose model: its heads found from the graph, made by `dataflow models convert --int8`,
recorded and verified by the zoo; bad arguments are one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataflow import UserError
from nodes.pose import calibration, zoo
from nodes.pose.backends import open_backend, prune_openvino
from nodes.pose.quantize import WEIGHTED, head_layers, reached_outputs

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
needs_models = pytest.mark.skipif(not SHARED_MODELS.exists(), reason="../shared/models is absent")
KEEP = ("Identity", "Identity_1", "Identity_3")


@pytest.fixture
def models(monkeypatch, tmp_path: Path) -> Path:
    """The shared models on the search path, a fresh cache (the tflite fetched into it as a user's)."""
    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED_MODELS))
    return tmp_path


def blazepose() -> object:
    import openvino as ov

    _, path = zoo.resolve("blazepose-full", ("tflite",))
    return prune_openvino(ov.Core().read_model(str(path)), KEEP, path.name)


@needs_models
def test_heads_are_the_layers_that_feed_only_some_outputs(models: Path) -> None:
    model = blazepose()
    reach = reached_outputs(model)
    heads = head_layers(model)
    weighted = [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() in WEIGHTED]
    trunk = [n for n in weighted if n not in heads]
    assert trunk and heads, "BlazePose has a shared trunk and per-output heads"
    assert all(reach[n] == frozenset(KEEP) for n in trunk)
    assert all(reach[n] < frozenset(KEEP) for n in heads)
    # Each output's last weighted layer is a head layer; the heatmap's head is its own.
    last = {r.input_value(0).get_any_name(): _last_weighted(r) for r in model.get_results()}
    assert set(last.values()) <= set(heads)
    heatmap = head_layers(model, ["Identity_3"])
    assert last["Identity_3"] in heatmap and last["Identity"] not in heatmap
    with pytest.raises(UserError, match="no model output Identity_2"):
        head_layers(model, ["Identity_2"])  # pruned: not computed, so no head of it


def _last_weighted(result) -> str:
    node = result.input_value(0).get_node()
    while node.get_type_name() not in WEIGHTED:
        node = node.input_value(0).get_node()
    return node.get_friendly_name()


@needs_models
def test_convert_int8_makes_a_recorded_model_close_to_f32(models: Path, monkeypatch, capsys) -> None:
    """The real command on a small calibration set (one short session, 24 frames): the trunk runs
    INT8, the heads f32, the landmarks stay near the f32 model's, and the file is recorded so the
    zoo verifies it (a damaged weights file is refused)."""
    from dataflow.cli import main

    monkeypatch.setattr(calibration, "SYNTHETIC_SESSIONS", ("synthetic:squat*1",))
    out = models / "made"
    assert (
        main(["models", "convert", "blazepose-full", "--to", "ir", "--int8", "--frames", "24", "--out", str(out)]) == 0
    )
    xml = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert xml.name == "pose_landmark_full-int8.xml"
    record = zoo.read_records(out)[xml.name]
    assert record["calibration"]["frames"] == 24 and record["sha256"] == zoo.sha256(xml)
    assert record["made_with"]["nncf"] and record["f32_layers"] > 0

    import openvino as ov

    made = ov.Core().read_model(str(xml))
    quantized = {
        t.get_node().get_friendly_name()
        for op in made.get_ordered_ops()
        if op.get_type_name() == "FakeQuantize"
        for out_ in op.outputs()
        for t in out_.get_target_inputs()
    }
    heads = set(head_layers(blazepose()))
    weighted = {op.get_friendly_name() for op in made.get_ordered_ops() if op.get_type_name() in WEIGHTED}
    assert quantized & weighted, "the trunk runs INT8"
    assert not quantized & heads, "no head layer takes a quantized input"

    tensors = calibration.crops_of("synthetic:squat*1")[::20]
    f32 = open_backend("openvino", zoo.resolve("blazepose-full", ("tflite",))[1], "CPU", "f32", 0, keep=KEEP)
    int8 = open_backend("openvino", xml, "CPU", "f32", 0)
    assert sorted(int8.output_names) == sorted(KEEP)
    for x in tensors:
        a, b = f32.infer(x), int8.infer(x)
        lm_a, lm_b = a["Identity"].reshape(-1, 5)[:33, :2], b["Identity"].reshape(-1, 5)[:33, :2]
        torso = np.linalg.norm((lm_a[11] + lm_a[12]) / 2 - (lm_a[23] + lm_a[24]) / 2)
        # A loose bound for 24 frames of calibration (0.16 torso lengths measured on one of these
        # frames; bench/int8.py measures the zoo's model): the naive all-layers quantization was
        # off by hundreds of pixels (several torso lengths).
        assert np.linalg.norm(lm_a - lm_b, axis=1).mean() / torso < 0.3
        assert (a["Identity_1"].item() > 0.5) == (b["Identity_1"].item() > 0.5)

    # The zoo finds it under its own name, verified by made.yaml (24 frames: not the zoo's bytes).
    monkeypatch.setenv("DATAFLOW_MODELS", f"{out}:{SHARED_MODELS}")
    spec, path = zoo.resolve("blazepose-full-int8", ("xml",), pull=False)
    assert path == xml and spec.decoder == "blazepose"
    bin_ = xml.with_suffix(".bin")
    data = bytearray(bin_.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bin_.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"checksum mismatch for .*pose_landmark_full-int8\.bin"):
        zoo.resolve("blazepose-full-int8", ("xml",), pull=False)


def test_a_made_file_without_a_record_is_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "pose_landmark_full-int8.xml").write_text("<net/>")
    monkeypatch.setenv("DATAFLOW_MODELS", str(tmp_path))
    with pytest.raises(UserError) as err:
        zoo.resolve("blazepose-full-int8", ("xml",), pull=False)
    assert "not the zoo's" in str(err.value) and "dataflow models convert blazepose-full --to ir --int8" in str(
        err.value
    )


def test_the_int8_model_not_made_says_how_to_make_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATAFLOW_MODELS", str(tmp_path))
    monkeypatch.setenv("DATAFLOW_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="make it with `dataflow models convert blazepose-full --to ir --int8`"):
        zoo.resolve("blazepose-full-int8", ("xml",))


@needs_models
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--to", "onnx", "--int8"], "--int8, --calibrate and --frames make an OpenVINO IR: use --to ir"),
        (["--to", "ir", "--int8", "--fp16"], "--int8 and --fp16 are two different models; choose one"),
        (["--to", "ir", "--frames", "10"], "--calibrate and --frames are for --int8"),
        (["--to", "ir", "--int8", "--frames", "-3"], "--frames must be at least 1 (got -3)"),
        (["--to", "ir", "--int8", "--calibrate", "nowhere.mp4"], "calibration clip not found: nowhere.mp4"),
    ],
)
def test_bad_convert_arguments_are_one_line(models: Path, capsys, extra: list[str], message: str) -> None:
    from dataflow.cli import main

    out = models / "out"
    assert main(["models", "convert", "blazepose-full", *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and message in err
    assert not (out / "pose_landmark_full-int8.xml").exists()


def test_calibration_spreads_frames_evenly_and_refuses_none() -> None:
    assert calibration.spread(list(range(10)), 4) == [0, 3, 6, 9]
    assert calibration.spread([1, 2], 5) == [1, 2]
    with pytest.raises(UserError, match="at least one frame"):
        calibration.calibration_tensors(0)
    with pytest.raises(UserError, match="no calibration input"):
        calibration.calibration_tensors(10, synthetic=False)
