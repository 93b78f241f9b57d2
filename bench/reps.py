"""Main-job benchmark: graphs/reps.yaml fps next to graphs/pose.yaml on the same clip (same run,
alternating), per-frame cost of the filters, the rep state machine and the energy meter, and how
well the pose model tracks the synthetic athlete (presence, joint error vs the rendered truth).

Prints one JSON object as its last line.
The live view's cost: the main job's fps alone, with graphs/reps_live.yaml unwatched, with a
WebSocket reader process watching (the node's own cost) and with one headless Chromium watching on
the same machine (the node's and the browser's).

Run: DATAFLOW_MODELS=../shared/models python bench/reps.py [--clip PATH] [--rounds N] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataflow import Packet, load_graph  # noqa: E402
from dataflow.runtime import Runtime  # noqa: E402
from nodes.athlete.motion import Take, keypoints_sequence  # noqa: E402
from nodes.counting import spec  # noqa: E402
from nodes.counting.reps import RepCounter  # noqa: E402
from nodes.signal.energy import EnergyMeter  # noqa: E402
from nodes.signal.filters import ButterworthFilter, OneEuroFilter  # noqa: E402


def run_graph(name: str, sets: list[str]) -> dict:
    rt = Runtime(load_graph(ROOT / "graphs" / name, sets))
    rt.setup()
    result = rt.run(handle_signals=False)
    assert result.exit_code == 0, result.failure
    return result.summary


def per_frame_us(node_cls, params: dict, frames: list) -> float:
    node = node_cls("n", params)
    node.setup()
    inputs = [p.name for p in node_cls.inputs]
    t0 = time.perf_counter()
    for seq, (t, kp) in enumerate(frames):
        node.packet = Packet("s", seq, t, kp)
        node.process(**{inputs[0]: kp, **{p: None for p in inputs[1:]}})
    return (time.perf_counter() - t0) / len(frames) * 1e6


def athlete_tracking(exercise: str, reps: int = 3) -> dict:
    """Run the pose stages on the rendered athlete; compare with the rendered joint positions."""
    graph = f"""
nodes:
  source: {{type: athlete, params: {{exercise: {exercise}, reps: {reps}}}}}
  roi:
    type: pose_roi
    inputs: {{frame: source.frame, keypoints: {{from: decode.keypoints, feedback: previous}}}}
  crop: {{type: crop, inputs: {{frame: source.frame, roi: roi.roi}}}}
  pose: {{type: model, inputs: {{tensor: crop.tensor}}}}
  decode: {{type: decode, inputs: {{tensors: pose.tensors, crop: crop.crop}}}}
  pairs: {{type: 'benchnodes:PairSink', inputs: {{keypoints: decode.keypoints, truth: source.truth}}}}
"""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.yaml"
        path.write_text(graph)
        rt = Runtime(load_graph(path))
        rt.setup()
        rt.run(handle_signals=False)
        sink = rt.workers["pairs"].nodes()[0]
    found = [kp.presence >= 0.5 for kp, _ in sink.pairs]
    errors, swapped = [], []
    body = list(range(11, 33))  # shoulders to feet; the far side of a side view is scored too
    mirror = [i + 1 if i % 2 else i - 1 for i in body]  # left <-> right (odd = left in BlazePose)
    for kp, truth in sink.pairs:
        if kp.presence < 0.5:
            continue
        t = truth.xy
        torso = np.linalg.norm((t[11] + t[12]) / 2 - (t[23] + t[24]) / 2)
        direct = float(np.linalg.norm(kp.xy[body] - t[body], axis=1).mean() / torso)
        flipped = float(np.linalg.norm(kp.xy[mirror] - t[body], axis=1).mean() / torso)
        errors.append(direct)
        swapped.append(min(direct, flipped))
    return {
        "presence": round(float(np.mean(found)), 4),
        "joint_error_torso": round(float(np.mean(errors)), 4),
        "joint_error_torso_side_agnostic": round(float(np.mean(swapped)), 4),
    }


# A viewer that is not a browser: reads and discards every message, in a process of its own.
WS_READER = """
import asyncio, sys, aiohttp
async def main():
    async with aiohttp.ClientSession() as s, s.ws_connect(sys.argv[1]) as ws:
        async for _ in ws:
            pass
