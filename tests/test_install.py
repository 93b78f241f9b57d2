"""The package installs as users install packages: a wheel carries the zoo manifest, the built-in
graphs and workouts and the recognizer, and the main job runs by name from an empty folder."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, SHARED


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("*.whl")
    return path


def test_the_wheel_carries_graphs_workouts_manifest_and_models_of_the_product(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nodes/pose/manifest.yaml" in names and "nodes/recognition/recognizer.json" in names
    assert "nodes/sinks/web_static/index.html" in names
    assert {"dataflow_graphs/reps.yaml", "dataflow_graphs/parts/workout_stages.yaml"} <= names
    assert "dataflow_graphs/workouts/squat.yaml" in names
    assert not any(n.endswith((".onnx", ".tflite", ".bin", ".mp4", ".npy")) for n in names)


def test_installed_wheel_runs_the_main_job_by_name_from_an_empty_folder(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    inner = next((venv / "lib").glob("python3*/site-packages"))
    # Dependencies come from this environment's site-packages (appended: the wheel's own files come first).
    (inner / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if (SHARED / "models").exists():
        env["DATAFLOW_MODELS"] = str(SHARED / "models")
    where = subprocess.run(
        [python, "-c", "import dataflow, dataflow_graphs; print(dataflow.__file__, dataflow_graphs.builtin_dir())"],
        cwd=empty, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert str(ROOT) not in where and str(venv) in where
    listed = subprocess.run([venv / "bin" / "dataflow", "graphs"], cwd=empty, env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and "reps" in listed.stdout
    run = subprocess.run(
        [venv / "bin" / "dataflow", "run", "reps", "-q", "--set", "exercise=squat", "--set", "source.reps=2",
         "--summary-json", "s.json"],
        cwd=empty, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((empty / "s.json").read_text())
    assert summary["exercise"] == "squat" and summary["reps"] == 2
    assert (empty / "out" / "reps.jsonl").exists()
