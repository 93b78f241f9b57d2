"""Record and replay keypoint streams (msgpack file and TCP), and the replayed count."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import msgpack
import numpy as np
import pytest
from conftest import ROOT, SHARED

from dataflow.cli import main
from nodes.recording import recording


def synthetic_graph(tmp_path: Path, sink: str) -> Path:
    g = tmp_path / "rec.yaml"
    g.write_text(
        "nodes:\n  athlete: {type: synthetic_keypoints, params: {exercise: squat, reps: 3, seed: 4}}\n"
        f"  sink: {{type: msgpack, inputs: {{keypoints: athlete.keypoints}}, params: {{path: '{sink}'}}}}\n"
    )
    return g


def test_msgpack_round_trip_is_exact(tmp_path: Path) -> None:
    out = tmp_path / "k.msgpack"
    assert main(["run", str(synthetic_graph(tmp_path, str(out))), "-q"]) == 0
    msgs = list(recording.read(out))
    assert len(msgs) > 100 and [m["seq"] for m in msgs] == list(range(len(msgs)))
    kp = recording.unpack(msgs[10])
    assert kp.schema == "blazepose33" and kp.xy.shape == (33, 2) and kp.xy.dtype == np.float32
    again = recording.unpack(msgpack.unpackb(msgpack.packb(recording.pack(kp, "s", 10, 1.0))))
    np.testing.assert_array_equal(again.xy, kp.xy)
    np.testing.assert_array_equal(again.confidence, kp.confidence)


def test_msgpack_streams_over_tcp(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received: list[dict] = []

    def consume() -> None:
        conn, _ = server.accept()
        with conn, conn.makefile("rb") as stream:
            received.extend(recording.read(stream))

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert main(["run", str(synthetic_graph(tmp_path, f"tcp://127.0.0.1:{port}")), "-q"]) == 0
    thread.join(timeout=10)
    server.close()
    assert len(received) > 100 and received[0]["type"] == "keypoints"


def test_tcp_sink_without_consumer_is_one_line(tmp_path: Path, capsys) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    assert main(["run", str(synthetic_graph(tmp_path, f"tcp://127.0.0.1:{port}")), "-q"]) == 2
    assert "cannot connect to tcp://127.0.0.1" in capsys.readouterr().err


def summary_of(args: list[str], tmp_path: Path, name: str) -> dict:
    path = tmp_path / f"{name}.json"
    assert main([*args, "-q", "--summary-json", str(path), "--set", f"out={tmp_path / name}.jsonl"]) == 0
    return json.loads(path.read_text())


def test_replay_of_a_synthetic_recording_counts_the_reps(tmp_path: Path) -> None:
    rec = tmp_path / "k.msgpack"
    assert main(["run", str(synthetic_graph(tmp_path, str(rec))), "-q"]) == 0
    s = summary_of(["run", str(ROOT / "graphs" / "replay.yaml"), "--set", f"recording={rec}"], tmp_path, "r")
    assert s["reps"] == 3 and s["exercise"] == "squat" and len(s["rep_events"]) == 3


@pytest.mark.skipif(not (SHARED / "videos").exists(), reason="../shared/videos is absent")
def test_replayed_count_equals_live_count(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED / "models"))
    clip = SHARED / "videos" / "pushup-4.mp4"
    rec = tmp_path / "p.msgpack"
    common = ["--set", f"input={clip}"]
    assert main(["run", str(ROOT / "graphs" / "record.yaml"), "-q", *common, "--set", f"out={rec}"]) == 0
    live = summary_of(["run", str(ROOT / "graphs" / "reps.yaml"), *common, "--set", "exercise=push-up"], tmp_path, "l")
    replay = summary_of(
        ["run", str(ROOT / "graphs" / "replay.yaml"), "--set", f"recording={rec}", "--set", "exercise=push-up"],
        tmp_path,
        "p",
    )
    assert live["reps"] == replay["reps"] == 4
    assert live["mean_energy"] == replay["mean_energy"]
