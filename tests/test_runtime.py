"""The engine running graphs: ordering, backpressure, drops, joins, feedback, streams, errors."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import testnodes

import dataflow
from dataflow.cli import main


def run(path: Path, *sets: str) -> dataflow.RunResult:
    return dataflow.run(str(path), list(sets))


def run_keeping_nodes(path: Path) -> tuple[dataflow.RunResult, dataflow.Runtime]:
    """Run a graph and keep its runtime, to look at the node instances afterwards."""
    runtime = dataflow.Runtime(dataflow.load_graph(path))
    runtime.setup()
    return runtime.run(handle_signals=False), runtime


def most_in_flight(runtime: dataflow.Runtime, name: str) -> int:
    return runtime.workers[name].nodes()[0].running.most


def values(name: str) -> list:
    return [v for _, _, v in testnodes.RECEIVED[name]]


def test_chain_delivers_every_packet_in_order(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 500}}\n"
        "  a: {type: scale, inputs: {value: src.value}, params: {factor: 2}}\n"
        "  b: {type: passthrough, inputs: {value: a.value}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: b.value}}\n"
    )
    result = run(g)
    assert result.exit_code == 0
    assert values("out") == [2.0 * i for i in range(500)]
    assert [s for _, s, _ in testnodes.RECEIVED["out"]] == list(range(500))
    assert result.summary["frames"] == 500


def test_backpressure_loses_nothing_and_bounds_the_queue(graph_file) -> None:
    g = graph_file(
        "queue_size: 2\nnodes:\n  src: {type: counter, params: {count: 40}}\n"
        "  slow: {type: 'testnodes:Slow', inputs: {value: src.value}, params: {ms: 2}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: slow.value}}\n"
    )
    result = run(g)
    assert values("out") == [float(i) for i in range(40)]
    slow = next(r for r in result.stats if r["node"] == "slow")
    assert slow["queue_high_water"] <= 2 and slow["drops"] == 0
    assert result.stats_json()["bottleneck"] == "slow"


def test_drop_oldest_keeps_the_newest_and_counts_drops(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 200}}\n"
        "  slow:\n    type: 'testnodes:Slow'\n    params: {ms: 3}\n"
        "    inputs: {value: {from: src.value, policy: drop_oldest, queue_size: 1}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: slow.value}}\n"
    )
    result = run(g)
    got = values("out")
    slow = next(r for r in result.stats if r["node"] == "slow")
    assert slow["drops"] > 100
    assert len(got) + slow["drops"] == 200
    assert got[-1] == 199.0 and got == sorted(got)


def test_diamond_joins_by_sequence_number(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 300}}\n"
        "  ten: {type: scale, inputs: {value: src.value}, params: {factor: 10}}\n"
        "  slow: {type: 'testnodes:Slow', inputs: {value: src.value}, params: {ms: 0.1}}\n"
        "  sum: {type: add, inputs: {a: ten.value, b: slow.value}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: sum.value}}\n"
    )
    run(g)
    assert values("out") == [11.0 * i for i in range(300)]


def test_unwired_optional_input_is_none(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 3, start: 5}}\n"
        "  sum: {type: add, inputs: {a: src.value}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: sum.value}}\n"
    )
    run(g)
    assert values("out") == [5.0, 6.0, 7.0]


def test_skipped_error_leaves_a_gap_that_joins_respect(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 6}}\n"
        "  flaky: {type: 'testnodes:FailAt', inputs: {value: src.value}, params: {at: 2}, on_error: skip}\n"
        "  sum: {type: add, inputs: {a: src.value, b: flaky.value}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: sum.value}}\n"
    )
    result = run(g)
    assert result.exit_code == 0
    # b is optional: seq 2 gets b=None, so a alone
    assert values("out") == [0.0, 2.0, 2.0, 6.0, 8.0, 10.0]
    flaky = next(r for r in result.stats if r["node"] == "flaky")
    assert flaky["errors_skipped"] == 1


def test_error_stops_the_graph_names_node_and_seq_and_flushes_sinks(graph_file, tmp_path) -> None:
    out = tmp_path / "o.jsonl"
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 100000}}\n"
        "  bad: {type: 'testnodes:FailAt', inputs: {value: src.value}, params: {at: 50}}\n"
        f"  sink: {{type: jsonl, inputs: {{value: bad.value}}, params: {{path: '{out}'}}}}\n"
    )
    result = run(g)
    assert result.exit_code == 1
    assert result.failure is not None
    assert result.failure.line() == "node 'bad' failed at seq 50: ValueError: boom"
    assert "raise ValueError" in result.failure.traceback
    lines = out.read_text().splitlines()
    assert len(lines) == 50 and json.loads(lines[-1])["seq"] == 49


def test_feedback_previous_is_exact(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 50, start: 1, step: 0}}\n"
        "  acc:\n    type: add\n    inputs:\n      a: src.value\n      b: {from: acc.value, feedback: previous}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: acc.value}}\n"
    )
    run(g)
    assert values("out") == [float(i) for i in range(1, 51)]


def test_feedback_latest_uses_whatever_came_round(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 50, start: 1, step: 0}}\n"
        "  acc:\n    type: add\n    inputs:\n      a: src.value\n      b: {from: slow.value, feedback: latest}\n"
        "  slow: {type: 'testnodes:Slow', inputs: {value: acc.value}, params: {ms: 0.5}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: acc.value}}\n"
    )
    result = run(g)
    got = values("out")
    assert result.exit_code == 0 and len(got) == 50
    assert got[0] == 1.0 and got == sorted(got) and got[-1] <= 50.0


def test_state_is_kept_per_stream(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: 'testnodes:TwoStreams', params: {count: 4}}\n"
        "  total: {type: accumulate, inputs: {value: src.value}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: total.value}}\n"
    )
    result = run(g)
    by_stream: dict[str, list] = {}
    for stream, seq, v in testnodes.RECEIVED["out"]:
        by_stream.setdefault(stream, []).append((seq, v))
    assert by_stream["a"] == [(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0)]
    assert by_stream["b"] == [(0, 100.0), (1, 200.0), (2, 300.0), (3, 400.0)]
    assert result.summary["frames"] == 8


def test_include_reuses_a_sub_pipeline(tmp_path: Path) -> None:
    (tmp_path / "stages.yaml").write_text(
        "params: {factor: 3}\nnodes:\n  src: {type: counter, params: {count: 4}}\n"
        "  scaled: {type: scale, inputs: {value: src.value}, params: {factor: '${factor}'}}\n"
    )
    (tmp_path / "main.yaml").write_text(
        "include: stages.yaml\nparams: {factor: 5}\n"
        "nodes:\n  out: {type: 'testnodes:Collect', inputs: {value: scaled.value}}\n"
    )
    run(tmp_path / "main.yaml")
    assert values("out") == [0.0, 5.0, 10.0, 15.0]
    run(tmp_path / "main.yaml", "factor=2", "src.count=2")
    assert values("out") == [0.0, 2.0]


def test_set_values_are_parsed_to_the_declared_type(graph_file, capsys) -> None:
    g = graph_file(
        "params: {n: 3}\nnodes:\n  src: {type: counter, params: {count: '${n}', rate: 0}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: src.value}}\n"
    )
    graph = dataflow.load_graph(g, ["n=4", "src.rate=1000", "src.start=2.5"])
    params = graph.nodes["src"].params
    assert params["count"] == 4 and isinstance(params["count"], int)
    assert params["rate"] == 1000.0 and isinstance(params["rate"], float)
    assert params["start"] == 2.5


def test_cli_run_writes_stats_and_summary(graph_file, tmp_path, capsys) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 30}}\n"
        "  slow: {type: 'testnodes:Slow', inputs: {value: src.value}, params: {ms: 1}}\n"
        "  sink: {type: jsonl, inputs: {value: slow.value}, params: {path: '" + str(tmp_path / "o.jsonl") + "'}}\n"
    )
    stats, summary = tmp_path / "stats.json", tmp_path / "summary.json"
    code = main(["run", str(g), "--stats-json", str(stats), "--summary-json", str(summary)])
    err = capsys.readouterr().err
    assert code == 0
    assert "throughput bound by 'slow'" in err
    s = json.loads(stats.read_text())
    assert s["bottleneck"] == "slow"
    row = next(r for r in s["nodes"] if r["node"] == "slow")
    assert row["packets_in"] == 30 and row["packets_out"] == 30
    assert 0.9 < row["process_ms_p50"] < 20 and row["process_ms_p99"] >= row["process_ms_p50"]
    assert 0 < row["busy_fraction"] <= 1.0
    m = json.loads(summary.read_text())
    assert m["frames"] == 30 and m["records"] == 30 and m["seconds"] > 0.02 and m["fps"] > 0


def test_graph_renders_mermaid_and_dot(capsys) -> None:
    assert main(["graph", "graphs/examples/feedback.yaml", "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart LR") and "add -.->|value→b (previous)| add" in out
    assert main(["graph", "graphs/examples/feedback.yaml", "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "feedback"') and "style=dashed" in out


def test_nodes_lists_ports_and_params(capsys) -> None:
    assert main(["nodes"]) == 0
    out = capsys.readouterr().out
    assert "counter  (nodes.basic:CounterSource)" in out
    assert "param count: int (default 10, range [0, ])" in out
    assert "in   b: scalar, optional" in out


def test_node_param_references_follow_overrides(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 2, start: 1}}\n"
        "  a: {type: scale, inputs: {value: src.value}, params: {factor: 3}}\n"
        "  b: {type: scale, inputs: {value: a.value}, params: {factor: '${a.factor}'}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: b.value}}\n"
    )
    run(g)
    assert values("out") == [9.0, 18.0]
    run(g, "a.factor=2")
    assert values("out") == [4.0, 8.0]


def test_async_node_keeps_several_in_flight_and_emits_in_order(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 60}}\n"
        "  dbl: {type: 'testnodes:AsyncDouble', inputs: {value: src.value}, on_error: skip}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: dbl.value}}\n"
    )
    result, runtime = run_keeping_nodes(g)
    assert result.exit_code == 0
    assert most_in_flight(runtime, "dbl") > 1  # really several in flight
    assert values("out") == [2.0 * i for i in range(60) if i != 13]
    assert [s for _, s, _ in testnodes.RECEIVED["out"]] == [i for i in range(60) if i != 13]
    row = next(r for r in result.stats if r["node"] == "dbl")
    assert row["errors_skipped"] == 1 and row["packets_in"] == 60


def test_async_node_in_a_lagged_loop_keeps_the_loop_full(graph_file) -> None:
    # Packet n needs the result of n-2, so two can be in flight; a worker that sleeps on its
    # oldest result instead of on "new input or result ready" would run them one by one.
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 12, start: 1, step: 0}}\n"
        "  acc:\n    type: add\n    inputs:\n      a: src.value\n"
        "      b: {from: dbl.value, feedback: previous, lag: 2}\n"
        "  slow: {type: 'testnodes:Slow', inputs: {value: acc.value}, params: {ms: 5}}\n"
        "  dbl: {type: 'testnodes:AsyncDouble', inputs: {value: slow.value}, params: {in_flight: 2, delay_ms: 30}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: dbl.value}}\n"
    )
    result, runtime = run_keeping_nodes(g)
    assert result.exit_code == 0
    assert most_in_flight(runtime, "dbl") == 2
    # dbl[n] = 2 * (1 + dbl[n-2]): 2, 2, 6, 6, 14, 14, ...
    expected: list[float] = []
    for n in range(12):
        expected.append(2.0 * (1.0 + (expected[n - 2] if n >= 2 else 0.0)))
    assert values("out") == expected


def test_async_node_with_joined_inputs_emits_results_in_order(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 30}}\n"
        "  ten: {type: scale, inputs: {value: src.value}, params: {factor: 10}}\n"
        "  sum: {type: 'testnodes:AsyncAdd', inputs: {a: src.value, b: ten.value},"
        " params: {in_flight: 3, delay_ms: 5}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: sum.value}}\n"
    )
    result, runtime = run_keeping_nodes(g)
    assert result.exit_code == 0
    assert most_in_flight(runtime, "sum") == 3
    assert values("out") == [11.0 * i for i in range(30)]


def test_async_node_with_a_lagged_feedback_input_keeps_two_in_flight(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 12, start: 1, step: 0}}\n"
        "  slow: {type: 'testnodes:Slow', inputs: {value: src.value}, params: {ms: 5}}\n"
        "  acc:\n    type: 'testnodes:AsyncAdd'\n    params: {in_flight: 2, delay_ms: 30}\n"
        "    inputs:\n      a: slow.value\n      b: {from: acc.value, feedback: previous, lag: 2}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: acc.value}}\n"
    )
    result, runtime = run_keeping_nodes(g)
    assert result.exit_code == 0
    assert most_in_flight(runtime, "acc") == 2
    assert values("out") == [1.0 + n // 2 for n in range(12)]  # acc[n] = 1 + acc[n-2]


def test_async_node_with_joined_inputs_reports_an_error_with_its_seq(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 20}}\n"
        "  neg: {type: scale, inputs: {value: src.value}, params: {factor: -2}}\n"
        "  sum: {type: 'testnodes:AsyncAdd', inputs: {a: src.value, b: neg.value}, params: {delay_ms: 1}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: sum.value}}\n"
    )
    result = run(g)
    assert result.exit_code == 1 and result.failure is not None
    assert result.failure.line() == "node 'sum' failed at seq 1: ValueError: negative"
    assert values("out") == [0.0]


def test_async_node_error_stops_the_run_with_its_seq(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 60}}\n"
        "  dbl: {type: 'testnodes:AsyncDouble', inputs: {value: src.value}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: dbl.value}}\n"
    )
    result = run(g)
    assert result.exit_code == 1 and result.failure is not None
    assert result.failure.line() == "node 'dbl' failed at seq 13: ValueError: unlucky"
    assert values("out") == [2.0 * i for i in range(13)]


def test_feedback_previous_with_lag_uses_the_packet_that_many_before(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 8, start: 1, step: 0}}\n"
        "  acc:\n    type: add\n    inputs:\n      a: src.value\n"
        "      b: {from: acc.value, feedback: previous, lag: 2}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: acc.value}}\n"
    )
    run(g)
    # out[n] = 1 + out[n-2]: 1, 1, 2, 2, 3, 3, 4, 4
    assert values("out") == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]


def _latest_loop(graph_file, lag: str) -> list[float]:
    # acc[n] = 1 + the newest acc value that came round a slow loop
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 40, start: 1, step: 0}}\n"
        "  acc:\n    type: add\n    inputs:\n      a: src.value\n"
        f"      b: {{from: slow.value, feedback: latest{lag}}}\n"
        "  slow: {type: 'testnodes:Slow', inputs: {value: acc.value}, params: {ms: 3}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: acc.value}}\n"
    )
    assert run(g).exit_code == 0
    return values("out")


def test_feedback_latest_with_lag_is_never_older_than_that_many_packets(graph_file) -> None:
    out = _latest_loop(graph_file, ", lag: 2")
    # The value used by packet n came from packet n-2 or later, so acc[n] >= 1 + acc[n-2].
    assert all(out[n] >= 1 + out[n - 2] for n in range(2, len(out))), out
    # Without a bound the loop runs ahead of its slow feedback and uses stale values.
    unbounded = _latest_loop(graph_file, "")
    assert unbounded[-1] < out[-1], (unbounded, out)


def test_a_node_waiting_on_feedback_keeps_backpressure(graph_file) -> None:
    # A join that waits (here for a loop to come round) must not pull its upstream into memory:
    # the source stays within the queue bounds (plus one output batch) of its consumer.
    g = graph_file(
        "queue_size: 4\nnodes:\n  src: {type: 'testnodes:CountingSource', params: {count: 600}}\n"
        "  acc:\n    type: add\n    inputs:\n      a: src.value\n"
        "      b: {from: slow.value, feedback: previous}\n"
        "  slow: {type: 'testnodes:Slow', inputs: {value: acc.value}, params: {ms: 1}}\n"
        "  first: {type: 'testnodes:SourceLead', inputs: {value: slow.value}}\n"
    )
    result = run(g)
    assert result.exit_code == 0
    ahead = testnodes.RECEIVED["first"][0][2]
    assert ahead < 100, ahead
    row = next(r for r in result.stats if r["node"] == "acc")
    assert row["packets_in"] == 600 and row["queue_high_water"] <= 4


def test_nodes_taking_inputs_by_name_work(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 3}}\n"
        "  k: {type: 'testnodes:Kwargs', inputs: {value: src.value}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: k.value}}\n"
    )
    run(g)
    assert values("out") == [1.0, 2.0, 3.0]


LINGER = """
nodes:
  src: {type: counter, params: {count: 50}}
  view: {type: 'testnodes:Linger', inputs: {value: src.value}, params: {seconds: SECONDS}}
