"""dataflow: a streaming dataflow graph engine.

Nodes declare typed ports and params and do their work in ``process``; the engine
checks the graph, sorts it, and runs every node as a pipelined worker thread.
"""

from .channels import EMPTY, EOS, Packet
from .errors import DataflowError, GraphError, UserError
from .graph import Graph, load_graph
from .node import In, Node, Out, Output, Sample
from .params import REQUIRED, Param
from .runtime import RunResult, Runtime
from .session import Result, Session
from .session import open as open  # dataflow.open; not in __all__, so `import *` keeps the builtin
from .types import ANY, EVENT, FRAME, KEYPOINTS, RECORD, ROI, SCALAR, TENSOR, TENSORS, KeypointsType, PortType

__all__ = [
    "ANY",
    "EMPTY",
    "EOS",
    "EVENT",
    "FRAME",
    "KEYPOINTS",
    "RECORD",
    "REQUIRED",
    "ROI",
    "SCALAR",
    "TENSOR",
    "TENSORS",
    "DataflowError",
    "Graph",
    "GraphError",
    "In",
    "KeypointsType",
    "Node",
    "Out",
    "Output",
    "Packet",
    "Param",
    "PortType",
    "Result",
    "RunResult",
    "Runtime",
    "Sample",
    "Session",
    "UserError",
    "load_graph",
    "run",
]

__version__ = "0.1.0"


def run(path: str, overrides: list[str] | None = None, handle_signals: bool = False) -> RunResult:
    """Load, check, set up and run a graph file; the Python equivalent of ``dataflow run``."""
    graph = load_graph(path, overrides)
    runtime = Runtime(graph)
    runtime.setup()
    return runtime.run(handle_signals=handle_signals)
