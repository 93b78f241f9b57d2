"""Run a graph with a live view in a background thread and talk to its server."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dataflow import load_graph
from dataflow.runtime import Runtime
from nodes.sinks.web import LiveView


def athlete_graph(tmp_path: Path, exercise: str = "squat", reps: int = 3, web: str = "") -> Path:
    """Rendered athlete (frames and true joints, no model) -> reps -> energy -> web, on a free port."""
    path = tmp_path / "live.yaml"
    path.write_text(
        f"""
nodes:
  source: {{type: athlete, params: {{exercise: {exercise}, reps: {reps}, seed: 3}}}}
  reps:
    type: reps
    inputs: {{keypoints: source.truth}}
    params: {{exercise: "{exercise}"}}
  energy: {{type: energy, inputs: {{keypoints: source.truth, rep: reps.rep}}}}
  web:
    type: web
    inputs: {{frame: source.frame, keypoints: source.truth, state: reps.state, energy: energy.energy, rep: reps.rep}}
    params: {{port: 0{web}}}
"""
    )
    return path


@contextmanager
def running(path: Path, overrides: list[str] | None = None) -> Iterator[tuple[Runtime, LiveView, threading.Thread]]:
    """Set the graph up (the server starts), run it in a thread, stop it on leaving."""
    runtime = Runtime(load_graph(path, overrides))
    runtime.setup()
    view = runtime.graph.nodes["web"].instance
    assert isinstance(view, LiveView)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", runtime.run(handle_signals=False)), daemon=True)
    thread.start()
    try:
        yield runtime, view, thread
    finally:
        runtime.request_stop("test")
        thread.join(timeout=20)
        assert not thread.is_alive(), "the graph did not stop"
        assert result["r"].exit_code == 0, result["r"].failure


def get(view: LiveView, path: str, timeout: float = 10.0) -> tuple[int, bytes, str]:
    """One raw HTTP GET (the path is sent exactly as given)."""
    conn = http.client.HTTPConnection("127.0.0.1", view.bound_port, timeout=timeout)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body, resp.getheader("Content-Type") or ""


def api_state(view: LiveView) -> dict:
    status, body, _ = get(view, "/api/state")
    assert status == 200
    return json.loads(body)


def wait_until(check, seconds: float = 60.0) -> None:
    """Poll ``check`` until it is true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")
