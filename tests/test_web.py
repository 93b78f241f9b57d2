"""The live view's server: page, state API, WebSocket messages, viewers that do not read, the
bind address, paths outside the node's files."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest
from web_helpers import api_state, athlete_graph, get, running, wait_until

from nodes.counting import spec


def test_page_and_state_api_answer_and_end_with_a_summary(tmp_path: Path) -> None:
    with running(athlete_graph(tmp_path, reps=3)) as (_, view, _):
        status, body, kind = get(view, "/")
        assert status == 200 and kind.startswith("text/html") and b'<canvas id="frame"' in body
        for name in ("app.js", "style.css"):
            assert get(view, f"/static/{name}")[0] == 200
        wait_until(lambda: api_state(view).get("ended"))
        state = api_state(view)
        assert state["exercise"] == "squat" and state["reps"] == 3
        assert state["summary"]["reps"] == 3 and len(state["rep_list"]) == 3
        assert state["plot"]["metric"] == "low" and {t["value"] for t in state["plot"]["thresholds"]} == {0.35, 0.65}


def test_the_end_links_the_session_report(tmp_path: Path) -> None:
    with running(athlete_graph(tmp_path, reps=3)) as (_, view, _):
        wait_until(lambda: api_state(view).get("ended"))
        state = api_state(view)
        status, body, kind = get(view, "/report.html", timeout=120)  # drawn now: matplotlib on loaded cores
        assert get(view, "/report.html")[1] == body  # drawn once
    assert state["report"] == "/report.html"
    page = body.decode()
    assert status == 200 and kind.startswith("text/html")
    assert re.findall(r"<tr class='rep'><td>([^<]+)</td><td>(\d+)</td>", page) == [("squat", str(n)) for n in (1, 2, 3)]
    assert re.search(r"<tr class='set'><td>1</td><td>squat</td><td>3</td>", page)
    assert "Bout 1, squat: states decided on <b>low</b>" in page and page.count("data:image/png;base64,") == 2
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page) and "<script" not in page


def test_the_views_report_draws_what_dataflow_report_would_from_the_runs_files(tmp_path: Path) -> None:
    from nodes.sinks.report import load_records

    graph = athlete_graph(tmp_path, reps=3)
    records = tmp_path / "reps.jsonl"
    graph.write_text(
        graph.read_text()
        + "  session: {type: session, inputs: {state: reps.state, energy: energy.energy, rep: reps.rep},"
        " params: {print: false}}\n"
        f"  records: {{type: records, inputs: {{state: reps.state, energy: energy.energy, rep: reps.rep}},"
        f" params: {{path: '{records}'}}}}\n"
    )
    with running(graph) as (runtime, view, _):
        wait_until(lambda: api_state(view).get("ended"))
        summary = runtime.graph.nodes["session"].instance.summary()
    seen_summary, seen = view.report_data
    assert seen_summary == summary and summary["exercises"]["squat"]["reps"] == 3
    written = load_records(records)
    assert seen.times == written.times and seen.energy == written.energy
    # The view's rep events carry their energy too (as the summary's do).
    assert [{k: v for k, v in e.items() if k != "energy"} for e in seen.events] == written.events
    assert seen.spans == written.spans and seen.out_of_position == written.out_of_position
    assert [(b.metric, b.thresholds, b.values) for b in seen.bouts] == [
        (b.metric, b.thresholds, b.values) for b in written.bouts
    ]


def test_no_report_when_told(tmp_path: Path) -> None:
    with running(athlete_graph(tmp_path, reps=1, web=", report: false")) as (_, view, _):
        wait_until(lambda: api_state(view).get("ended"))
        state = api_state(view)
        assert get(view, "/report.html")[0] == 404
    assert "report" not in state


def test_websocket_messages_carry_keypoints_and_a_jpeg(tmp_path: Path) -> None:
    async def watch(port: int) -> tuple[dict, bytes]:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
            state = None
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    state = msg.json()
                elif msg.type == aiohttp.WSMsgType.BINARY and state is not None and state.get("keypoints"):
                    return state, msg.data
        raise AssertionError("no frame")

    with running(athlete_graph(tmp_path, reps=2)) as (_, view, _):
        state, jpeg = asyncio.run(asyncio.wait_for(watch(view.bound_port), 60))
    kp = state["keypoints"]
    assert len(kp["xy"]) == len(kp["names"]) == len(kp["confidence"]) and state["frame"] is True
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[0] > 100 and image.std() > 5


def test_a_viewer_that_does_not_read_holds_up_neither_the_graph_nor_other_viewers(tmp_path: Path) -> None:
    async def reader(port: int, counts: dict) -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
            async for msg in ws:
                counts["messages"] = counts.get("messages", 0) + 1
                if msg.type == aiohttp.WSMsgType.TEXT and msg.json().get("ended"):
                    return

    graph = athlete_graph(tmp_path, reps=6, web=", max_fps: 1000")
    with running(graph) as (runtime, view, _):
        # A client that completes the WebSocket handshake and then never reads a byte.
        stalled = socket.create_connection(("127.0.0.1", view.bound_port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        counts: dict = {}
        asyncio.run(asyncio.wait_for(reader(view.bound_port, counts), 120))
        frames = runtime.graph.nodes["web"].instance.frames
        stalled.close()
    assert frames > 6 * 60  # the whole set went through: six reps of about two seconds at 30 fps
    assert counts["messages"] > 100  # the reading viewer kept getting updates while the other stalled


def test_binds_loopback_unless_told(tmp_path: Path) -> None:
    with running(athlete_graph(tmp_path, reps=1)) as (_, view, _):
        assert view.bound_address == "127.0.0.1" and view.url.startswith("http://127.0.0.1:")
    with running(athlete_graph(tmp_path, reps=1, web=", host: '::1'")) as (_, view, _):
        assert view.bound_address == "::1" and view.url.startswith("http://[::1]:")


@pytest.mark.parametrize(
    "path",
    ["/static/../web.py", "/static/%2e%2e/web.py", "/static/..%2fweb.py", "/static/%2e%2e%2fweb.py", "/../web.py",
     "/static/..%5cweb.py", "/static/web.py", "/static/", "/static/.%2e/.%2e/spec.py"],
)  # fmt: skip
def test_paths_outside_the_static_files_are_refused(tmp_path: Path, path: str) -> None:
    with running(athlete_graph(tmp_path, reps=1)) as (_, view, _):
        status, body, _ = get(view, path)
    assert status in (400, 403, 404) and b"import" not in body


def test_a_port_in_use_is_one_clear_error(tmp_path: Path, capsys) -> None:
    from dataflow.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["run", str(athlete_graph(tmp_path, reps=1)), "-q", "--set", f"web.port={port}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and f"cannot serve on 127.0.0.1:{port}" in err


def test_a_workouts_plot_names_the_metric_states_are_decided_on() -> None:
    assert spec.load("bicep-curl").plot() == {
        "metric": "elbow",
        "thresholds": [{"state": "extended", "op": ">", "value": 140.0}, {"state": "curled", "op": "<", "value": 70.0}],
    }


def test_state_says_why_the_person_is_out_of_position(tmp_path: Path) -> None:
    graph = athlete_graph(tmp_path, exercise="bicep-curl", reps=1)
    graph.write_text(graph.read_text().replace('exercise: "bicep-curl"', 'exercise: "push-up"'))
    with running(graph) as (_, view, _):
        wait_until(lambda: api_state(view).get("ended"))
        state = api_state(view)
    assert state["exercise"] == "push-up" and state["reps"] == 0 and state["in_position"] is False
    assert state["gate"] == "not wrist_drop > 0.3 or body_tilt > 50"
