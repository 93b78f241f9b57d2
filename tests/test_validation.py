"""Every kind of bad graph gets one line naming file:line, node and port, and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dataflow.cli import main

GOOD = """\
params:
  count: 3
nodes:
  src:
    type: counter
    params: {count: "${count}"}
  double:
    type: scale
    inputs: {value: src.value}
    params: {factor: 2}
  sink:
    type: discard
    inputs: {value: double.value}
"""

CASES = {
    "unknown node type": (
        GOOD.replace("type: scale", "type: scael"),
        [],
        ["g.yaml:8", "unknown node type 'scael'", "did you mean 'scale'"],
    ),
    "unknown input port": (
        GOOD.replace("inputs: {value: src.value}", "inputs: {valeu: src.value}"),
        [],
        ["g.yaml:9", "node 'double'", "no input port 'valeu'", "did you mean 'value'"],
    ),
    "unknown output port": (
        GOOD.replace("inputs: {value: src.value}", "inputs: {value: src.valu}"),
        [],
        ["g.yaml:9", "node 'double'", "no output port 'valu'", "did you mean 'value'"],
    ),
    "unknown param": (
        GOOD.replace("params: {factor: 2}", "params: {factr: 2}"),
        [],
        ["g.yaml:10", "node 'double'", "unknown param 'factr'", "did you mean 'factor'"],
    ),
    "missing required param": (
        GOOD + "  knees:\n    type: testnodes:NeedsKnees\n    inputs: {keypoints: pose.keypoints}\n"
        "  frames:\n    type: testnodes:Frames\n  pose:\n    type: testnodes:Pose\n"
        "    inputs: {frame: frames.frame}\n    params: {schema: full}\n",
        [],
        ["g.yaml:14", "node 'knees'", "missing required param 'threshold'"],
    ),
    "param of wrong type": (
        GOOD.replace("params: {factor: 2}", "params: {factor: two}"),
        [],
        ["g.yaml:10", "node 'double'", "param 'factor'", "expected float", "'two'"],
    ),
    "param out of range": (
        GOOD.replace('params: {count: "${count}"}', "params: {count: -1}"),
        [],
        ["g.yaml:6", "node 'src'", "param 'count'", "must be >= 0"],
    ),
    "duplicate node name": (
        GOOD + "  double:\n    type: scale\n    inputs: {value: src.value}\n",
        [],
        ["g.yaml:14", "duplicate key 'double'", "first at", "g.yaml:7"],
    ),
    "input wired to unknown node": (
        GOOD.replace("inputs: {value: double.value}", "inputs: {value: doubel.value}"),
        [],
        ["g.yaml:13", "node 'sink'", "unknown node 'doubel'", "did you mean 'double'"],
    ),
    "required input not wired": (
        GOOD.replace("    inputs: {value: double.value}\n", ""),
        [],
        ["g.yaml:11", "node 'sink'", "input 'value' is not wired"],
    ),
    "incompatible types": (
        "nodes:\n  f:\n    type: testnodes:Frames\n  s:\n    type: scale\n    inputs: {value: f.frame}\n",
        [],
        ["g.yaml:6", "node 's' input 'value'", "type frame cannot feed scalar"],
    ),
    "missing joints": (
        "nodes:\n  f:\n    type: testnodes:Frames\n  pose:\n    type: testnodes:Pose\n"
        "    inputs: {frame: f.frame}\n  knees:\n    type: testnodes:NeedsKnees\n"
        "    inputs: {keypoints: pose.keypoints}\n    params: {threshold: 1}\n",
        [],
        ["g.yaml:9", "node 'knees'", "needs left_knee, right_knee", "tiny gives joints: nose"],
    ),
    "unmarked cycle": (
        "nodes:\n  src:\n    type: counter\n  a:\n    type: add\n    inputs: {a: src.value, b: b.value}\n"
        "  b:\n    type: scale\n    inputs: {value: a.value}\n",
        [],
        ["g.yaml:", "cycle", "a -> b -> a", "not marked as feedback"],
    ),
    "set on unknown graph param": (GOOD, ["cuont=3"], ["--set cuont", "no graph param named 'cuont'", "'count'"]),
    "set on unknown node": (GOOD, ["dobule.factor=3"], ["--set dobule.factor", "no node named 'dobule'", "'double'"]),
    "set on unknown node param": (GOOD, ["double.fator=3"], ["--set double.fator", "param 'fator'", "'factor'"]),
    "set with wrong type": (GOOD, ["count=many"], ["--set count", "graph param 'count'", "expected int"]),
    "set without equals": (GOOD, ["count"], ["--set expects name=value"]),
    "unknown graph key": ("nodez: {}\n", [], ["g.yaml:1", "unknown graph key 'nodez'", "did you mean 'nodes'"]),
    "not yaml": ("nodes: [a, b\n", [], ["g.yaml:", "not valid YAML"]),
    "yaml but not a mapping": ("- a\n- b\n", [], ["g.yaml", "must be a YAML mapping"]),
    "unknown ${param}": (
        GOOD.replace('"${count}"', '"${cout}"'),
        [],
        ["g.yaml:6", "unknown graph param '${cout}'", "did you mean 'count'"],
    ),
    "bad feedback mode": (
        GOOD.replace("inputs: {value: src.value}", "inputs: {value: {from: src.value, feedback: sometimes}}"),
        [],
        ["g.yaml:9", "feedback must be latest, previous or streams"],
    ),
    "custom class not a node": (
        GOOD.replace("type: scale", "type: os:getcwd"),
        [],
        ["g.yaml:8", "'os:getcwd' is not a dataflow Node class"],
    ),
    "custom module missing": (
        GOOD.replace("type: scale", "type: nosuchmodule:Thing"),
        [],
        ["g.yaml:8", "cannot import module 'nosuchmodule'"],
    ),
}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_graph_is_one_line_exit_2(case: str, graph_file, capsys) -> None:
    text, sets, expected = CASES[case]
    path = graph_file(text)
    args = ["validate", str(path)]
    for s in sets:
        args += ["--set", s]
    code, err = run_cli(args, capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for part in expected:
        assert part in lines[0], (part, lines[0])
    assert "Traceback" not in err


def test_good_graph_validates(graph_file, capsys) -> None:
    code, _ = run_cli(["validate", str(graph_file(GOOD))], capsys)
    assert code == 0


def test_missing_file(tmp_path: Path, capsys) -> None:
    code, err = run_cli(["validate", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and "nope.yaml: file not found" in err


def test_unreadable_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    code, err = run_cli(["validate", str(path)], capsys)
    assert code == 2 and "bin.yaml" in err and len(err.strip().splitlines()) == 1


def test_directory_instead_of_file(tmp_path: Path, capsys) -> None:
    code, err = run_cli(["validate", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in err


def test_include_loop(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.yaml").write_text("include: b.yaml\nnodes: {}\n")
    (tmp_path / "b.yaml").write_text("include: [a.yaml]\nnodes: {}\n")
    code, err = run_cli(["validate", str(tmp_path / "a.yaml")], capsys)
    assert code == 2
    assert "include loop" in err and "a.yaml -> " in err and "b.yaml" in err and "b.yaml:1" in err


def test_include_missing(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.yaml").write_text("params: {x: 1}\ninclude: gone.yaml\n")
    code, err = run_cli(["validate", str(tmp_path / "a.yaml")], capsys)
    assert code == 2 and "a.yaml:2" in err and "include file not found: gone.yaml" in err


def test_previous_loop_with_dropping_queue_is_refused(graph_file, capsys) -> None:
    text = (
        "nodes:\n  src:\n    type: counter\n  a:\n    type: add\n"
        "    inputs:\n      a: src.value\n      b: {from: b.value, feedback: previous}\n"
        "  b:\n    type: scale\n    inputs: {value: {from: a.value, policy: drop_oldest}}\n"
    )
    code, err = run_cli(["validate", str(graph_file(text))], capsys)
    assert code == 2 and "g.yaml:11" in err and "drops packets inside the 'previous' feedback loop" in err


def test_real_process_prints_no_traceback(graph_file, subprocess_env) -> None:
    path = graph_file(GOOD.replace("type: scale", "type: scael"))
    proc = subprocess.run(
        [sys.executable, "-m", "dataflow", "run", str(path)], capture_output=True, text=True, env=subprocess_env
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "unknown node type 'scael'" in proc.stderr


def test_param_reference_loop_is_refused(graph_file, capsys) -> None:
    text = (
        "nodes:\n  src: {type: counter}\n"
        "  a: {type: scale, inputs: {value: src.value}, params: {factor: '${b.factor}'}}\n"
        "  b: {type: scale, inputs: {value: a.value}, params: {factor: '${a.factor}'}}\n"
    )
    code, err = run_cli(["validate", str(graph_file(text))], capsys)
    assert code == 2 and "param references loop: a.factor -> b.factor -> a.factor" in err


def test_lag_needs_feedback(graph_file, capsys) -> None:
    text = (
        "nodes:\n  src: {type: counter}\n  a:\n    type: add\n"
        "    inputs: {a: src.value, b: {from: src.value, lag: 2}}\n"
    )
    code, err = run_cli(["validate", str(graph_file(text))], capsys)
    assert code == 2 and "g.yaml:5" in err and "lag needs feedback (previous or latest)" in err


def test_batch_is_for_a_node_with_one_ordinary_input(graph_file, capsys) -> None:
    text = (
        "nodes:\n  src: {type: counter}\n  a:\n    type: add\n"
        "    inputs: {a: {from: src.value, batch: 4}, b: src.value}\n"
    )
    code, err = run_cli(["validate", str(graph_file(text))], capsys)
    assert code == 2 and "node 'a' input 'a': batch needs a node with one wired input" in err
    text = (
        "nodes:\n  src: {type: counter}\n  a:\n    type: add\n"
        "    inputs: {a: src.value, b: {from: a.value, feedback: previous, batch: 4}}\n"
    )
    code, err = run_cli(["validate", str(graph_file(text))], capsys)
    assert code == 2 and "g.yaml:5" in err and "batch is for ordinary inputs" in err
