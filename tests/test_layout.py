"""The tree's layout: every node type keeps its ports and params across moves, and the old
``nodes.workout`` import paths still work for one release, with a warning naming the new path."""

from __future__ import annotations

import importlib
import re
import sys
import warnings

import pytest
from conftest import ROOT

from dataflow.cli import main
from dataflow.registry import load_class

# `dataflow nodes` as it printed before nodes/workout/ was split, less each type's module:Class.
LISTING = ROOT / "tests" / "data" / "node_listing.txt"


def test_dataflow_nodes_lists_the_same_types_ports_and_params(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nodes"]) == 0
    now = re.sub(r"^([a-z_]+)  \(.*\)$", r"\1", capsys.readouterr().out, flags=re.M)
    assert now.splitlines() == LISTING.read_text().splitlines()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("nodes.workout.filters:OneEuroFilter", "nodes.signal.filters"),
        ("nodes.workout.reps:RepCounter", "nodes.counting.reps"),
        ("nodes.workout.recognize:ExerciseRecognizer", "nodes.recognition.recognize"),
        ("nodes.workout.athlete:SyntheticAthlete", "nodes.athlete.athlete"),
        ("nodes.workout.web:LiveView", "nodes.sinks.web"),
        ("nodes.workout.recording:KeypointsReplay", "nodes.recording.recording"),
    ],
)
def test_an_old_module_class_path_names_the_same_class_with_a_deprecation_warning(old: str, new: str) -> None:
    module_name, _, attr = old.partition(":")
    sys.modules.pop(module_name, None)  # an earlier test may have imported it already
    with pytest.warns(DeprecationWarning, match=re.escape(f"import {new}")):
        cls = load_class(old)
    assert cls is getattr(importlib.import_module(new), attr)
    assert importlib.import_module(new).__spec__.name == new


def test_the_new_paths_import_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for name in ("nodes.counting.reps", "nodes.recognition.recognize", "nodes.sinks.web", "nodes.pose.body"):
            importlib.import_module(name)


def test_an_unknown_old_module_is_still_an_import_error() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("nodes.workout.no_such_module")
