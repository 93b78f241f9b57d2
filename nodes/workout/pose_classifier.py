"""The fitted pose classifier: per frame, how likely each workout's two extreme poses are.

Parameters come from recognizer.json (written by ``fit_recognizer``); inference is numpy.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import movement

MODEL_PATH = Path(__file__).with_name("recognizer.json")


class PoseClassifier:
    """An ensemble of ReLU MLPs over ``movement.frame_features``; ``probabilities`` gives
    (T, workouts, 2): the chance each frame is each workout's rest or far pose."""

    def __init__(self, model: dict) -> None:
        if model.get("features") != movement.FEATURES:
            raise ValueError(f"recognizer model has {model.get('features')} features, code has {movement.FEATURES}")
        self.workouts: tuple[str, ...] = tuple(model["workouts"])
        self.real_data = frozenset(model.get("real_data", ()))
        self.mean = np.asarray(model["mean"], np.float32)
        self.scale = 1.0 / np.asarray(model["std"], np.float32)
        self.members = [
            ([np.asarray(w, np.float32) for w in m["weights"]], [np.asarray(b, np.float32) for b in m["biases"]])
            for m in model["members"]
        ]

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = np.nan_to_num((features.astype(np.float32) - self.mean) * self.scale)  # unknown feature = average
        total = np.zeros((len(z), 2 * len(self.workouts)), np.float32)
        for weights, biases in self.members:
            h = z
            for w, b in zip(weights[:-1], biases[:-1], strict=True):
                h = np.maximum(h @ w + b, 0.0)
            logits = h @ weights[-1] + biases[-1]
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            total += e / e.sum(axis=1, keepdims=True)
        return (total / len(self.members)).reshape(len(z), len(self.workouts), 2)


@lru_cache(maxsize=4)
def load(path: str | None = None) -> PoseClassifier:
    """The shipped classifier (or one at ``path``), read once per process."""
    with open(path or MODEL_PATH, encoding="utf-8") as f:
        return PoseClassifier(json.load(f))
