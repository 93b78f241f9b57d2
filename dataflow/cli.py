"""The ``dataflow`` command: nodes, validate, graph, run (and plug-in commands)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from . import __version__, library, registry
from .errors import DataflowError
from .graph import load_graph
from .runtime import Runtime
from .stats import format_table, stats_document

COMMAND_GROUP = "dataflow.commands"


def _error(message: str, code: int = 2) -> int:
    print(f"dataflow: error: {message}", file=sys.stderr)
    return code


def cmd_nodes(args: argparse.Namespace) -> int:
    """List every registered node type with its ports and params."""
    types = registry.node_types()
    names = [args.type] if args.type else sorted(types)
    for name in names:
        try:
            cls = registry.resolve(name)
        except DataflowError as exc:
            return _error(str(exc))
        doc = (cls.__doc__ or "").strip().splitlines()
        print(f"{name}  ({types.get(name, name)})")
        if doc:
            print(f"    {doc[0]}")
        for p in cls.inputs:
            opt = ", optional" if p.optional else ""
            print(f"    in   {p.name}: {p.type}{opt}" + (f"  - {p.doc}" if p.doc else ""))
        for p in cls.outputs:
            print(f"    out  {p.name}: {p.type}" + (f"  - {p.doc}" if p.doc else ""))
        for p in cls.params:
            default = "required" if p.required else f"default {p.default!r}"
            bounds = ""
            if p.choices:
                bounds = f", one of {'|'.join(map(str, p.choices))}"
            elif p.min is not None or p.max is not None:
                bounds = f", range [{p.min if p.min is not None else ''}, {p.max if p.max is not None else ''}]"
            print(f"    param {p.name}: {p.type_name()} ({default}{bounds})" + (f"  - {p.doc}" if p.doc else ""))
        print()
    return 0


def cmd_graphs(args: argparse.Namespace) -> int:
    """List the graphs that run by name, with where they are and what they do."""
    for name, path in library.builtin_graphs().items():
        print(f"{name:14s} {library.description(path)}")
        print(f"{'':14s} {path}")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    """Run a graph once per input (on Ray, or here one after another); one JSON line per finished input."""
    from .batch import batch, format_report

    results = Path(args.results)
    report = batch(
        args.graph, args.inputs, results, args.set, args.workers, args.ray, args.param, progress=not args.quiet
    )
    print(format_report(report, results), file=sys.stderr)
    return report.exit_code


def cmd_validate(args: argparse.Namespace) -> int:
    graph = load_graph(args.graph, args.set)
    print(f"{args.graph}: ok ({len(graph.nodes)} nodes, {len(graph.edges)} edges; order: {' -> '.join(graph.order)})")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    graph = load_graph(args.graph, args.set)
    sys.stdout.write(graph.render(args.format))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    graph = load_graph(args.graph, args.set)
    runtime = Runtime(graph)
    try:
        runtime.setup()
    except DataflowError:
        raise
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        return _error(f"setup failed: {type(exc).__name__}: {exc}", 1)
    report = None
    if args.stats_every:

        def report(rows: list[dict[str, Any]], wall: float) -> None:
            cpu = runtime.process_cpu_s()
            print(format_table(rows, wall, cpu), file=sys.stderr, flush=True)
            try:
                _write_json(args.stats_json, stats_document(rows, wall, running=True, process_cpu_s=cpu))
            except DataflowError as exc:
                print(f"dataflow: {exc.message}", file=sys.stderr)

    result = runtime.run(report_every=args.stats_every, report=report)
    if not args.quiet:
        print(format_table(result.stats, result.wall_s, result.process_cpu_s), file=sys.stderr)
    _write_json(args.stats_json, result.stats_json())
    _write_json(args.summary_json, result.summary)
    if result.failure is not None:
        if args.verbose:
            print(result.failure.traceback, file=sys.stderr, end="")
        hint = "" if args.verbose else " (run with --verbose for the traceback)"
        is_user = isinstance(result.failure.error, DataflowError)
        return _error(result.failure.line() + ("" if is_user else hint), result.exit_code)
    if result.stopped_by:
        print(f"dataflow: stopped by {result.stopped_by}", file=sys.stderr)
    return result.exit_code


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
    return value


def _write_json(path: str | None, data: Any) -> None:
    if not path:
        return
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader polling a live run's file never sees half of it.
        partial = target.with_name(target.name + ".partial")
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        partial.replace(target)
    except OSError as exc:
        raise DataflowError(f"cannot write {path}: {exc.strerror}") from None


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable[[argparse.Namespace], int]]]:
    parser = argparse.ArgumentParser(prog="dataflow", description="Run YAML dataflow graphs of typed nodes.")
    parser.add_argument("--version", action="version", version=f"dataflow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {}

    p = sub.add_parser("nodes", help="list node types with their ports and params")
    p.add_argument("type", nargs="?", help="show only this node type")
    handlers["nodes"] = cmd_nodes
    sub.add_parser("graphs", help="list the graphs that run by name (dataflow run reps)")
    handlers["graphs"] = cmd_graphs

    for name, helptext, fn in (
        ("validate", "check a graph without running it", cmd_validate),
        ("graph", "draw a graph as mermaid or dot", cmd_graph),
        ("run", "run a graph", cmd_run),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("graph", help="graph YAML file, or a graph's name (see: dataflow graphs)")
        p.add_argument(
            "--set", action="append", default=[], metavar="NAME=VALUE", help="override a graph param or node.param"
        )
        handlers[name] = fn
        if name == "graph":
            p.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
        if name == "run":
            p.add_argument("--stats-json", metavar="PATH", help="write per-node stats as JSON")
            p.add_argument(
                "--stats-every",
                type=_positive_seconds,
                metavar="SECONDS",
                help="print the stats table this often while running (and rewrite --stats-json)",
            )
            p.add_argument("--summary-json", metavar="PATH", help="write what the sinks report as JSON")
            p.add_argument("--verbose", "-v", action="store_true", help="tracebacks and debug logging")
            p.add_argument("--quiet", "-q", action="store_true", help="no stats table")

    p = sub.add_parser("batch", help="run a graph once per input, several at once (Ray: this machine or a cluster)")
    p.add_argument("graph", help="graph YAML file, or a graph's name")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, globs, folders, camera indexes or stream URLs")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override for every run")
    p.add_argument("--param", default="input", help="the graph param each input is given to (default: input)")
    p.add_argument("--results", default="results.jsonl", help="JSON lines, appended; rerun to resume")
    p.add_argument(
        "--workers", type=int, default=0,
        help="runs at once on this machine, on Ray (default: its cores over the cores one run keeps busy)",
    )  # fmt: skip
    p.add_argument("--ray", metavar="ADDRESS", help="join a Ray cluster: auto, ray://host:port or host:port")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    handlers["batch"] = cmd_batch

    for ep in entry_points(group=COMMAND_GROUP):
        register = ep.load()
        handlers[ep.name] = register(sub)
    return parser, handlers


def main(argv: list[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING, format="%(message)s"
    )
    try:
        return handlers[args.command](args)
    except DataflowError as exc:
        return _error(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    sys.exit(main())
