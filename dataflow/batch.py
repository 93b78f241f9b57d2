"""``dataflow batch``: one graph run per input, several at once, on Ray (this machine or a cluster).

Each input runs in a Ray task that runs the ordinary threaded graph in a worker process; frames
never leave the worker, only the run's one-line result does. Results are appended to a JSON-lines
file as inputs finish (``input``, ``status``, ``error``, ``seconds``, ``summary``), so a rerun with
the same file skips the inputs already done and Ctrl-C keeps every finished row. Ray retries a
task whose worker or node died; the driver writes one row per input whatever happens.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError
from .node import CPUS_ENV

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
    """Run ``graph`` with ``param=value`` in this process; the result row (never raises).
    ``holder.runtime`` is set while it runs, so another thread can stop it."""
    from .errors import DataflowError
    from .graph import load_graph
    from .runtime import Runtime

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


@dataclass
class BatchReport:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    frames: int = 0
    seconds: float = 0.0
    startup_s: float = 0.0
    interrupted: bool = False

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
    from .graph import load_graph

    sets = list(sets or [])
    checked = load_graph(graph, sets)  # a broken graph is one error, not one per input
    if param not in checked.params:
        known = ", ".join(checked.params) or "none"
        raise UserError(f"batch: graph {graph} has no param '{param}' to give each input to (its params: {known})")
    todo_all = expand_inputs(inputs)
    done = done_inputs(results)
    todo = [i for i in todo_all if i not in done]
    report = BatchReport(skipped=len(todo_all) - len(todo))
    if not todo:
        return report
    workers = workers or (os.cpu_count() or 1)
    t0 = time.perf_counter()
    ray = start_ray(address, workers)
    report.startup_s = time.perf_counter() - t0
    cluster_cpus = int(ray.cluster_resources().get("CPU", workers))
    # Each run gets the cores its share of the machine has: workers do not fight over them.
    cpus = max(1, (os.cpu_count() or 1) // max(1, min(workers, len(todo)))) if not address else 1
    task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(run_one)
    actor_class = ray.remote(num_cpus=1, max_concurrency=2)(LiveRun)
    graph_path = str(Path(graph).resolve()) if Path(graph).exists() else graph
    pending: dict[Any, str] = {}
    actors: dict[Any, Any] = {}  # live runs: result ref -> actor
    for value in todo:
        if is_live(value):
            actor = actor_class.remote()
            ref = actor.run.remote(graph_path, param, value, sets, cpus)
            actors[ref] = actor
        else:
            ref = task.remote(graph_path, param, value, sets, cpus)
        pending[ref] = value
    results.parent.mkdir(parents=True, exist_ok=True)
    bar = _Progress(len(todo), cluster_cpus) if progress and sys.stderr.isatty() else None
    stop = stop or threading.Event()
    try:
        with results.open("a", encoding="utf-8") as out:

            def record(ref: Any) -> None:
                value = pending.pop(ref)
                actors.pop(ref, None)
                try:
                    row = ray.get(ref)
                except Exception as exc:  # the task failed past its retries (a lost node, a killed worker)
                    row = {"input": value, "status": "error", "error": _ray_error(exc), "summary": None}
                out.write(json.dumps(row) + "\n")
                out.flush()
                if row["status"] == "ok":
                    report.ok += 1
                    report.frames += int((row.get("summary") or {}).get("frames") or 0)
                else:
                    report.failed += 1
                if bar:
                    bar.update(report.ok + report.failed, report.failed)

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
        if bar:
            bar.close()
        report.seconds = time.perf_counter() - t0
        ray.shutdown()
    return report


def _ray_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


class _Progress:
    """inputs done / all on one stderr line (a terminal only)."""

    def __init__(self, total: int, cpus: int) -> None:
        self.total, self.cpus, self.t0 = total, cpus, time.perf_counter()
        self.update(0, 0)

    def update(self, done: int, failed: int) -> None:
        width = 30
        filled = int(width * done / max(1, self.total))
        bad = f", {failed} failed" if failed else ""
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} inputs{bad}, "
            f"{time.perf_counter() - self.t0:.0f} s, {self.cpus} CPUs"
        )
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def format_report(report: BatchReport, results: Path) -> str:
    rate = report.frames / report.seconds if report.seconds > 0 else 0.0
    lines = [
        f"{'inputs ok':18s} {report.ok}",
        f"{'inputs failed':18s} {report.failed}",
        f"{'already done':18s} {report.skipped}",
        f"{'frames':18s} {report.frames}",
        f"{'frames/s in all':18s} {rate:.1f}",
        f"{'wall':18s} {report.seconds:.1f} s (Ray start {report.startup_s:.1f} s)",
        f"{'results':18s} {results}",
    ]
    if report.interrupted:
        lines.append("stopped by Ctrl-C: finished inputs are in the results; rerun to do the rest")
    return "\n".join(lines)
