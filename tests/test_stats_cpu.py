"""Per-node CPU time in the run statistics: the node's thread, the process, the JSON and the table;
process-time quantiles from the bounded timing histogram."""

from __future__ import annotations

import json
import random
import threading
import time
import tracemalloc
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

import dataflow
from dataflow import ANY, In, Node, Out, Param
from dataflow.cli import main
from dataflow.stats import RAW_TIMES, Timing


def spin(ms: float) -> None:
    """Keep this thread on the CPU for ``ms`` of its own CPU time (not wall: a loaded machine
    stretches the wall time, the CPU spent stays what the test expects)."""
    end = time.thread_time() + ms / 1e3
    while time.thread_time() < end:
        pass


class Burn(Node):
    """Spend ``ms`` of CPU per packet on the node's thread."""

    inputs = [In("value", ANY)]
    outputs = [Out("value", ANY, like="value")]
    params = [Param("ms", float, 2.0, min=0)]

    def process(self, value: Any) -> dict[str, Any]:
        spin(self.ms)
        return {"value": value}


class PoolBurn(Node):
    """Spend ``ms`` of CPU per packet on a thread of its own pool, as an inference library does."""

    inputs = [In("value", ANY)]
    outputs = [Out("value", ANY, like="value")]
    params = [Param("ms", float, 2.0, min=0)]

    def setup(self) -> None:
        self.pool = ThreadPoolExecutor(1)

    def max_in_flight(self) -> int:
        return 2

    def _work(self, value: Any) -> dict[str, Any]:
        spin(self.ms)
        return {"value": value}

    def process(self, value: Any) -> Future:
        return self.pool.submit(self._work, value)

    def close(self) -> None:
        self.pool.shutdown()


CHAIN = (
    "nodes:\n  src: {type: counter, params: {count: COUNT}}\n"
    "  burn: {type: 'test_stats_cpu:Burn', inputs: {value: src.value}, params: {ms: 2}}\n"
    "  nap: {type: 'testnodes:Slow', inputs: {value: burn.value}, params: {ms: 2}}\n"
    "  sink: {type: discard, inputs: {value: nap.value}}\n"
)


def run(path: Path, **kwargs: Any) -> dataflow.RunResult:
    runtime = dataflow.Runtime(dataflow.load_graph(path))
    runtime.setup()
    return runtime.run(handle_signals=False, **kwargs)


def rows_by_node(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["node"]: r for r in rows}


def test_a_busy_node_shows_its_cpu_and_a_sleeping_one_next_to_none(graph_file) -> None:
    result = run(graph_file(CHAIN.replace("COUNT", "60")))
    assert result.exit_code == 0
    rows = rows_by_node(result.stats)
    burn, nap = rows["burn"], rows["nap"]
    # 2 ms of CPU in process, plus the engine's few microseconds per packet.
    assert 1.9 < burn["cpu_ms_per_packet"] < 2.5
    # Near its wall time; a loaded machine stretches the wall, hence the margin.
    assert burn["cpu_ms_per_packet"] > 0.5 * burn["process_ms_p50"]
    assert abs(burn["cpu_s"] - 60 * burn["cpu_ms_per_packet"] / 1e3) < 2e-3
    assert nap["process_ms_p50"] > 1.9  # 2 ms of wall ...
    assert nap["cpu_ms_per_packet"] < 0.3  # ... and next to no CPU
    assert rows["src"]["cpu_ms_per_packet"] < 0.3 and rows["sink"]["cpu_ms_per_packet"] < 0.3


def test_stats_json_and_the_table_carry_the_cpu(graph_file, tmp_path: Path, capsys) -> None:
    stats = tmp_path / "stats.json"
    assert main(["run", str(graph_file(CHAIN.replace("COUNT", "30"))), "--stats-json", str(stats)]) == 0
    err = capsys.readouterr().err
    doc = json.loads(stats.read_text())
    for row in doc["nodes"]:
        assert isinstance(row["cpu_ms_per_packet"], float) and isinstance(row["cpu_s"], float)
    assert doc["cpu_s"] == round(sum(r["cpu_s"] for r in doc["nodes"]), 4)
    assert doc["cpu_s"] > 30 * 2e-3
    assert doc["process_cpu_s"] >= 0.99 * doc["cpu_s"]  # every node thread is in the process
    header, _rule, *lines = err.strip().splitlines()
    assert "cpu ms" in header.split("  ")
    burn = next(line for line in lines if line.startswith("burn "))
    column = header.index("cpu ms") + len("cpu ms")  # the numbers are right-aligned under it
    assert 1.9 < float(burn[:column].split()[-1]) < 2.5
    assert "s in nodes of" in lines[-1] and "s in the process" in lines[-1]


