"""A camera left running for days: timing statistics and the workout stages keep bounded memory,
and a long run reports its stats while it runs."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dataflow import ANY, KEYPOINTS, In, Node, Out, Param, Sample, load_graph
from dataflow.cli import main
from dataflow.runtime import Runtime
from dataflow.stats import Timing
from nodes.athlete.motion import Take, keypoints_sequence

RSS: dict[str, int] = {}


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


class CycledSquats(Node):
    """``count`` frames of a synthetic athlete squatting, its few hundred frames cycled (cheap)."""

    outputs = [Out("keypoints", KEYPOINTS)]
    params = [Param("count", int, 1000)]

    def generate(self) -> Iterator[Sample]:
        frames = [kp for _, kp in keypoints_sequence(Take("squat", reps=4, seed=1))]
        for i in range(self.count):
            yield Sample({"keypoints": frames[i % len(frames)]}, timestamp=i / 30.0)


class ResidentMemory(Node):
    """Note the process's resident memory after 10,000 packets and at the end."""

    inputs = [In("value", ANY)]

    def process(self, value: Any) -> None:
        if self.seq == 10_000:
            RSS["after_10k"] = resident_bytes()

    def close(self) -> None:
        RSS["end"] = resident_bytes()


def test_timing_quantiles_stay_close_to_the_exact_ones_in_bounded_memory() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(-8, 1.2) for _ in range(200_000)] + [0.0, 1e-9, 3.0]
    timing = Timing()
    for v in values:
        timing.append(v)
    exact = sorted(values)
    for q in (0.5, 0.9, 0.99):
        truth = exact[round(q * (len(exact) - 1))]
        assert abs(timing.quantile(q) - truth) <= 0.05 * truth, q
    assert timing.count == len(values) and abs(timing.total - sum(values)) < 1e-6
    assert len(timing.counts) < 1500  # buckets, however many packets


def test_a_million_packets_through_the_workout_stages_keep_memory_flat(graph_file) -> None:
    path = graph_file(
        """
nodes:
  source: {type: 'test_long_run:CycledSquats', params: {count: 1000000}}
  smooth: {type: one_euro, inputs: {keypoints: source.keypoints}}
  reps: {type: reps, inputs: {keypoints: smooth.keypoints}, params: {exercise: squat}}
  energy: {type: energy, inputs: {keypoints: smooth.keypoints, rep: reps.rep}}
  session: {type: session, inputs: {state: reps.state, energy: energy.energy, rep: reps.rep}, params: {print: false}}
  memory: {type: 'test_long_run:ResidentMemory', inputs: {value: reps.state}}
"""
    )
    runtime = Runtime(load_graph(path))
    runtime.setup()
    result = runtime.run(handle_signals=False)
    assert result.exit_code == 0 and result.summary["frames"] == 1_000_000
    assert result.summary["reps"] > 10_000
    grown = RSS["end"] - RSS["after_10k"]
    assert grown < 10 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MB"


def test_stats_every_reports_while_running(graph_file, tmp_path: Path, capsys) -> None:
    path = graph_file(
        """
nodes:
  src: {type: counter, params: {count: 40}}
  slow: {type: 'testnodes:Slow', inputs: {value: src.value}, params: {ms: 30}}
  sink: {type: discard, inputs: {value: slow.value}}
"""
    )
    stats = tmp_path / "stats.json"
    assert main(["run", str(path), "--stats-every", "0.3", "--stats-json", str(stats)]) == 0
    err = capsys.readouterr().err
    assert err.count("throughput bound by") >= 3  # at least two reports while running, then the final table
    final = json.loads(stats.read_text())
    assert "running" not in final and final["nodes"][1]["packets_in"] == 40
