"""Streams that nodes start and end mid-run: ``Output(values, stream=...)`` opens a stream with
its own seqs, ``Output(stream=..., end=True)`` ends it, every node downstream closes that
stream's stateful instance, and a ``feedback: streams`` input sees every stream going on."""

from __future__ import annotations

from pathlib import Path

import pytest
import testnodes

import dataflow
from dataflow.errors import GraphError

GRAPH = (
    "nodes:\n"
    "  src: {type: counter, params: {count: 12}}\n"
    "  fan: {type: 'testnodes:Fanout', inputs: {value: src.value}, params: {streams: 3, end_after: 5}}\n"
    "  acc: {type: accumulate, inputs: {value: fan.value}}\n"
    "  add: {type: add, inputs: {a: acc.value, b: fan.value}}\n"
    "  tot: {type: 'testnodes:StreamTotal', inputs: {value: add.value}}\n"
    "  out: {type: 'testnodes:Collect', inputs: {value: add.value}}\n"
)


def run_keeping(path: Path) -> tuple[dataflow.RunResult, dataflow.Runtime]:
    runtime = dataflow.Runtime(dataflow.load_graph(path))
    runtime.setup()
    return runtime.run(handle_signals=False), runtime


def expected(k: int, n: int) -> list[float]:
    """add = running sum of the stream's values + the value, for the stream's first n values."""
    vals = [1000.0 * k + i for i in range(n)]
    return [sum(vals[: i + 1]) + v for i, v in enumerate(vals)]


def test_streams_started_by_a_node_get_their_own_seqs_and_state(graph_file) -> None:
    testnodes.CLOSED.clear()
    result, _ = run_keeping(graph_file(GRAPH))
    assert result.exit_code == 0
    got: dict[str, list[tuple[int, float]]] = {}
    for stream, seq, value in testnodes.RECEIVED["out"]:
        got.setdefault(stream, []).append((seq, value))
    assert sorted(got) == ["s0", "s1", "s2"]  # the fan's own stream carries nothing
    for k, n in ((0, 5), (1, 10), (2, 12)):
        assert [s for s, _ in got[f"s{k}"]] == list(range(n))
        assert [v for _, v in got[f"s{k}"]] == expected(k, n)


def test_a_stream_that_ends_mid_run_closes_its_instances_and_keeps_their_summary(graph_file) -> None:
    testnodes.CLOSED.clear()
    result, runtime = run_keeping(graph_file(GRAPH))
    assert result.exit_code == 0
    for name in ("acc", "tot"):
        worker = runtime.workers[name]
        assert [s for s, _ in worker.retired] == ["s0", "s1"]  # ended mid-run
        assert list(worker.instances) == ["s2"]  # went on until the run's end
    # Each stream's instance was closed once, the ended ones first, with that stream's total.
    closed = [(s, t) for n, s, t in testnodes.CLOSED if n == "tot"]
    assert [s for s, _ in closed] == ["s0", "s1", "s2"]
    assert [t for _, t in closed] == [sum(expected(k, n)) for k, n in ((0, 5), (1, 10), (2, 12))]
    # The summary is the sink's own combination of every stream's, ended ones included.
    assert result.summary["totals"] == {f"s{k}": sum(expected(k, n)) for k, n in ((0, 5), (1, 10), (2, 12))}


def test_a_streams_feedback_input_sees_the_streams_going_on_and_not_the_ended(graph_file) -> None:
    g = graph_file(
        "nodes:\n"
        "  src: {type: counter, params: {count: 60, rate: 100}}\n"
        "  fan: {type: 'testnodes:Fanout', inputs: {value: src.value}, params: {streams: 2, end_after: 10}}\n"
        "  acc: {type: accumulate, inputs: {value: fan.value}}\n"
        "  see: {type: 'testnodes:SeeStreams', inputs: {value: src.value, "
        "others: {from: acc.value, feedback: streams}}}\n"
    )
    result = dataflow.run(str(g))
    assert result.exit_code == 0
    seen = testnodes.RECEIVED["see"]
    assert len(seen) == 60 and all(stream == "src" for stream, _, _ in seen)
    assert any(streams == ["s0", "s1"] for _, _, streams in seen)
    # Paced at 100/s, 0.3 s after s0 (seq 10) and s1 (seq 20) ended, neither is listed any more.
    assert all(streams == [] for _, seq, streams in seen if seq >= 50)


def test_feedback_mode_must_be_known(graph_file) -> None:
    g = graph_file(
        "nodes:\n"
        "  src: {type: counter}\n"
        "  a: {type: add, inputs: {a: src.value, b: {from: src.value, feedback: sideways}}}\n"
    )
    with pytest.raises(GraphError, match="latest, previous or streams"):
        dataflow.load_graph(g)


def test_started_streams_go_only_on_their_ports_so_a_join_on_the_other_port_never_waits(graph_file) -> None:
    g = graph_file(
        "nodes:\n"
        "  src: {type: counter, params: {count: 300}}\n"
        "  fan: {type: 'testnodes:FanoutBeside', inputs: {value: src.value}}\n"
        "  add: {type: add, inputs: {a: src.value, b: fan.value}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: add.value}}\n"
        "  each: {type: 'testnodes:Collect', inputs: {value: fan.each}}\n"
    )
    result = dataflow.run(str(g))
    assert result.exit_code == 0
    assert [(s, v) for s, _, v in testnodes.RECEIVED["out"]] == [("src", 2.0 * i) for i in range(300)]
    assert sorted({s for s, _, _ in testnodes.RECEIVED["each"]}) == ["s0", "s1"]
