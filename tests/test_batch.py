"""dataflow batch on a real local Ray cluster (a head and more nodes, ray.cluster_utils.Cluster):
the same counts as dataflow run, one row per input when a node dies mid-batch, error rows for bad
inputs, resuming, and one line when Ray is missing; the default number of runs at once from the
cores and the graph, checked against Ray's resource numbers on a cluster claiming more CPUs than
this machine has; one after another in this process where one run fills the machine."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT

import dataflow.batch as batch_module
from dataflow import load_graph
from dataflow.batch import Plan, batch, expand_inputs, plan, run_cores
from dataflow.cli import main

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ray = pytest.importorskip("ray") if os.environ.get("CI") != "true" else __import__("ray")
from ray.cluster_utils import Cluster  # noqa: E402

STAGES = ROOT / "graphs" / "parts" / "workout_stages.yaml"


def session_graph(folder: Path) -> Path:
    """Keypoints of the synthetic athlete doing the session given as `input`, recognized and counted."""
    graph = folder / "athlete.yaml"
    graph.write_text(
        f"include: {STAGES}\n"
        "params: {input: 'squat*2', exercise: auto}\n"
        "set: {session.print: false}\n"
        "nodes:\n"
        "  source: {type: synthetic_keypoints, params: {session: '${input}'}}\n"
        "  keypoints: {type: passthrough, inputs: {value: source.keypoints}}\n"
    )
    return graph


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    c.shutdown()


INPUTS = ["squat*3", "push-up*2", "front-raise*4"]


def test_batch_counts_what_run_counts(cluster, tmp_path: Path) -> None:
    graph = session_graph(tmp_path)
    results = tmp_path / "r.jsonl"
    report = batch(str(graph), INPUTS, results, address=cluster.address, progress=False)
    assert report.ok == 3 and report.failed == 0 and report.exit_code == 0
    rows = {r["input"]: r for r in rows_of(results)}
    assert set(rows) == set(INPUTS)
    for value in INPUTS:
        summary = tmp_path / "s.json"
        assert main(["run", str(graph), "-q", "--set", f"input={value}", "--summary-json", str(summary)]) == 0
        expected = json.loads(summary.read_text())
        row = rows[value]
        assert row["status"] == "ok" and row["error"] is None and row["seconds"] > 0
        assert row["summary"]["exercises"] == expected["exercises"] and row["summary"]["frames"] == expected["frames"]


def test_bad_inputs_get_error_rows_and_the_rest_go_on(cluster, tmp_path: Path) -> None:
    not_poses = tmp_path / "notes.npy"
    not_poses.write_text("not an array")
    replay = ROOT / "graphs" / "replay.yaml"
    good = tmp_path / "good.npy"
    import numpy as np

    from nodes.athlete.motion import Take, keypoints_sequence

    poses = np.array([np.column_stack([kp.xy, np.zeros(33)]) for _, kp in keypoints_sequence(Take("squat", 2))])
    np.save(good, poses.astype(np.float32))
    results = tmp_path / "r.jsonl"
    report = batch(
        str(replay), [str(tmp_path / "missing.npy"), str(not_poses), str(good)], results,
        sets=["exercise=squat", f"out={tmp_path / 'reps.jsonl'}", "session.print=false"], param="recording",
        address=cluster.address, progress=False,
    )  # fmt: skip
    assert report.ok == 1 and report.failed == 2 and report.exit_code == 1
    rows = {Path(r["input"]).name: r for r in rows_of(results)}
    assert rows["missing.npy"]["status"] == "error" and "no such file" in rows["missing.npy"]["error"]
    assert rows["notes.npy"]["status"] == "error" and "notes.npy" in rows["notes.npy"]["error"]
    assert "\n" not in rows["notes.npy"]["error"]
    assert rows["good.npy"]["status"] == "ok" and rows["good.npy"]["summary"]["reps"] == 2


def test_rerun_skips_inputs_already_done(cluster, tmp_path: Path) -> None:
    graph = session_graph(tmp_path)
    results = tmp_path / "r.jsonl"
    first = batch(str(graph), ["squat*2", "squt*2"], results, address=cluster.address, progress=False)
    assert first.ok == 1 and first.failed == 1
    again = batch(str(graph), ["squat*2", "squt*2", "push-up*2"], results, address=cluster.address, progress=False)
    # The ok input is skipped; the failed one is tried again, the new one runs.
    assert again.skipped == 1 and again.ok == 1 and again.failed == 1
    assert [r["input"] for r in rows_of(results)].count("squat*2") == 1


def test_a_node_lost_mid_batch_leaves_exactly_one_row_per_input(tmp_path: Path) -> None:
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    doomed = c.add_node(num_cpus=1)
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    try:
        graph = session_graph(tmp_path)
        results = tmp_path / "r.jsonl"
        inputs = [f"squat*{n}" for n in range(20, 28)]
        box: dict = {}
        worker = threading.Thread(
            target=lambda: box.setdefault(
                "report", batch(str(graph), inputs, results, address=c.address, progress=False)
            )
        )
        worker.start()
        deadline = time.time() + 120
        while time.time() < deadline and (not results.exists() or not results.read_text().strip()):
            time.sleep(0.2)
        c.remove_node(doomed)  # a machine of the cluster goes away with tasks on it
        worker.join(timeout=300)
        assert not worker.is_alive()
        rows = rows_of(results)
        assert sorted(r["input"] for r in rows) == sorted(inputs)  # no loss, no duplicate
        assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows if r["status"] != "ok"]
        assert {r["input"]: r["summary"]["reps"] for r in rows} == {f"squat*{n}": n for n in range(20, 28)}
    finally:
        c.shutdown()


def test_inputs_expand_folders_and_globs_and_keep_the_rest(tmp_path: Path) -> None:
    for name in ("b.mp4", "a.mp4", ".hidden"):
        (tmp_path / name).write_text("x")
    folder = [str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4")]
    assert expand_inputs([str(tmp_path)]) == folder
    assert expand_inputs([str(tmp_path / "*.mp4"), "0", "rtsp://cam/1", str(tmp_path / "a.mp4")]) == [
        *folder, "0", "rtsp://cam/1",
    ]  # fmt: skip


def test_without_ray_it_says_how_to_install_it(tmp_path: Path, monkeypatch, capsys) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("no ray")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    graph = session_graph(tmp_path)
    results = str(tmp_path / "r.jsonl")
    assert main(["batch", str(graph), "squat*2", "--results", results, "--workers", "2", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install" in err[0] and "[ray]" in err[0]


def test_a_graph_without_the_input_param_is_one_line(tmp_path: Path, capsys) -> None:
    graph = session_graph(tmp_path)
    assert main(["batch", str(graph), "x", "--param", "video", "--results", str(tmp_path / "r.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no param 'video'" in err[0]


def test_a_live_input_runs_until_stopped_and_reports_its_row(cluster, tmp_path: Path) -> None:
    graph = tmp_path / "live.yaml"
    graph.write_text(
        "params: {input: 10}\n"
        "nodes:\n"
        "  src: {type: counter, params: {count: '${input}', rate: 100}}\n"
        f"  sink: {{type: jsonl, inputs: {{value: src.value}}, params: {{path: '{tmp_path}/out.jsonl'}}}}\n"
    )
    results = tmp_path / "r.jsonl"
    stop = threading.Event()
    box: dict = {}

    def go() -> None:
        box["report"] = batch(str(graph), ["0", "7"], results, address=cluster.address, progress=False, stop=stop)

    worker = threading.Thread(target=go)
    worker.start()
    deadline = time.time() + 120
    while time.time() < deadline and (not results.exists() or not results.read_text().strip()):
        time.sleep(0.2)
    time.sleep(1.0)
    stop.set()  # as Ctrl-C does: the camera-like input ("0" counts until stopped) stops and reports
    worker.join(timeout=120)
    assert not worker.is_alive()
    rows = {r["input"]: r for r in rows_of(results)}
    assert rows["7"]["status"] == "ok" and rows["7"]["summary"]["frames"] == 7 and "stopped" not in rows["7"]
    assert rows["0"]["status"] == "ok" and rows["0"]["stopped"] is True and rows["0"]["summary"]["frames"] > 50
    assert box["report"].interrupted and box["report"].exit_code == 130


# -- how many at once -------------------------------------------------------------------------

SPANS = """
import os
import time
from concurrent.futures import Future

