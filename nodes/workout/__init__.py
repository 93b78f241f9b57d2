"""Deprecated: the workout modules moved into packages of their own (``nodes.counting``,
``nodes.signal``, ``nodes.recognition``, ``nodes.athlete``, ``nodes.sinks``, ``nodes.recording``,
``nodes.pose.body``).

``nodes.workout.MODULE`` still imports, for one release, as the very module at its new path (so a
graph's ``module:Class`` names the same class), with a ``DeprecationWarning`` naming that path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED = {
    "body": "nodes.pose.body",
    **{m: f"nodes.counting.{m}" for m in ("calibration", "counter", "expr", "fsm", "metrics", "reps", "spec")},
    **{m: f"nodes.signal.{m}" for m in ("energy", "filters", "kernels", "reference")},
    **{
        m: f"nodes.recognition.{m}"
        for m in ("fit_recognizer", "movement", "pose_classifier", "recognition", "recognize")
    },
    **{m: f"nodes.athlete.{m}" for m in ("athlete", "motion", "session_plan", "synthetic")},
    **{m: f"nodes.sinks.{m}" for m in ("sinks", "video_sinks", "web")},
    **{m: f"nodes.recording.{m}" for m in ("pose_arrays", "recording")},
}


class _MovedLoader(importlib.abc.Loader):
    """Hands out the module at its new path instead of a second copy of it."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.own_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        old = spec.name
        warnings.warn(f"{old} is deprecated: import {self.target}", DeprecationWarning, stacklevel=2)
        module = importlib.import_module(self.target)
        self.own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The module ran when it was imported at its new path; importlib has just stamped the old
        # name's spec on it, so give it back its own.
        module.__spec__ = self.own_spec


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        prefix, _, leaf = fullname.rpartition(".")
        if prefix != __name__ or leaf not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _MovedLoader(MOVED[leaf]))


if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedFinder())


def __getattr__(name: str) -> ModuleType:
    # ``from nodes.workout import spec`` asks the package for the attribute before importing it.
    if name in MOVED:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
