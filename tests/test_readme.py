"""The README's commands and tutorial are what the project really runs."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT

from dataflow.cli import main


def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    blocks = readme().split("```")
    commands = [b.strip() for b in blocks[1:5:2]]
    assert "dataflow run" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_tutorial_in_readme_is_the_file_that_runs(tmp_path: Path, capsys) -> None:
    tutorial = ROOT / "graphs" / "examples" / "tutorial"
    text = readme()
    assert (tutorial / "threshold.py").read_text() in text
    assert (tutorial / "threshold.yaml").read_text() in text
    out = tmp_path / "flags.jsonl"
    code = main(["run", str(tutorial / "threshold.yaml"), "--set", f"out={out}", "-q"])
    assert code == 0
    flags = [json.loads(line)["value"] for line in out.read_text().splitlines()]
    assert flags == [0.0] * 16 + [1.0] * 4


def test_every_shipped_graph_validates(capsys) -> None:
    graphs = sorted((ROOT / "graphs").glob("*.yaml")) + sorted((ROOT / "graphs" / "examples").rglob("*.yaml"))
    assert len(graphs) >= 10
    for g in graphs:
        assert main(["validate", str(g)]) == 0, g
    out = capsys.readouterr().out
    assert "reps.yaml: ok" in out and "pose.yaml: ok" in out


def test_readme_workout_example_is_a_valid_workout(tmp_path: Path) -> None:
    from nodes.counting import spec

    block = next(b for b in readme().split("```yaml\n")[1:] if b.startswith("exercise: squat"))
    path = tmp_path / "w.yaml"
    path.write_text(block.split("```")[0])
    workout = spec.load(str(path))
    assert workout.rep == ("up", "down", "up") and set(workout.metrics) == {"knee", "hips", "low"}
    from workout_helpers import count

    from nodes.athlete.motion import Take

    assert count(str(path), Take("squat", reps=4, amplitude=0.6, seed=9))[0] == 4