from dataflow import ANY, In, Node, Out, Param


class Ticks(Node):
    \"\"\"``ticks`` values, ``every`` seconds apart (sleeping: it costs no CPU).\"\"\"

    outputs = [Out("value", ANY)]
    params = [Param("label", str, ""), Param("ticks", int, 4), Param("every", float, 0.25)]

    def generate(self):
        for i in range(self.ticks):
            time.sleep(self.every)
            yield {"value": i}


class Spans(Node):
    \"\"\"A sink that keeps 4 packets in flight, as a model with 4 inference requests does, and
    reports when its run started and ended and the cores the run was told it has.\"\"\"

    inputs = [In("value", ANY)]

    def setup(self):
        self.start = time.time()

    def max_in_flight(self):
        return 4

    def process(self, value):
        done = Future()
        done.set_result(None)
        return done

    def summary(self):
        return {"cpus": os.environ.get("DATAFLOW_CPUS"), "start": self.start, "end": time.time()}
"""


def spans_graph(folder: Path, ticks: int = 8) -> Path:
    """A graph that keeps 5 cores busy by its declarations (1 + 4 in flight) and sleeps ~2 s."""
    (folder / "spans.py").write_text(SPANS)
    graph = folder / "spans.yaml"
    graph.write_text(
        "params: {input: x}\nnodes:\n"
        f"  src: {{type: 'spans:Ticks', params: {{label: '${{input}}', ticks: {ticks}}}}}\n"
        "  sink: {type: 'spans:Spans', inputs: {value: src.value}}\n"
    )
    return graph


def most_at_once(rows: list[dict]) -> int:
    """The largest number of runs whose [start, end] overlap."""
    edges = sorted([(r["summary"]["start"], 1) for r in rows] + [(r["summary"]["end"], -1) for r in rows])
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def test_one_run_keeps_busy_its_graph_threads_its_model_streams_and_extra_decoder_threads(tmp_path: Path) -> None:
    reps = ROOT / "graphs" / "reps.yaml"
    assert run_cores(load_graph(reps, ["input=clip.mp4"])) == 3  # 1 + two inference requests in flight
    assert run_cores(load_graph(reps, ["input=clip.mp4", "in_flight=1"])) == 1
    assert run_cores(load_graph(reps, ["input=clip.mp4", "source.threads=3"])) == 5
    assert run_cores(load_graph(reps, ["input=synthetic"])) == 3  # the rendered athlete: no decoder
    assert run_cores(load_graph(session_graph(tmp_path))) == 1  # Python stages only: the interpreter's core
    assert run_cores(load_graph(spans_graph(tmp_path))) == 5


def test_the_default_fills_the_cpus_with_runs_of_what_one_run_keeps_busy() -> None:
    assert plan(2, 3, 8) == Plan(workers=1, cpus=2, run_cores=3, local=True)  # this machine, the main job
    assert plan(16, 3, 8) == Plan(workers=5, cpus=3, run_cores=3)
    assert plan(16, 3, 2) == Plan(workers=2, cpus=8, run_cores=3)  # fewer inputs: bigger shares
    assert plan(2, 1, 8) == Plan(workers=2, cpus=1, run_cores=1)
    assert plan(64, 1, 100) == Plan(workers=64, cpus=1, run_cores=1)
    # A cluster: each run asks for what it keeps busy, within the largest machine.
    assert plan(48, 3, 100, largest_node=16) == Plan(workers=16, cpus=3, run_cores=3)
    assert plan(4, 8, 10, largest_node=2) == Plan(workers=2, cpus=2, run_cores=8)


def test_ray_runs_as_many_at_once_as_its_cpus_hold(tmp_path: Path) -> None:
    # A Ray that claims 16 CPUs on this small machine: runs that keep 5 busy go 3 at once, each
    # told it has 5 cores; the runs sleep, so the claim costs this machine nothing.
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 16, "include_dashboard": False})
    try:
        graph = spans_graph(tmp_path)
        results = tmp_path / "r.jsonl"
        inputs = [f"run-{i}" for i in range(6)]
        report = batch(str(graph), inputs, results, address=c.address, progress=False)
    finally:
        c.shutdown()
    assert report.ok == 6 and report.on_ray
    assert (report.run_cores, report.workers, report.cpus_per_run) == (5, 3, 5)
    rows = rows_of(results)
    assert {r["summary"]["cpus"] for r in rows} == {"5"}
    assert 2 <= most_at_once(rows) <= 3  # parallel, and never more than the CPUs hold


def test_where_one_run_fills_the_machine_the_inputs_run_here_one_after_another(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(batch_module, "available_cores", lambda: 4)  # fewer than the 5 one run keeps busy

    def no_ray() -> None:
        raise AssertionError("Ray was started")

    monkeypatch.setattr(batch_module, "_ray", no_ray)
    graph = spans_graph(tmp_path, ticks=2)
    results = tmp_path / "r.jsonl"
    report = batch(str(graph), ["a", "b", "c"], results, progress=False)
    assert report.ok == 3 and not report.on_ray and report.workers == 1 and report.exit_code == 0
    rows = rows_of(results)
    assert [r["input"] for r in rows] == ["a", "b", "c"] and most_at_once(rows) == 1
    assert {r["summary"]["cpus"] for r in rows} == {None}  # the whole machine, as dataflow run


def test_a_stop_here_keeps_finished_rows_and_the_stopped_input_runs_again(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(batch_module, "available_cores", lambda: 1)
    graph = spans_graph(tmp_path, ticks=6)
    results = tmp_path / "r.jsonl"
    stop = threading.Event()

    def stop_in_the_second_run() -> None:
        while not results.exists() or not results.read_text().strip():
            time.sleep(0.05)
        time.sleep(0.5)
        stop.set()

    threading.Thread(target=stop_in_the_second_run, daemon=True).start()
    report = batch(str(graph), ["a", "b", "c"], results, progress=False, stop=stop)
    assert report.interrupted and report.exit_code == 130 and report.ok == 1
    assert [r["input"] for r in rows_of(results)] == ["a"]  # b was stopped before its end: no row
    again = batch(str(graph), ["a", "b", "c"], results, progress=False)
    assert again.skipped == 1 and again.ok == 2
    assert sorted(r["input"] for r in rows_of(results)) == ["a", "b", "c"]


def test_the_progress_bar_shows_on_a_terminal_only(tmp_path: Path, monkeypatch) -> None:
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(batch_module, "available_cores", lambda: 1)
    graph = spans_graph(tmp_path, ticks=1)
    for tty, expected in ((True, True), (False, False)):
        err = Terminal() if tty else io.StringIO()
        monkeypatch.setattr(sys, "stderr", err)
        results = tmp_path / f"r{tty}.jsonl"
        assert batch(str(graph), ["a", "b"], results).ok == 2
        assert ("2/2" in err.getvalue()) is expected, err.getvalue()


def test_negative_workers_are_one_line(tmp_path: Path, capsys) -> None:
    graph = session_graph(tmp_path)
    assert main(["batch", str(graph), "squat*2", "--workers", "-1", "--results", str(tmp_path / "r.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--workers" in err[0]


def test_a_set_for_a_node_the_input_chooses_holds(tmp_path: Path, monkeypatch) -> None:
    # The graph's default input makes `src` a counter, which has no `every`; the inputs make it Ticks.
    spans_graph(tmp_path)
    graph = tmp_path / "choose.yaml"
    graph.write_text(
        "params: {input: '5'}\nnodes:\n"
        "  src:\n    choose: '${input}'\n    cases:\n"
        "      - {match: 'tick-*', type: 'spans:Ticks', params: {label: '${input}', ticks: 2}}\n"
        "      - {type: counter, params: {count: 3}}\n"
        "  sink: {type: 'spans:Spans', inputs: {value: src.value}}\n"
    )
    monkeypatch.setattr(batch_module, "available_cores", lambda: 1)
    results = tmp_path / "r.jsonl"
    report = batch(str(graph), ["tick-a", "tick-b"], results, sets=["src.every=0.01"], progress=False)
    assert report.ok == 2 and [r["summary"]["frames"] for r in rows_of(results)] == [2, 2]
