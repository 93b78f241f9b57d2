"""Filter kernels against the paper's equations and scipy; the expression language."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import butter, sosfilt, sosfilt_zi

from dataflow import Packet
from nodes.counting.expr import ExprError, parse
from nodes.pose.keypoints import Keypoints
from nodes.signal.filters import ButterworthFilter, OneEuroFilter
from nodes.signal.kernels import one_euro_step, sos_step
from nodes.signal.reference import OneEuroReference

RNG = np.random.default_rng(3)


def test_one_euro_matches_the_paper_with_real_timestamps() -> None:
    n, frames = 5, 200
    times = np.cumsum(RNG.uniform(0.02, 0.05, frames))  # jittery frame rate
    signal = np.cumsum(RNG.normal(0, 3, (frames, n, 2)), axis=0) + RNG.normal(0, 1, (frames, n, 2))
    refs = [[OneEuroReference(1.0, 0.05, 1.0) for _ in range(2)] for _ in range(n)]
    state = (np.zeros((n, 2)), np.zeros((n, 2)), np.full(n, np.nan))
    conf = np.ones(n)
    for f in range(frames):
        got = one_euro_step(signal[f], conf, 0.5, float(times[f]), 1.0, 1.0, 0.05, 1.0, 10.0, *state)
        want = [[refs[j][k](signal[f, j, k], times[f]) for k in range(2)] for j in range(n)]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_one_euro_holds_unseen_joints_and_restarts_after_a_gap() -> None:
    state = (np.zeros((1, 2)), np.zeros((1, 2)), np.full(1, np.nan))
    seen, unseen = np.array([0.9]), np.array([0.1])
    a = one_euro_step(np.array([[10.0, 10.0]]), seen, 0.5, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5, *state)
    b = one_euro_step(np.array([[99.0, 99.0]]), unseen, 0.5, 0.1, 1.0, 1.0, 0.0, 1.0, 0.5, *state)
    np.testing.assert_allclose(b, a)  # a dropped joint does not drag the output
    c = one_euro_step(np.array([[50.0, 50.0]]), seen, 0.5, 2.0, 1.0, 1.0, 0.0, 1.0, 0.5, *state)
    np.testing.assert_allclose(c, [[50.0, 50.0]])  # unseen for 2 s > 0.5 s: restart


def test_butterworth_streaming_equals_sosfilt() -> None:
    sos = butter(4, 3.0, fs=30.0, output="sos")
    # a recorded keypoint trajectory: three joints (x, y) of a noisy synthetic squat set
    from nodes.athlete.motion import Take, keypoints_sequence

    track = [kp.xy[[23, 25, 27]].ravel() for _, kp in keypoints_sequence(Take("squat", reps=3), "blazepose33")]
    x = np.array(track, dtype=np.float64)
    zi = sosfilt_zi(sos)[None, :, :] * x[0][:, None, None]
    want = np.column_stack([sosfilt(sos, x[:, c], zi=sosfilt_zi(sos) * x[0, c])[0] for c in range(6)])
    last = x[0].copy()
    got = np.array([sos_step(x[i], np.ones(6, np.bool_), sos, zi, last) for i in range(len(x))])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def make_kp(xy: np.ndarray, conf: np.ndarray) -> Keypoints:
    names = tuple(f"j{i}" for i in range(len(xy)))
    return Keypoints("test", names, xy.astype(np.float32), conf.astype(np.float32), 1.0, (640, 480))


@pytest.mark.parametrize("cls", [OneEuroFilter, ButterworthFilter])
def test_filter_nodes_smooth_jitter_and_keep_state_per_instance(cls) -> None:
    node = cls("f", {p.name: p.default for p in cls.params})
    node.setup()
    truth = np.array([[100.0, 200.0], [300.0, 150.0]])
    raw_err, out_err = [], []
    for i in range(120):
        noisy = truth + RNG.normal(0, 4, truth.shape)
        kp = make_kp(noisy, np.array([0.9, 0.9]))
        node.packet = Packet("s", i, i / 30.0, kp)
        out = node.process(kp)["keypoints"]
        if i > 30:
            raw_err.append(np.abs(noisy - truth).mean())
            out_err.append(np.abs(out.xy - truth).mean())
    assert np.mean(out_err) < 0.6 * np.mean(raw_err)


def test_expressions_evaluate_safely() -> None:
    e = parse("knee < 100 and (depth + 1) * 2 > 3 or not flag", {"knee", "depth", "flag"})
    assert e({"knee": 90, "depth": 1, "flag": 1}) == 1.0
    assert e({"knee": 120, "depth": 1, "flag": 1}) == 0.0
    assert e({"knee": 120, "depth": 1, "flag": 0}) == 1.0
    assert parse("max(a, b) - abs(c)")({"a": 1, "b": 4, "c": -2}) == 2.0
    assert parse("a < 1")({"a": math.nan}) == 0.0  # unseen joints never satisfy a condition
    assert math.isnan(parse("a / 0")({"a": 1}))
    assert parse("90 < a <= 120")({"a": 100}) == 1.0


@pytest.mark.parametrize(
    "text", ["__import__('os').system('x')", "a.b", "lambda: 1", "[1, 2]", "'text'", "a if b else c", "f(1)", "a ="]
)
def test_expressions_reject_anything_but_the_grammar(text: str) -> None:
    with pytest.raises(ExprError):
        parse(text)