"""


def test_a_node_stays_up_after_its_stream_for_as_long_as_it_asks(graph_file) -> None:
    result, runtime = run_keeping_nodes(graph_file(LINGER.replace("SECONDS", "0.6")))
    view = runtime.graph.nodes["view"].instance
    assert result.exit_code == 0 and 0.55 <= view.closed_at - view.ended_at < 2.0
    assert result.summary["seconds"] < 0.5  # lingering is not work: fps counts until the streams ended


def test_a_stop_ends_a_node_that_lingers_until_stopped(graph_file) -> None:
    runtime = dataflow.Runtime(dataflow.load_graph(graph_file(LINGER.replace("SECONDS", ".inf"))))
    runtime.setup()
    view = runtime.graph.nodes["view"].instance
    threading.Timer(0.5, lambda: runtime.request_stop("SIGINT")).start()
    t0 = time.monotonic()
    result = runtime.run(handle_signals=False)
    assert view.ended_at is not None and view.closed_at is not None
    assert 0.4 < time.monotonic() - t0 < 3.0 and result.exit_code == 130


def test_a_batched_input_hands_over_full_batches_or_what_came_within_the_wait() -> None:
    from dataflow.channels import BATCH_WAIT_S, EOS, Channel, Inbox, Packet

    inbox = Inbox([Channel("value", 8, False, None, batch=4)])
    for seq in range(4):
        inbox.put(0, Packet("s", seq, 0.0, seq))
    t0 = time.monotonic()
    assert [p.seq for p in inbox.take_single()] == [0, 1, 2, 3]
    assert time.monotonic() - t0 < BATCH_WAIT_S  # a full batch goes at once
    for seq in range(4, 6):
        inbox.put(0, Packet("s", seq, 0.0, seq))
    assert [p.seq for p in inbox.take_single()] == [4, 5]  # the rest never came: after the wait
    assert time.monotonic() - t0 >= BATCH_WAIT_S
    later = threading.Timer(0.01, lambda: [inbox.put(0, Packet("s", 6, 0.0, 6)), inbox.put(0, EOS)])
    later.start()
    t1 = time.monotonic()
    got = inbox.take_single()
    later.join()
    assert [p if p is EOS else p.seq for p in got] == [6, EOS]  # the end of the stream goes at once
    assert time.monotonic() - t1 < BATCH_WAIT_S


def test_a_batched_input_changes_no_value(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: counter, params: {count: 50}}\n"
        "  slow: {type: 'testnodes:Slow', inputs: {value: src.value}, params: {ms: 1}}\n"
        "  dbl: {type: scale, inputs: {value: {from: slow.value, batch: 4}}, params: {factor: 2}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: dbl.value}}\n"
    )
    assert run(g).exit_code == 0
    assert values("out") == [2.0 * i for i in range(50)]


def test_stats_count_every_value_sent_when_a_node_skips_an_error_mid_batch(graph_file) -> None:
    # queue_size 64: packets go in batches, and the engine adds a batch's counts at its flushes.
    g = graph_file(
        "queue_size: 64\nnodes:\n  src: {type: counter, params: {count: 1000}}\n"
        "  p: {type: passthrough, inputs: {value: src.value}}\n"
        "  flaky: {type: 'testnodes:FailAt', inputs: {value: p.value}, params: {at: 500}, on_error: skip}\n"
        "  q: {type: passthrough, inputs: {value: flaky.value}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: q.value}}\n"
    )
    result = run(g)
    rows = {r["node"]: r for r in result.stats}
    assert rows["src"]["packets_out"] == 1000 and rows["p"]["packets_out"] == 1000
    assert rows["flaky"]["packets_in"] == 1000 and rows["flaky"]["packets_out"] == 999
    assert rows["flaky"]["errors_skipped"] == 1
    assert rows["q"]["packets_in"] == 1000 and rows["q"]["packets_out"] == 999
    assert values("out") == [float(i) for i in range(1000) if i != 500]


def test_stats_count_the_values_sent_before_a_failure(graph_file) -> None:
    g = graph_file(
        "queue_size: 64\nnodes:\n  src: {type: counter, params: {count: 100000}}\n"
        "  bad: {type: 'testnodes:FailAt', inputs: {value: src.value}, params: {at: 50}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: bad.value}}\n"
    )
    result = run(g)
    assert result.exit_code == 1
    rows = {r["node"]: r for r in result.stats}
    assert rows["bad"]["packets_out"] == 50 and rows["out"]["packets_in"] == 50
    assert rows["src"]["packets_out"] >= 51 and rows["src"]["packets_out"] == result.summary["frames"]


def test_pass_through_keeps_each_packets_stream_seq_and_value(graph_file) -> None:
    g = graph_file(
        "nodes:\n  src: {type: 'testnodes:TwoStreams', params: {count: 200}}\n"
        "  p: {type: passthrough, inputs: {value: src.value}}\n"
        "  s: {type: scale, inputs: {value: p.value}, params: {factor: 2}}\n"
        "  q: {type: passthrough, inputs: {value: s.value}}\n"
        "  out: {type: 'testnodes:Collect', inputs: {value: q.value}}\n"
    )
    assert run(g).exit_code == 0
    got = testnodes.RECEIVED["out"]
    for stream, value in (("a", 2.0), ("b", 200.0)):
        assert [(seq, v) for s, seq, v in got if s == stream] == [(i, value) for i in range(200)]
