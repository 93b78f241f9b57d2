"""Ctrl-C and SIGTERM stop a live run within a second, flush sinks, print stats, exit 130/143."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

GRAPH = """\
nodes:
  src: {type: counter, params: {count: 0, rate: 200}}
  sink: {type: jsonl, inputs: {value: src.value}, params: {path: '%s'}}
"""


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_run_and_flushes(tmp_path: Path, subprocess_env, sig: int, code: int) -> None:
    out = tmp_path / "o.jsonl"
    graph = tmp_path / "live.yaml"
    graph.write_text(GRAPH % out)
    summary = tmp_path / "s.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dataflow", "run", str(graph), "--summary-json", str(summary)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env,
    )
    deadline = time.monotonic() + 20
    while (not out.exists() or out.stat().st_size == 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=10)
    elapsed = time.monotonic() - t0
    assert proc.returncode == code, err
    assert elapsed < 1.5
    assert "throughput bound by" in err and "stopped by" in err
    lines = out.read_text().splitlines()
    assert lines and json.loads(lines[-1])["seq"] == len(lines) - 1
    assert json.loads(summary.read_text())["records"] == len(lines)