def test_cpu_on_a_nodes_own_pool_shows_only_in_the_process_cpu(graph_file) -> None:
    result = run(
        graph_file(
            "nodes:\n  src: {type: counter, params: {count: 40}}\n"
            "  pool: {type: 'test_stats_cpu:PoolBurn', inputs: {value: src.value}, params: {ms: 2}}\n"
            "  sink: {type: discard, inputs: {value: pool.value}}\n"
        )
    )
    assert result.exit_code == 0
    doc = result.stats_json()
    pool = rows_by_node(doc["nodes"])["pool"]
    assert pool["cpu_ms_per_packet"] < 0.5  # submitting is cheap; the 2 ms run on the pool's thread
    assert doc["process_cpu_s"] > doc["cpu_s"] + 40 * 1.8e-3


def test_a_live_report_reads_the_cpu_of_threads_still_running(graph_file) -> None:
    seen: list[float] = []

    def report(rows: list[dict[str, Any]], _wall: float) -> None:
        seen.append(rows_by_node(rows)["burn"]["cpu_s"])

    result = run(graph_file(CHAIN.replace("COUNT", "100")), report_every=0.05, report=report)
    final = rows_by_node(result.stats)["burn"]["cpu_s"]
    assert len(seen) >= 2
    assert 0 < seen[0] < final and seen == sorted(seen)
    assert result.process_cpu_s is not None and result.process_cpu_s >= final


def generated_times(seed: int) -> dict[str, list[float]]:
    """Process times of a few shapes: one mode, a fast path with a slow tail, several decades."""
    rng = random.Random(seed)
    return {
        "lognormal": [rng.lognormvariate(-8, 1.2) for _ in range(50_000)],
        "fast_with_slow_tail": [
            rng.gauss(20e-3, 2e-3) if rng.random() < 0.03 else rng.uniform(4e-6, 6e-6) for _ in range(50_000)
        ],
        "decades": [10 ** rng.uniform(-6, 1) for _ in range(50_000)],
        "short": [rng.uniform(1e-6, 1e-3) for _ in range(RAW_TIMES // 3)],  # never binned: all still raw
    }


def test_timing_p50_and_p99_are_within_one_percent_of_the_exact_ones() -> None:
    for shape, values in generated_times(11).items():
        timing = Timing()
        for v in values:
            timing.append(v)
        exact = sorted(values)
        for q in (0.5, 0.99):
            truth = exact[round(q * (len(exact) - 1))]
            assert abs(timing.quantile(q) - truth) <= 0.01 * truth, (shape, q, timing.quantile(q), truth)
        assert timing.count == len(values)
        assert abs(timing.total - sum(values)) <= 1e-9 * sum(values)
        assert sum(timing.counts.values()) == len(values)


def test_timing_memory_does_not_grow_with_the_packet_count() -> None:
    values = generated_times(5)["lognormal"] * 20  # a million times, made before tracing starts
    timing = Timing()
    tracemalloc.start()
    try:
        for v in values[: 4 * RAW_TIMES]:
            timing.append(v)
        early = tracemalloc.get_traced_memory()[0]
        for v in values[4 * RAW_TIMES :]:
            timing.append(v)
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert timing.count == len(values)
    # A float per packet would be 8 MB more; the raw list never holds more than RAW_TIMES.
    assert late - early < 4 * RAW_TIMES * 8, late - early


def test_a_report_from_another_thread_sees_every_time_once() -> None:
    timing = Timing()
    values = generated_times(2)["decades"]
    done = threading.Event()
    seen: list[tuple[int, int]] = []

    def read() -> None:
        while not done.is_set():
            bins, count, _ = timing.snapshot()
            seen.append((int(bins.sum()), count))

    reader = threading.Thread(target=read)
    reader.start()
    for v in values:
        timing.append(v)
    done.set()
    reader.join()
    assert len(seen) > 1
    assert all(binned == count for binned, count in seen)  # nothing counted twice or lost mid-bin
    assert [c for _, c in seen] == sorted(c for _, c in seen)


def test_timing_fed_as_the_hot_loops_feed_it_matches_numpy_exact_percentiles() -> None:
    """The engine's loops append to ``raw`` and ``settle`` once per batch of packets (up to a
    queue's size): p50/p99 within 1 % of numpy's exact ones, raw bounded by RAW_TIMES + a batch."""
    for shape, values in generated_times(7).items():
        timing = Timing()
        start, k = 0, 0
        while start < len(values):
            size = 1 + (k * 37) % 64  # batches of 1 to 64 packets
            for v in values[start : start + size]:
                timing.raw.append(v)
            assert len(timing.raw) < RAW_TIMES + 64
            timing.settle()
            assert len(timing.raw) < RAW_TIMES
            start, k = start + size, k + 1
        exact = np.sort(np.asarray(values))
        for q in (0.5, 0.99):
            truth = float(exact[round(q * (len(exact) - 1))])
            assert abs(timing.quantile(q) - truth) <= 0.01 * truth, (shape, q, timing.quantile(q), truth)
        assert timing.count == len(values) and sum(timing.counts.values()) == len(values)
        assert abs(timing.total - float(exact.sum())) <= 1e-9 * float(exact.sum())