asyncio.run(main())
"""


def live_view_fps(clip: str, tmp: str, viewer: str | None) -> float:
    """graphs/reps_live.yaml on the clip with nobody watching (None), one headless Chromium
    (Debian's, through Selenium: "browser") or a WebSocket reader process ("reader") watching
    from the first frame to the last."""
    sets = [f"input={clip}", f"out={tmp}/l.jsonl", "exercise=squat", "web.port=0", "web.linger=0"]
    rt = Runtime(load_graph(ROOT / "graphs" / "reps_live.yaml", sets))
    rt.setup()
    view = rt.graph.nodes["web"].instance
    driver = reader = None
    if viewer == "browser":
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run",
                     f"--user-data-dir={tmp}/profile"):  # fmt: skip
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.get(view.url)
    elif viewer == "reader":
        reader = subprocess.Popen([sys.executable, "-c", WS_READER, f"{view.url}ws"])
    deadline = time.monotonic() + 20
    while viewer and view.viewers == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        result = rt.run(handle_signals=False)
    finally:
        if driver is not None:
            driver.quit()
        if reader is not None:
            reader.kill()
            reader.wait()
    assert result.exit_code == 0, result.failure
    return result.summary["fps"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", default=str(ROOT.parent / "shared" / "videos" / "squat-3.mp4"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-browser", action="store_true", help="skip the live view figures (needs Debian chromium)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    report: dict = {"cores": os.cpu_count()}
    pose_fps, reps_fps = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            pose_fps.append(run_graph("pose.yaml", [f"input={args.clip}", f"out={tmp}/k.jsonl"])["fps"])
            s = run_graph("reps.yaml", [f"input={args.clip}", f"out={tmp}/r.jsonl", "exercise=squat"])
            reps_fps.append(s["fps"])
            report["reps_counted"] = s["reps"]
        if not args.no_browser:
            # Same clip, alternating: the main job alone, with the live view unwatched, with one browser.
            live: dict[str, list[float]] = {"reps": [], "unwatched": [], "reader": [], "browser": []}
            for _ in range(args.rounds):
                live["reps"].append(run_graph("reps.yaml", [f"input={args.clip}", f"out={tmp}/r.jsonl"])["fps"])
                live["unwatched"].append(live_view_fps(args.clip, tmp, None))
                live["reader"].append(live_view_fps(args.clip, tmp, "reader"))
                live["browser"].append(live_view_fps(args.clip, tmp, "browser"))
            med = {k: float(np.median(v)) for k, v in live.items()}
            report["live_view"] = {
                "reps_fps": round(med["reps"], 2),
                "unwatched_fps": round(med["unwatched"], 2),
                "websocket_reader_fps": round(med["reader"], 2),
                "one_browser_fps": round(med["browser"], 2),
                "unwatched_drop": round(1 - med["unwatched"] / med["reps"], 3),
                "websocket_reader_drop": round(1 - med["reader"] / med["reps"], 3),
                "one_browser_drop": round(1 - med["browser"] / med["reps"], 3),
            }
    report["pose_fps"] = round(float(np.median(pose_fps)), 2)
    report["reps_fps"] = round(float(np.median(reps_fps)), 2)
    report["reps_vs_pose"] = round(report["reps_fps"] / report["pose_fps"], 3)
    frames = list(keypoints_sequence(Take("squat", reps=10), "blazepose33"))
    report["one_euro_us_per_frame_33"] = round(per_frame_us(OneEuroFilter, _defaults(OneEuroFilter), frames), 2)
    report["butterworth_us_per_frame_33"] = round(
        per_frame_us(ButterworthFilter, _defaults(ButterworthFilter), frames), 2
    )
    report["rep_counter_us_per_frame"] = round(per_frame_us(RepCounter, {"exercise": "squat"}, frames), 2)
    # The costliest workout bounds the counter: every shipped one on the same frames.
    costs = {w: per_frame_us(RepCounter, {"exercise": w}, frames) for w in spec.available()}
    slowest = max(costs, key=costs.__getitem__)
    report["rep_counter_us_per_frame_slowest"] = {"exercise": slowest, "us": round(costs[slowest], 2)}
    report["counter_plus_filter_ms_slowest"] = round((costs[slowest] + report["one_euro_us_per_frame_33"]) / 1e3, 4)
    report["energy_us_per_frame"] = round(per_frame_us(EnergyMeter, _defaults(EnergyMeter), frames), 2)
    for exercise in ("squat", "push-up", "jumping-jack", "bicep-curl"):
        report[f"athlete_{exercise}"] = athlete_tracking(exercise)
    print(json.dumps(report))


def _defaults(cls) -> dict:
    return {p.name: p.default for p in cls.params}


if __name__ == "__main__":
    main()
