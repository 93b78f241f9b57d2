"""Graphs used from an app's own code (dataflow.open): pushing, reading in order, backpressure,
dropping, errors at the caller, every thread stopped; the real clips and a synthetic session
pushed give what `dataflow run` gives."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SHARED

import dataflow
from dataflow import DataflowError, GraphError
from dataflow import session as session_module
from dataflow.cli import main
from nodes.athlete.session_plan import session_keypoints, session_segments
from nodes.recording.push import keypoints, map_keypoints, push_keypoints

CLIPS = sorted((SHARED / "videos").glob("*.mp4"))
CHEAPEST = "squat-3.mp4"  # 322 frames; the clips test pushes only it unless DATAFLOW_ALL_CLIPS is set
CHAIN = (
    "queue_size: {q}\nnodes:\n  src: {{type: counter, params: {{count: 3}}}}\n"
    "  a: {{type: scale, inputs: {{value: src.value}}, params: {{factor: 2}}}}\n"
    "  slow: {{type: 'testnodes:Slow', inputs: {{value: a.value}}, params: {{ms: {ms}}}}}\n"
    "  out: {{type: discard, inputs: {{value: slow.value}}}}\n"
)


def chain(graph_file, ms: float = 0.0, q: int = 8) -> Path:
    return graph_file(CHAIN.format(ms=ms, q=q))


def wait_for(check, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def engine_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("dataflow"))


def test_pushes_come_back_in_order_with_their_number_and_time(graph_file) -> None:
    before = set(threading.enumerate())
    with dataflow.open(chain(graph_file)) as session:
        assert session.inputs == ["value"] and session.outputs == {"value": "slow.value"}
        got = []
        for i in range(200):
            session.push(float(i), timestamp=100.0 + i)
            got += session.results()
    got += session.results()
    assert [r["value"] for r in got] == [2.0 * i for i in range(200)]
    assert [r.index for r in got] == list(range(200)) and [r.seq for r in got] == list(range(200))
    assert [r.timestamp for r in got] == [100.0 + i for i in range(200)]
    assert session.summary["frames"] == 200 and session.summary["pushed"] == 200
    assert session.summary["dropped"] == 0
    assert set(threading.enumerate()) == before  # no thread left behind


def test_map_yields_every_result_and_closes(graph_file) -> None:
    with dataflow.open(chain(graph_file, q=2), queue_size=2) as session:
        got = [(r.index, r["value"], r.timestamp) for r in session.map(range(300), fps=10)]
        assert session.closed and engine_threads() == []
    assert got == [(i, 2.0 * i, i / 10) for i in range(300)]


def test_a_reader_thread_iterates_until_close(graph_file) -> None:
    with dataflow.open(chain(graph_file)) as session:
        seen: list[float] = []
        reader = threading.Thread(target=lambda: seen.extend(r["value"] for r in session))
        reader.start()
        for i in range(100):
            session.push(float(i))
    reader.join()
    assert seen == [2.0 * i for i in range(100)]


def test_a_slow_reader_holds_the_pusher_back(graph_file) -> None:
    # The reader takes 2 ms a result; the pusher could push 400 in no time. Held back by the
    # bounded queues, it is never more than the session's capacity ahead: memory stays bounded.
    with dataflow.open(chain(graph_file, q=2), queue_size=2, results_size=4) as session:
        read = []

        def reader() -> None:
            for r in session:
                time.sleep(0.002)
                read.append(r.index)

        thread = threading.Thread(target=reader)
        thread.start()
        ahead = []
        for i in range(400):
            session.push(float(i))
            ahead.append(session.pushed - len(read))
    thread.join()
    assert read == list(range(400))
    assert max(ahead) <= session.capacity < 100
    assert session.dropped == 0


def test_a_dropping_session_drops_the_oldest_waiting_pushes_and_counts_them(graph_file) -> None:
    with dataflow.open(chain(graph_file, ms=20, q=2), queue_size=2, policy="drop_oldest") as session:
        for i in range(60):
            session.push(float(i))
    got = session.results()
    indexes = [r.index for r in got]
    assert session.dropped > 0 and len(got) + session.dropped == 60
    assert indexes == sorted(set(indexes)) and indexes[-1] == 59  # the newest push is never dropped
    assert [r["value"] for r in got] == [2.0 * i for i in indexes]
    assert session.summary["dropped"] == session.dropped and session.summary["frames"] == len(got)


def test_an_app_that_never_reads_is_told_instead_of_hanging(graph_file, monkeypatch) -> None:
    monkeypatch.setattr(session_module, "STALL_S", 0.1)
    with (
        pytest.raises(DataflowError, match="results wait to be read"),
        dataflow.open(chain(graph_file, q=1), queue_size=1, results_size=2) as session,
    ):
        for i in range(100):
            session.push(float(i))
    assert engine_threads() == []


def test_a_reader_thread_that_has_ended_is_no_reader(graph_file, monkeypatch) -> None:
    # It read once and is gone; the pusher, which never reads, must be told, not wait for it.
    monkeypatch.setattr(session_module, "STALL_S", 0.1)
    outcome: list[BaseException | None] = []

    def app() -> None:
        try:
            with dataflow.open(chain(graph_file, q=1), queue_size=1, results_size=2) as session:
                reader = threading.Thread(target=session.results)
                reader.start()
                reader.join()
                for i in range(100):
                    session.push(float(i))
            outcome.append(None)
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)

    pusher = threading.Thread(target=app, daemon=True)
    pusher.start()
    pusher.join(30)
    assert not pusher.is_alive(), "push waited for a reader that had ended"
    assert isinstance(outcome[0], DataflowError) and "results wait to be read" in str(outcome[0])


def test_a_node_error_is_the_runs_one_line_error_at_the_caller(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter}\n"
        "  f: {type: 'testnodes:FailAt', inputs: {value: src.value}, params: {at: 3}}\n"
        "  out: {type: discard, inputs: {value: f.value}}\n"
    )
    before = set(threading.enumerate())
    with pytest.raises(DataflowError) as raised, dataflow.open(g) as session:
        for i in range(10_000):
            session.push(float(i))
            session.results()
    assert str(raised.value) == "node 'f' failed at seq 3: ValueError: boom"
    assert isinstance(raised.value.__cause__, ValueError)
    assert set(threading.enumerate()) == before


def test_closing_raises_an_error_that_came_after_the_last_push(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter}\n"
        "  f: {type: 'testnodes:FailAt', inputs: {value: src.value}, params: {at: 4}}\n"
        "  out: {type: discard, inputs: {value: f.value}}\n"
    )
    session = dataflow.open(g)
    for i in range(5):
        session.push(float(i))
    with pytest.raises(DataflowError, match="node 'f' failed at seq 4"):
        session.close()
    with pytest.raises(DataflowError, match="node 'f' failed at seq 4"):
        session.results()
    assert engine_threads() == []


def test_an_exception_in_the_with_block_stops_every_thread(graph_file) -> None:
    before = set(threading.enumerate())
    with pytest.raises(KeyError), dataflow.open(chain(graph_file, ms=50)) as session:
        for i in range(5):
            session.push(float(i))
        raise KeyError("the app's own bug")
    assert set(threading.enumerate()) == before
    with pytest.raises(DataflowError, match="closed"):
        session.push(1.0)


def test_a_sink_that_would_linger_is_closed_with_the_session(graph_file) -> None:
    # A live view stays up after its stream ends until the run is stopped: close stops it.
    g = graph_file(
        "nodes:\n  src: {type: counter}\n  a: {type: passthrough, inputs: {value: src.value}}\n"
        "  view: {type: 'testnodes:Linger', inputs: {value: a.value}, params: {seconds: .inf}}\n"
    )
    with dataflow.open(g) as session:
        got = [r["value"] for r in session.map([1.0, 2.0, 3.0])]
    assert got == [1.0, 2.0, 3.0]
    view = session.graph.nodes["view"].instance
    assert view.ended_at is not None and view.closed_at is not None
    assert engine_threads() == []


def test_a_live_view_closes_with_the_session_and_leaves_no_thread(tmp_path: Path) -> None:
    from web_helpers import athlete_graph

    before = set(threading.enumerate())
    frame = np.zeros((48, 64, 3), np.uint8)
    with dataflow.open(athlete_graph(tmp_path), read="reps.state") as session:
        view = session.graph.nodes["web"].instance
        # A viewer (one that never reads): frames are JPEG-encoded in the server's thread pool.
        viewer = socket.create_connection(("127.0.0.1", view.bound_port))
        viewer.sendall(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        wait_for(lambda: view.viewers == 1)
        for t, kp in session_keypoints("squat*3"):
            session.push(frame=frame, truth=kp, timestamp=t)
            session.results()
        wait_for(lambda: any(t.name.startswith("asyncio") for t in threading.enumerate()))  # the encoder ran
    viewer.close()
    assert set(threading.enumerate()) == before  # the server's thread and its pool too
    assert view.report_data is not None and view.report_data[0]["exercises"]["squat"]["reps"] == 3


def test_results_of_a_node_with_several_in_flight_come_in_push_order(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter}\n"
        "  d: {type: 'testnodes:AsyncDouble', inputs: {value: src.value}, params: {in_flight: 4}}\n"
        "  out: {type: discard, inputs: {value: d.value}}\n"
    )
    values = [i + 0.5 for i in range(200)]  # AsyncDouble fails on 13.0 only
    with dataflow.open(g) as session:
        got = list(session.map(values))
    assert [r["value"] for r in got] == [2 * v for v in values] and [r.index for r in got] == list(range(200))


def test_feeding_a_middle_node_leaves_out_what_came_before_it(graph_file) -> None:
    with dataflow.open(chain(graph_file), feed="slow", read=["slow.value", "slow.value"]) as session:
        assert set(session.graph.nodes) == {"slow", "out", "app"}  # src and a have no use now
        assert session.graph.nodes["slow"].type_name == "app_source"
        got = list(session.map([5.0, 6.0]))
    assert [r["value"] for r in got] == [5.0, 6.0]


def test_read_names_results_by_port_or_as_given(graph_file) -> None:
    with dataflow.open(chain(graph_file), read={"doubled": "a.value", "late": "slow.value"}) as session:
        got = list(session.map([1.0, 2.0]))
    assert [(r["doubled"], r["late"]) for r in got] == [(2.0, 2.0), (4.0, 4.0)]


def test_mistakes_are_one_line_errors(graph_file) -> None:
    g = chain(graph_file)
    with pytest.raises(GraphError, match="feed: no node named 'scr' \\(did you mean 'src'\\?\\)"):
        dataflow.open(g, feed="scr")
    with pytest.raises(GraphError, match="read: node 'a' has no output port 'vale'"):
        dataflow.open(g, read="a.vale")
    with pytest.raises(GraphError, match="policy must be one of block, drop_oldest"):
        dataflow.open(g, policy="newest")
    with pytest.raises(GraphError, match="no graph param named 'exercise'"):
        dataflow.open(g, exercise="squat")
    two = graph_file(
        "nodes:\n  a: {type: counter}\n  b: {type: counter}\n  sb: {type: scale, inputs: {value: b.value}}\n"
        "  out_a: {type: discard, inputs: {value: a.value}}\n  out_b: {type: discard, inputs: {value: sb.value}}\n",
        "two.yaml",
    )
    with pytest.raises(GraphError, match="has 2 sources \\(a, b\\): name the node the app feeds"):
        dataflow.open(two)
    with dataflow.open(two, feed="b", read="sb.value") as session:  # the other source runs on its own
        got = list(session.map([100.0, 200.0]))
    assert [(r.index, r["value"]) for r in got] == [(0, 100.0), (1, 200.0)]
    assert session.summary["frames"] == 12  # a's 10 and the app's 2
    with dataflow.open(g) as session:
        with pytest.raises(DataflowError, match="timestamp must be seconds, got 'noon'"):
            session.push(1.0, timestamp="noon")
        with pytest.raises(DataflowError, match="no input port 'frame'"):
            session.push(frame=1.0)
        with pytest.raises(DataflowError, match="no value"):
            session.push(None)


def test_graph_and_node_params_as_keywords(graph_file) -> None:
    g = graph_file(
        "params: {factor: 2.0, twice: false}\nnodes:\n  src: {type: counter}\n"
        "  a: {type: scale, inputs: {value: src.value}, params: {factor: '${factor}'}}\n"
        "  out: {type: discard, inputs: {value: a.value}}\n"
    )
    with dataflow.open(g, factor=3, twice=True, **{"a.offset": 0.5}) as session:
        got = [r["value"] for r in session.map([1.0, 2.0])]
    assert got == [3.5, 6.5]


# -- the pose graphs -----------------------------------------------------------------------


def test_every_built_in_graph_with_a_sink_is_fed_and_read_without_a_copy() -> None:
    from dataflow.library import builtin_graphs
    from dataflow.session import embed

    fed = {}
    for name, path in builtin_graphs().items():
        if name == "pose_pipeline":  # a part for others to include: no sink of its own
            continue
        graph, inputs, outputs = embed(dataflow.load_graph(path), None, None)
        assert graph.nodes["app"].input_types["keypoints"].name == "keypoints", name
        assert "frame" not in outputs  # the app's own frames are not handed back
        fed[name] = inputs
    assert fed["reps"] == fed["pose"] == fed["reps_live"] == fed["record"] == ["frame"]
    assert fed["replay"] == ["keypoints"]


@pytest.mark.skipif(not (SHARED / "models").exists(), reason="../shared/models (the BlazePose files) is absent")
def test_closing_a_pose_session_leaves_no_thread_and_lets_every_model_go(monkeypatch) -> None:
    import openvino  # noqa: F401 - its telemetry starts a pool thread once per process, on import

    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED / "models"))
    frames = [np.full((480, 640, 3), 90, np.uint8) for _ in range(4)]  # no person: the detector runs
    before = set(threading.enumerate())
    with dataflow.open("pose") as session:
        got = list(session.map(frames))
    # Threads started and not ended since (one of the earlier tests' may have ended meanwhile).
    left = [t.name for t in set(threading.enumerate()) - before]
    assert len(got) == 4 and left == [], left
    roi, pose = (session.graph.nodes[n].instance for n in ("roi", "pose"))
    # The app still holds the session, so the nodes live on; their models must not.
    assert roi.detections == 4 and roi.finder is None, roi.detections
    assert pose.runner.compiled is None


@pytest.mark.skipif(not (SHARED / "models").exists(), reason="../shared/models (the BlazePose files) is absent")
def test_closing_a_several_people_session_lets_the_detector_go(monkeypatch) -> None:
    monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED / "models"))
    frames = [np.full((480, 640, 3), 90, np.uint8) for _ in range(4)]
    with dataflow.open("pose", people=2) as session:
        got = list(session.map(frames))
    roi = session.graph.nodes["roi"].instance
    assert len(got) == 4 and roi.detections >= 1 and roi.finder is None


SESSION = "squat*5,rest*3s,push-up*4"


def test_pushing_a_synthetic_sessions_keypoints_counts_every_exercise_exactly(tmp_path: Path) -> None:
    expected: dict[str, int] = {}
    for seg in session_segments(SESSION):
        if seg.reps:
            expected[seg.exercise] = expected.get(seg.exercise, 0) + seg.reps
    assert expected == {"squat": 5, "push-up": 4}
    events = []
    with dataflow.open("reps", feed="keypoints", out=str(tmp_path / "r.jsonl")) as session:
        assert "pose" not in session.graph.nodes  # no model: the keypoints come from the app
        for t, kp in session_keypoints(SESSION):
            push_keypoints(session, kp, timestamp=t)
            events += [r["rep"] for r in session.results() if r["rep"] is not None]
    events += [r["rep"] for r in session.results() if r["rep"] is not None]
    reps = {k: v["reps"] for k, v in session.summary["exercises"].items()}
    assert reps == expected
    assert [(e.exercise, e.rep) for e in events][-4:] == [("push-up", n) for n in range(1, 5)]


def test_a_pose_array_goes_through_map_keypoints(tmp_path: Path) -> None:
    observed = list(session_keypoints("squat*4", seed=1))
    poses = np.zeros((len(observed), 33, 3), np.float32)
    for i, (_, kp) in enumerate(observed):
        poses[i, :, :2] = kp.xy / np.array(kp.image_size)  # normalized, as MediaPipe gives them
    fps = 1.0 / (observed[1][0] - observed[0][0])
    with dataflow.open("reps", feed="keypoints", exercise="squat", out=str(tmp_path / "r.jsonl")) as session:
        got = list(map_keypoints(session, poses, fps=fps, width=640, height=480))
    assert len(got) == len(observed)
    assert session.summary["reps"] == 4
    assert got[0]["keypoints"].image_size == (640, 480)
    with pytest.raises(DataflowError, match="push_keypoints: shape \\(1, 5\\) is not a pose sequence"):
        keypoints(np.zeros(5))


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if '"seq"' in line]


@pytest.mark.skipif(not CLIPS, reason="../shared/videos/*.mp4 is absent")
@pytest.mark.parametrize("clip", CLIPS or [None], ids=lambda p: p.stem if p else "none")
def test_pushing_a_clips_frames_gives_what_dataflow_run_gives(tmp_path: Path, monkeypatch, clip: Path) -> None:
    import cv2

    if clip.name != CHEAPEST and not os.environ.get("DATAFLOW_ALL_CLIPS"):
        pytest.skip(f"{CHEAPEST} is the same path in a third of the time; DATAFLOW_ALL_CLIPS=1 runs every clip")
    if (SHARED / "models").exists():
        monkeypatch.setenv("DATAFLOW_MODELS", str(SHARED / "models"))
    summary = tmp_path / "s.json"
    ran = tmp_path / "ran.jsonl"
    args = ["run", "reps", "-q", "--set", f"input={clip}", "--set", f"out={ran}", "--summary-json", str(summary)]
    assert main(args) == 0
    expected = json.loads(summary.read_text())

    cap = cv2.VideoCapture(str(clip))
    pushed = tmp_path / "pushed.jsonl"
    got = []
    with dataflow.open("reps", out=str(pushed)) as session:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            # The timestamps the video source gives, so the filters see the same times.
            session.push(frame, timestamp=cap.get(cv2.CAP_PROP_POS_MSEC) / 1e3)
            got += session.results()
    got += session.results()
    cap.release()
    assert engine_threads() == []
    assert session.summary["exercises"] == expected["exercises"]
    assert session.summary["frames"] == expected["frames"] == len(got)
    assert _records(pushed) == _records(ran)  # keypoints, states, energy: frame for frame
    rows = _records(ran)
    assert [r["keypoints"].to_dict() for r in got] == [r["keypoints"] for r in rows]
    # Every rep event the run wrote, in order (a revised recognition leaves its events too).
    events = [json.loads(line) for line in ran.read_text().splitlines() if '"event"' in line]
    assert [(r["rep"].exercise, r["rep"].rep) for r in got if r["rep"] is not None] == [
        (e["exercise"], e["rep"]) for e in events
    ]


def test_the_example_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "graphs" / "examples" / "embed.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("rep 5: squat") for line in lines), proc.stdout
    assert lines[-1] == "squat: 5 reps, push-up: 4 reps", proc.stdout
