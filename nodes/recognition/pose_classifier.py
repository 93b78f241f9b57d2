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
        self.mean = np.asarray(model["mean"], np.float32)
        self.scale = 1.0 / np.asarray(model["std"], np.float32)
        members = [
            ([np.asarray(w, np.float32) for w in m["weights"]], [np.asarray(b, np.float32) for b in m["biases"]])
            for m in model["members"]
        ]
        self.size = len(members)
        # The members side by side: one matrix product per layer for the whole ensemble
        # (the first layer's inputs are shared, later layers are block-diagonal).
        layers = len(members[0][0])
        self.weights = [np.concatenate([w[0] for w, _ in members], axis=1)]
        self.weights += [_block_diagonal([w[k] for w, _ in members]) for k in range(1, layers)]
        self.biases = [np.concatenate([b[k] for _, b in members]) for k in range(layers)]

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = np.nan_to_num((features.astype(np.float32) - self.mean) * self.scale)  # unknown feature = average
        h = z
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = np.maximum(h @ w + b, 0.0)
        logits = (h @ self.weights[-1] + self.biases[-1]).reshape(len(z), self.size, -1)
        e = np.exp(logits - logits.max(axis=2, keepdims=True))
        p = (e / e.sum(axis=2, keepdims=True)).mean(axis=1)
        return p.reshape(len(z), len(self.workouts), 2)


def _block_diagonal(blocks: list[np.ndarray]) -> np.ndarray:
    rows, cols = sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)
    out = np.zeros((rows, cols), np.float32)
    r = c = 0
    for b in blocks:
        out[r : r + b.shape[0], c : c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    return out


@lru_cache(maxsize=4)
def load(path: str | None = None) -> PoseClassifier:
    """The shipped classifier (or one at ``path``), read once per process."""
    with open(path or MODEL_PATH, encoding="utf-8") as f:
        return PoseClassifier(json.load(f))
