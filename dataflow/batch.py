"""``dataflow batch``: one graph run per input, several at once, on Ray (this machine or a cluster).

Each input runs in a Ray task that runs the ordinary threaded graph in a worker process; frames
never leave the worker, only the run's one-line result does. How many run at once comes from the
machine and the graph (``run_cores``, ``plan``): where one run already keeps every core busy, the
inputs run one after another in this process, without Ray's start-up. Results are appended to a
JSON-lines file as inputs finish (``input``, ``status``, ``error``, ``seconds``, ``summary``), so a
rerun with the same file skips the inputs already done and Ctrl-C keeps every finished row. Ray
retries a task whose worker or node died; the driver writes one row per input whatever happens.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UserError
from .node import CPUS_ENV

if TYPE_CHECKING:
    from .graph import Graph

RETRIES = 3
LIVE_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "/dev/video")
STOP_WAIT_S = 30.0  # how long a stop waits for live runs to flush and report


def is_live(value: str) -> bool:
    """A camera or a stream: it runs until stopped, not until its end."""
    return value.isdigit() or value.startswith(LIVE_PREFIXES)


def expand_inputs(items: list[str]) -> list[str]:
    """Files as given, globs and folders expanded (sorted), anything else (a camera index, a URL,
    a source a graph understands, a glob that matches nothing) as it is: an input that cannot be
    read gets its error row. Duplicates are dropped, order kept."""
    out: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            out += sorted(str(p) for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif any(ch in item for ch in "*?[") and not path.exists() and glob.glob(item):
            out += sorted(glob.glob(item))
        else:
            out.append(item)
    return list(dict.fromkeys(out))


def done_inputs(results: Path) -> set[str]:
    """Inputs with an ``ok`` row in an earlier run's results (errors are tried again)."""
    done: set[str] = set()
    if not results.exists():
        return done
    with results.open(encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a row cut short by a crash: that input runs again
            if row.get("status") == "ok":
                done.add(row["input"])
    return done


def run_one(graph: str, param: str, value: str, sets: list[str], cpus: int, holder: Any = None) -> dict[str, Any]:
    """Run ``graph`` with ``param=value`` in this process, told it has ``cpus`` cores (0: all);
    the result row (never raises). ``holder.runtime`` is set while it runs, so another thread can
    stop it."""
    from .errors import DataflowError
    from .graph import load_graph
    from .runtime import Runtime

    if cpus:  # 0: the run has the whole machine (one after another in the driver), as dataflow run
        os.environ[CPUS_ENV] = str(cpus)
    t0 = time.perf_counter()
    row: dict[str, Any] = {"input": value}
    try:
        runtime = Runtime(load_graph(graph, [*sets, f"{param}={value}"]))
        runtime.setup()
        if holder is not None:
            holder.runtime = runtime
            if holder.stop_requested:
                runtime.request_stop("stop")
        result = runtime.run(handle_signals=False)
        if result.failure is not None:
            row.update(status="error", error=result.failure.line())
        else:
            row.update(status="ok", error=None)
        if result.stopped_by:
            row["stopped"] = True
        summary = {k: v for k, v in result.summary.items() if k != "rep_events"}
        row["summary"] = summary
    except DataflowError as exc:
        row.update(status="error", error=str(exc), summary=None)
    except Exception as exc:  # a bug in a node must cost one row, not the batch
        row.update(status="error", error=f"{type(exc).__name__}: {exc}", summary=None)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


class LiveRun:
    """A Ray actor for a camera or stream: ``run`` until ``stop`` (called while it runs), then the
    row, as for a file; the graph stops as on Ctrl-C, so its sinks flush."""

    def __init__(self) -> None:
        self.runtime: Any = None
        self.stop_requested = False

    def run(self, graph: str, param: str, value: str, sets: list[str], cpus: int) -> dict[str, Any]:
        return run_one(graph, param, value, sets, cpus, holder=self)

    def stop(self) -> None:
        self.stop_requested = True
        if self.runtime is not None:
            self.runtime.request_stop("stop")


def available_cores() -> int:
    """Cores this process may run on (its affinity, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_cores(graph: Graph) -> int:
    """Cores one run of ``graph`` keeps busy, from what its nodes declare:

    - one for the graph's own threads: the Python stages take turns under the interpreter lock, and
      native work on a node's own thread (a one-thread decoder, a model with one frame in flight)
      overlaps them;
    - a node that keeps N > 1 calls in flight (``max_in_flight``: a model's inference requests,
      one stream each) runs them on N threads of their own;
    - a source's decoder threads beyond the first (its ``threads`` param; 0, the decoder's own
      choice, counts as one more).

    The main job (two frames in flight, one decoder thread) keeps 3 busy; measured, it keeps both
    cores of a 2-core machine busy (1.8 cores, 19 CPU-ms a frame, 14 of them in the model)."""
    cores = 1
    for spec in graph.nodes.values():
        try:
            in_flight = int(spec.cls(spec.name, spec.params).max_in_flight())
        except Exception:  # a node that only knows after setup: no claim
            in_flight = 1
        if in_flight > 1:
            cores += in_flight
        threads = spec.params.get("threads")
        if spec.cls.is_source() and isinstance(threads, int) and not isinstance(threads, bool):
            cores += threads - 1 if threads > 0 else 1
    return cores


@dataclass
class Plan:
    """How a batch uses the CPUs it has: ``workers`` runs at once, each told it has ``cpus`` cores
    (``DATAFLOW_CPUS``) and asking Ray for as many; ``local``: one after another in this process."""

    workers: int
    cpus: int
    run_cores: int
    local: bool = False


def plan(cpus: int, cores_per_run: int, inputs: int, largest_node: int | None = None) -> Plan:
    """The default for ``cpus`` CPUs (Ray's count: this machine's cores, or a cluster's in all) and
    ``inputs`` runs that each keep ``cores_per_run`` busy: as many runs at once as fill the CPUs
    (at least one), each given an equal share. On a cluster (``largest_node``: the most CPUs one
    machine has) a run asks for what it keeps busy, within one machine, and Ray fits as many on each
    machine as its CPUs hold."""
    cpus, inputs = max(1, cpus), max(1, inputs)
    if largest_node is not None:
        share = max(1, min(cores_per_run, largest_node))
        return Plan(workers=max(1, min(inputs, cpus // share)), cpus=share, run_cores=cores_per_run)
    workers = max(1, min(inputs, cpus // cores_per_run))
    return Plan(workers=workers, cpus=max(1, cpus // workers), run_cores=cores_per_run, local=workers == 1)


@dataclass
class BatchReport:
    """What a batch did: rows by status, frames, wall time and how it ran the inputs."""

    ok: int = 0
    failed: int = 0
    skipped: int = 0
    frames: int = 0
    seconds: float = 0.0
    startup_s: float = 0.0
    interrupted: bool = False
    workers: int = 0  # runs at once
    cpus_per_run: int = 0  # the cores each run was told it has (0: all of this machine's)
    run_cores: int = 0  # what one run of the graph keeps busy (run_cores)
    on_ray: bool = False

    @property
    def exit_code(self) -> int:
        return 130 if self.interrupted else (0 if self.failed == 0 else 1)


def _ray():
    try:
        import ray
    except ImportError:
        raise UserError(
            "dataflow batch runs on Ray, which is not installed: pip install 'dataflow-pose[ray]'"
        ) from None
    return ray


def start_ray(address: str | None, workers: int) -> Any:
    """Join ``address`` (auto, ray://host:port, host:port) or start Ray here, quietly."""
    ray = _ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": True, "logging_level": "ERROR"}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, **kwargs)
    except Exception as exc:
        raise UserError(f"batch: cannot start Ray{f' at {address}' if address else ''}: {exc}") from None
    return ray


def batch(
    graph: str,
    inputs: list[str],
    results: Path,
    sets: list[str] | None = None,
    workers: int = 0,
    address: str | None = None,
    param: str = "input",
    progress: bool = True,
    stop: threading.Event | None = None,
) -> BatchReport:
    """Run ``graph`` once per input; append a row per finished input to ``results``. Files run as
    Ray tasks; cameras and streams (``is_live``) as actors that run until ``stop`` is set (or Ctrl-C)."""
    from .errors import GraphError
    from .graph import load_graph

    if workers < 0:
        raise UserError(f"batch: --workers must be 0 (choose from the cores and the graph) or more, not {workers}")
    sets = list(sets or [])
    todo_all = expand_inputs(inputs)
    try:
        checked = load_graph(graph, sets)  # a broken graph is one error, not one per input
    except GraphError:
        if not todo_all:
            raise
        # A --set for a node the input chooses (source.max_frames of a video, where the graph's
        # default input is the rendered athlete) holds once an input is given.
        checked = load_graph(graph, [*sets, f"{param}={todo_all[0]}"])
    if param not in checked.params:
        known = ", ".join(checked.params) or "none"
        raise UserError(f"batch: graph {graph} has no param '{param}' to give each input to (its params: {known})")
    done = done_inputs(results)
    todo = [i for i in todo_all if i not in done]
    report = BatchReport(skipped=len(todo_all) - len(todo))
    if not todo:
        return report
    graph_path = str(Path(graph).resolve()) if Path(graph).exists() else graph
    report.run_cores = _graph_cores(graph, sets, param, todo[0], checked)
    results.parent.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    t0 = time.perf_counter()
    if not workers and not address:
        chosen = plan(available_cores(), report.run_cores, len(todo))
        if chosen.local and not any(is_live(v) for v in todo):
            # One run already keeps every core busy: Ray's start-up and a worker process per run
            # would only be added on top of one after another.
            report.workers = 1
            try:
                _run_here(graph_path, param, todo, sets, results, report, progress, stop)
            finally:
                report.seconds = time.perf_counter() - t0
            return report
    ray = start_ray(address, workers or available_cores())
    report.startup_s = time.perf_counter() - t0
    report.on_ray = True
    if workers and not address:  # as asked: that many at once, the cores shared between them
        chosen = Plan(workers=workers, cpus=max(1, available_cores() // workers), run_cores=report.run_cores)
        ask = 1.0  # Ray was started with one CPU per worker
    else:
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        largest = max((int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")), default=1)
        # A cluster: each run asks Ray for the cores it keeps busy (--workers is for this machine).
        chosen = plan(cluster_cpus, report.run_cores, len(todo), largest_node=largest if address else None)
        ask = float(chosen.cpus)
    report.workers, report.cpus_per_run = chosen.workers, chosen.cpus
    task = ray.remote(num_cpus=ask, max_retries=RETRIES, retry_exceptions=False)(run_one)
    # A camera or stream runs until stopped: here it asks for no CPU, so that it neither waits for
    # files nor holds them up (it is paced by its source); on a cluster one, to spread them out.
    actor_class = ray.remote(num_cpus=min(ask, 1.0) if address else 0, max_concurrency=2)(LiveRun)
    pending: dict[Any, str] = {}
    actors: dict[Any, Any] = {}  # live runs: result ref -> actor
    for value in todo:
        if is_live(value):
            actor = actor_class.remote()
            ref = actor.run.remote(graph_path, param, value, sets, chosen.cpus)
            actors[ref] = actor
        else:
            ref = task.remote(graph_path, param, value, sets, chosen.cpus)
        pending[ref] = value
    bar = _progress(len(todo), report, progress)
    try:
        with results.open("a", encoding="utf-8") as out:

            def record(ref: Any) -> None:
                value = pending.pop(ref)
                actors.pop(ref, None)
                try:
                    row = ray.get(ref)
                except Exception as exc:  # the task failed past its retries (a lost node, a killed worker)
                    row = {"input": value, "status": "error", "error": _ray_error(exc), "summary": None}
                _record(out, report, bar, row)

            try:
                while pending and not stop.is_set():
                    ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                    for ref in ready:
                        record(ref)
            except KeyboardInterrupt:
                stop.set()
            if pending:
                report.interrupted = True
                # Live runs stop as on Ctrl-C and report; unfinished files are cancelled (rerun to do them).
                for actor in actors.values():
                    actor.stop.remote()
                for ref in [r for r in pending if r not in actors]:
                    ray.cancel(ref, force=True)
                    pending.pop(ref)
                ready, _ = (
                    ray.wait(list(pending), num_returns=len(pending), timeout=STOP_WAIT_S) if pending else ([], [])
                )
                for ref in ready:
                    record(ref)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - t0
        ray.shutdown()
    return report


def _ray_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


def _progress(total: int, report: BatchReport, progress: bool) -> Any:
    """A progress bar over the inputs on stderr, shown on a terminal only."""
    from tqdm import tqdm

    share = f" x {report.cpus_per_run} cores" if report.cpus_per_run else ""
    return tqdm(
        total=total,
        unit="input",
        desc=f"{report.workers} at once{share}",
        file=sys.stderr,
        disable=not (progress and sys.stderr.isatty()),
        dynamic_ncols=True,
    )


def _record(out: Any, report: BatchReport, bar: Any, row: dict[str, Any]) -> None:
    """One finished input: its JSON line, the report's counts, the progress bar."""
    out.write(json.dumps(row) + "\n")
    out.flush()
    if row["status"] == "ok":
        report.ok += 1
        report.frames += int((row.get("summary") or {}).get("frames") or 0)
    else:
        report.failed += 1
    _advance(bar, report)


def _advance(bar: Any, report: BatchReport) -> None:
    if report.failed:
        bar.set_postfix(failed=report.failed, refresh=False)
    bar.update(1)


def _graph_cores(graph: str, sets: list[str], param: str, first: str, checked: Graph) -> int:
    """``run_cores`` of the graph as the first input makes it (a node may choose its type by the
    input, a video decoder or a rendered athlete); the graph as checked if that input cannot load it."""
    from .errors import DataflowError
    from .graph import load_graph

    try:
        return run_cores(load_graph(graph, [*sets, f"{param}={first}"]))
    except DataflowError:
        return run_cores(checked)


def _run_here(
    graph: str, param: str, todo: list[str], sets: list[str], results: Path, report: BatchReport,
    progress: bool, stop: threading.Event,
) -> None:  # fmt: skip
    """The inputs one after another in this process, each on a thread that ``stop`` or Ctrl-C
    stops as it stops ``dataflow run``; a file stopped before its end gets no row (a rerun does it)."""
    bar = _progress(len(todo), report, progress)  # writes to the stderr of now, not to the redirect
    try:
        # What the runs print goes nowhere, as on Ray (log_to_driver off): one line per input from
        # a session node, or a video's own progress bar, would break up the batch's bar.
        with (
            results.open("a", encoding="utf-8") as out,
            ThreadPoolExecutor(1, "batch-run") as pool,
            open(os.devnull, "w") as quiet,
            contextlib.redirect_stdout(quiet),
            contextlib.redirect_stderr(quiet),
        ):
            for value in todo:
                if stop.is_set():
                    break
                holder = LiveRun()
                future = pool.submit(holder.run, graph, param, value, sets, 0)
                row = None
                try:
                    while row is None:
                        try:
                            row = future.result(timeout=0.2)
                        except FutureTimeout:
                            if stop.is_set():
                                holder.stop()
                except KeyboardInterrupt:
                    stop.set()
                    holder.stop()
                    row = future.result(timeout=STOP_WAIT_S)
                if stop.is_set() and row.get("stopped"):
                    break
                _record(out, report, bar, row)
    finally:
        bar.close()
    report.interrupted = stop.is_set() and report.ok + report.failed < len(todo)


def format_report(report: BatchReport, results: Path) -> str:
    """The closing table on stderr."""
    rate = report.frames / report.seconds if report.seconds > 0 else 0.0
    where = f" on Ray, {report.cpus_per_run} cores each" if report.on_ray else ", one after another in this process"
    lines = [
        f"{'inputs ok':18s} {report.ok}",
        f"{'inputs failed':18s} {report.failed}",
        f"{'already done':18s} {report.skipped}",
        f"{'frames':18s} {report.frames}",
        f"{'frames/s in all':18s} {rate:.1f}",
        f"{'runs at once':18s} {report.workers}{where} (one run keeps {report.run_cores} busy)",
        f"{'wall':18s} {report.seconds:.1f} s" + (f" (Ray start {report.startup_s:.1f} s)" if report.on_ray else ""),
        f"{'results':18s} {results}",
    ]
    if report.interrupted:
        lines.append("stopped by Ctrl-C: finished inputs are in the results; rerun to do the rest")
    return "\n".join(lines)
